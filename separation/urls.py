from django.urls import path

from separation import views

app_name = "separation"

urlpatterns = [
    path("tracks/upload/", views.upload, name="upload"),
    path("tracks/<uuid:track_id>/retry/", views.job_retry_view, name="retry"),
    path("tracks/<uuid:track_id>/cancel/", views.job_cancel_view, name="cancel"),
]
