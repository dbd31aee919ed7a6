from django.urls import path

from practice import views

app_name = "practice"

urlpatterns = [
    path("tracks/<uuid:track_id>/exports/", views.exports, name="exports"),
    path("tracks/<uuid:track_id>/exports/stems.zip", views.stems_zip, name="stems_zip"),
    path("tracks/<uuid:track_id>/exports/<int:render_id>/", views.status, name="status"),
    path(
        "tracks/<uuid:track_id>/exports/<int:render_id>/download/",
        views.download,
        name="download",
    ),
    path(
        "tracks/<uuid:track_id>/exports/<int:render_id>/delete/",
        views.delete,
        name="delete",
    ),
]
