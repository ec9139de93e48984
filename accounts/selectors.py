"""Reads about users."""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects

from projects.models import Membership

from .models import User


def user_email_taken(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def user_get_by_email(*, email: str) -> User | None:
    """The active user with this email (case-insensitive), or None."""
    return User.objects.filter(email__iexact=email.strip(), is_active=True).first()


def user_me(*, user: User) -> User:
    """The user, given `project_memberships`: their memberships with each project (one query)."""
    memberships = Membership.objects.select_related("project").order_by("project__name", "created_at")
    prefetch_related_objects(
        [user], Prefetch("memberships", queryset=memberships, to_attr="project_memberships")
    )
    return user
