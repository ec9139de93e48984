"""Writes about projects and memberships. Guardian permissions follow role groups."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from guardian.shortcuts import assign_perm
from rest_framework.exceptions import ValidationError

from accounts.models import User

from .models import Membership, Project, Role
from .roles import ROLE_PERMISSIONS


def _role_group(*, project: Project, role: str) -> Group:
    group, _ = Group.objects.get_or_create(name=project.role_group_name(role))
    return group


@transaction.atomic
def project_create(*, name: str, created_by: User, description: str = "") -> Project:
    """A new project, with its role groups and permissions, and its creator as its admin."""
    project = Project.objects.create(name=name, description=description, created_by=created_by)
    project_permissions_grant(project=project)
    membership_add(project=project, user=created_by, role=Role.ADMIN)
    return project


@transaction.atomic
def project_permissions_grant(*, project: Project) -> None:
    """Give the project's role groups their guardian permissions on it. Idempotent.

    `project_create` calls it; so does the Django admin, which saves the Project row itself.
    """
    for role, perms in ROLE_PERMISSIONS.items():
        group = _role_group(project=project, role=role)
        for perm in perms:
            assign_perm(f"projects.{perm}", group, project)


@transaction.atomic
def project_update(*, project: Project, name: str | None = None, description: str | None = None) -> Project:
    fields = []
    if name is not None:
        project.name = name
        fields.append("name")
    if description is not None:
        project.description = description
        fields.append("description")
    if fields:
        project.save(update_fields=[*fields, "updated_at"])
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    Group.objects.filter(name__startswith=f"project:{project.pk}:").delete()
    project.delete()


def _sync_groups(*, membership: Membership) -> None:
    groups = [_role_group(project=membership.project, role=r) for r in Role]
    membership.user.groups.remove(*groups)
    membership.user.groups.add(_role_group(project=membership.project, role=membership.role))


def _ensure_admin_remains(*, project: Project, excluding: Membership) -> None:
    others = Membership.objects.filter(project=project, role=Role.ADMIN).exclude(pk=excluding.pk)
    if not others.select_for_update().exists():
        raise ValidationError({"role": ["A project must keep at least one admin."]}, code="last_admin")


def _lock_project(project_id: Any) -> None:
    """Membership changes of one project run one at a time: the last-admin rule and the
    one-membership-per-user rule then hold under concurrent requests."""
    list(Project.objects.select_for_update().filter(pk=project_id).values_list("pk"))


@transaction.atomic
def membership_add(*, project: Project, user: User, role: str) -> Membership:
    _lock_project(project.pk)
    if Membership.objects.filter(project=project, user=user).exists():
        raise ValidationError({"email": ["This user is already a member of the project."]}, code="unique")
    membership = Membership.objects.create(project=project, user=user, role=role)
    _sync_groups(membership=membership)
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    _lock_project(membership.project_id)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "project")
        .get(pk=membership.pk, project=membership.project)
    )
    if membership.role == Role.ADMIN and role != Role.ADMIN:
        _ensure_admin_remains(project=membership.project, excluding=membership)
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    _sync_groups(membership=membership)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _lock_project(membership.project_id)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "project")
        .get(pk=membership.pk, project=membership.project)
    )
    if membership.role == Role.ADMIN:
        _ensure_admin_remains(project=membership.project, excluding=membership)
    groups = [_role_group(project=membership.project, role=r) for r in Role]
    membership.user.groups.remove(*groups)
    membership.delete()
