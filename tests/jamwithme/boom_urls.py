"""The site's own URLs plus one view that fails, to see the 500 page as a visitor would."""

from django.urls import path

from jamwithme.urls import urlpatterns as site


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), *site]
