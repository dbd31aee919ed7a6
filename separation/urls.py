from django.urls import path

from separation import views

app_name = "separation"

urlpatterns = [
    path("tracks/upload/", views.upload, name="upload"),
    path("tracks/upload/direct/", views.direct_start, name="direct_start"),
    path("tracks/upload/direct/<uuid:upload_key>/sign/", views.direct_sign, name="direct_sign"),
    path(
        "tracks/upload/direct/<uuid:upload_key>/finish/",
        views.direct_finish,
        name="direct_finish",
    ),
    path("tracks/<uuid:track_id>/retry/", views.job_retry_view, name="retry"),
    path("tracks/<uuid:track_id>/cancel/", views.job_cancel_view, name="cancel"),
]
