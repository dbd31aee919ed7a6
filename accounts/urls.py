from django.contrib.auth.views import PasswordResetView
from django.urls import include, path

from accounts import views
from accounts.forms import LimitedPasswordResetForm

urlpatterns = [
    path("login/", views.log_in, name="login"),
    path(
        "password_reset/",
        PasswordResetView.as_view(form_class=LimitedPasswordResetForm),
        name="password_reset",
    ),
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("signup/confirm/<str:token>/", views.signup_confirm, name="signup_confirm"),
    path("", include("django.contrib.auth.urls")),
]
