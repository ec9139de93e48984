"""Reads about projects, and the one selector the tenant gate resolves projects through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import get_objects_for_user
from rest_framework.exceptions import NotFound

from accounts.models import User

from .models import Membership, Project, Role


@dataclass(frozen=True)
class ProjectAccess:
    """A project as one user may see it: the membership is None for a superuser who is not a member."""

    project: Project
    membership: Membership | None
    role: str  # the member's role; "admin" for a superuser


def project_access_for_user(*, project_id: uuid.UUID | str, user: User | AnonymousUser) -> ProjectAccess:
    """The tenant gate's lookup. Not a member (or no such project) → NotFound (404)."""
    try:
        project_id = uuid.UUID(str(project_id))
    except ValueError:
        raise NotFound("No such project.") from None
    if not user.is_authenticated:
        raise NotFound("No such project.")
    membership = Membership.objects.select_related("project").filter(project_id=project_id, user=user).first()
    if membership is not None:
        return ProjectAccess(project=membership.project, membership=membership, role=membership.role)
    if user.is_superuser:
        project = Project.objects.filter(pk=project_id).first()
        if project is not None:
            return ProjectAccess(project=project, membership=None, role=Role.ADMIN)
    raise NotFound("No such project.")


def project_user_has_perm(*, user: User | AnonymousUser, project: Project, perm: str) -> bool:
    """The guardian permission check (user's and role groups' object permissions)."""
    if isinstance(user, AnonymousUser) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return ObjectPermissionChecker(user).has_perm(perm, project)


def project_annotate_for_user(qs: QuerySet[Project], *, user: User) -> QuerySet[Project]:
    """Each project with `my_role` (the user's role; "admin" for a superuser who is not a member)
    and `member_count`. Both are subqueries, so that they don't depend on the queryset's joins."""
    role: Any = Subquery(Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1])
    if user.is_superuser:
        role = Coalesce(role, Value(Role.ADMIN))
    member_count = Subquery(
        Membership.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return qs.annotate(my_role=role, member_count=Coalesce(member_count, Value(0)))


def project_list(*, user: User) -> QuerySet[Project]:
    """The projects a user may see (a superuser: all), each with the user's role and member count."""
    qs = Project.objects.all()
    if not user.is_superuser:
        qs = qs.filter(memberships__user=user)
    return project_annotate_for_user(qs, user=user).order_by("-created_at", "pk")


def unscoped_projects_with_perm(*, user: User, perm: str) -> QuerySet[Project]:
    """Guardian's view of the projects a user holds `perm` on (admin screens, audits).

    Not for hot list paths: `project_list` joins on membership and is faster.
    """
    return get_objects_for_user(user, f"projects.{perm}", klass=Project, accept_global_perms=False)


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("created_at")


def membership_get(*, project: Project, membership_id: uuid.UUID | str) -> Membership:
    membership = membership_list(project=project).filter(pk=membership_id).first()
    if membership is None:
        raise NotFound("No such member.")
    return membership


def user_projects_with_roles(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("project").order_by("created_at")
