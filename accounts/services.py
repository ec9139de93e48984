"""Writes about users and their sessions."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError
from rest_framework_simplejwt.tokens import RefreshToken

from .models import User


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "") -> User:
    """A new, active, non-staff user. The password must already have passed the validators."""
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError:  # a concurrent registration of the same email
        raise ValidationError({"email": ["A user with this email already exists."]}, code="unique") from None


def user_logout(*, refresh: RefreshToken) -> None:
    """Revoke a refresh token: it can neither be refreshed nor used to log out again."""
    refresh.blacklist()
