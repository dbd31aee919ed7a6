from django.contrib.auth.models import User


def user_sign_up(*, username: str, email: str, password: str) -> User:
    return User.objects.create_user(username=username, email=email, password=password)
