from django.urls import path

from tracks import views

app_name = "tracks"

urlpatterns = [
    path("", views.library, name="library"),
    path("tracks/<uuid:track_id>/", views.detail, name="detail"),
    path("tracks/<uuid:track_id>/row/", views.row, name="row"),
    path("tracks/<uuid:track_id>/panel/", views.panel, name="panel"),
    path("tracks/<uuid:track_id>/rename/", views.rename, name="rename"),
    path("tracks/<uuid:track_id>/delete/", views.delete, name="delete"),
    path("tracks/<uuid:track_id>/audio/<slug:kind>/", views.audio, name="audio"),
    path("tracks/<uuid:track_id>/download/<slug:kind>/", views.download, name="download"),
    path("tracks/<uuid:track_id>/waveform/<slug:kind>.png", views.waveform, name="waveform"),
]
