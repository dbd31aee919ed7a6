from django.urls import path

from imports import views

app_name = "imports"

urlpatterns = [
    path("tracks/add-from-link/", views.add_from_link, name="add"),
    path("tracks/<uuid:track_id>/import/retry/", views.import_retry_view, name="retry"),
    path("tracks/<uuid:track_id>/import/cancel/", views.import_cancel_view, name="cancel"),
]
