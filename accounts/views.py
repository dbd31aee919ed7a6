from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import throttling
from accounts.forms import SignUpForm
from accounts.services import user_sign_up


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("tracks:library")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_sign_up(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("tracks:library")
    return render(request, "registration/signup.html", {"form": form})


def locked_out(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """django-axes' lockout response, for the site's login and the admin's. (Axes passes
    different arguments from its sync and async middleware; the request is all we need.)"""
    credentials = getattr(request, "axes_credentials", None) or {}
    username = credentials.get("username") or request.POST.get("username")
    minutes = throttling.lockout_minutes_left(
        username=username, ip_address=throttling.client_ip(request)
    )
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
