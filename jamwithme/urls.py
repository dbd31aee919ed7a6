from django.contrib import admin
from django.urls import include, path

from jamwithme.health import health, live, ready
from jamwithme.metrics import metrics
from jamwithme.views import csp_report, home

urlpatterns = [
    path("", home, name="home"),  # before tracks' library at the same address
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("health/live", live, name="health-live"),
    path("health/ready", ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
    path("csp-report/", csp_report, name="csp_report"),
    path("accounts/", include("accounts.urls")),
    path("bands/", include("bands.urls")),
    path("", include("separation.urls")),
    path("", include("imports.urls")),
    path("", include("practice.urls")),
    path("", include("tracks.urls")),
]
