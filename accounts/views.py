from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import throttling
from accounts.forms import LoginForm, SignUpForm
from accounts.mail import requester_of, site_url
from accounts.services import (
    SignUpLinkError,
    pending_sign_up_for_token,
    suspension_of_session,
    user_confirm_sign_up,
    user_sign_up,
)

CONSOLE_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"


def log_in(request: HttpRequest) -> HttpResponse:
    """Django's log-in page; a browser whose account was suspended while signed in is told
    so (a suspension ends its session at once, and its open pages say so too)."""
    suspension = suspension_of_session(request.session)
    return LoginView.as_view(
        authentication_form=LoginForm, extra_context={"suspension": suspension}
    )(request)


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("tracks:library")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user_sign_up(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            base_url=site_url(request),
            requester=requester_of(request),
        )
        return redirect("signup_sent")
    return render(request, "registration/signup.html", {"form": form})


@require_GET
def signup_sent(request):
    # Without EMAIL_HOST (the embedded mode) mail is printed where JamWithMe runs: say so,
    # or a first-time local user would wait for a message that never comes.
    destination = "console" if settings.EMAIL_BACKEND == CONSOLE_EMAIL_BACKEND else None
    return render(request, "registration/signup_sent.html", {"destination": destination})


@require_http_methods(["GET", "POST"])
def signup_confirm(request, token: str):
    """GET shows a button, POST creates the account: mail scanners that fetch every link
    in a message must not use up the one-time link."""
    if request.method == "GET":
        pending = pending_sign_up_for_token(token=token)
        if pending is None:
            return render(
                request,
                "registration/signup_link_invalid.html",
                {"problem": "This link has expired or has already been used."},
                status=404,
            )
        return render(request, "registration/signup_confirm.html", {"pending": pending})
    try:
        user = user_confirm_sign_up(token=token)
    except SignUpLinkError as error:
        return render(
            request, "registration/signup_link_invalid.html", {"problem": str(error)}, status=404
        )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, f"Welcome, {user.username}! Your account is ready.")
    return redirect("tracks:library")


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
