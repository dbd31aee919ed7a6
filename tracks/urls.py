from django.urls import path

from tracks import views

app_name = "tracks"

urlpatterns = [
    path("", views.library, name="library"),
    path("shared/", views.shared, name="shared"),
    path("bands/<uuid:band_id>/tracks/", views.band_library, name="band_library"),
    path("tracks/share/", views.share_bulk, name="share_bulk"),
    path("tracks/<uuid:track_id>/share/", views.share, name="share"),
    path("tracks/<uuid:track_id>/links/", views.link_create, name="link_create"),
    path(
        "tracks/<uuid:track_id>/links/<int:link_id>/revoke/",
        views.link_revoke,
        name="link_revoke",
    ),
    path("tracks/<uuid:track_id>/report/", views.report, name="report"),
    path("tracks/<uuid:track_id>/", views.detail, name="detail"),
    path("tracks/<uuid:track_id>/row/", views.row, name="row"),
    path("tracks/<uuid:track_id>/panel/", views.panel, name="panel"),
    path("tracks/<uuid:track_id>/rename/", views.rename, name="rename"),
    path("tracks/<uuid:track_id>/delete/", views.delete, name="delete"),
    path("tracks/<uuid:track_id>/audio/<slug:kind>/", views.audio, name="audio"),
    path("tracks/<uuid:track_id>/download/<slug:kind>/", views.download, name="download"),
    path("tracks/<uuid:track_id>/waveform/<slug:kind>.png", views.waveform, name="waveform"),
    path("tracks/<uuid:track_id>/peaks/<slug:kind>.json", views.peaks, name="peaks"),
    path("listen/<str:token>/", views.link, name="link"),
    path("listen/<str:token>/audio/<slug:kind>/", views.link_audio, name="link_audio"),
    path("listen/<str:token>/download/<slug:kind>/", views.link_download, name="link_download"),
    path("listen/<str:token>/waveform/<slug:kind>.png", views.link_waveform, name="link_waveform"),
    path("listen/<str:token>/peaks/<slug:kind>.json", views.link_peaks, name="link_peaks"),
]
