"""The site's own pages. (404.html and 500.html are rendered by Django's own handlers;
500.html without a request, so that it needs nothing that may have failed.)"""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from tracks.views import library


@require_GET
def home(request):
    """`/`: a signed-in musician's library; for a visitor, what JamWithMe is, with the way
    in (sign up, log in)."""
    if request.user.is_authenticated:
        return library(request)
    return render(request, "jamwithme/home.html")
