"""Projects in the Django admin, for superusers.

Memberships are edited inline, but every change goes through `projects.services`, so that the
role groups (and with them guardian's permissions) follow, and the last admin stays.
GuardedModelAdmin adds the "Object permissions" page (guardian) to each project.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin
from rest_framework.exceptions import ValidationError as DRFValidationError

from accounts.models import User

from . import services, usage
from .models import Membership, Project, Role


class MembershipFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        roles = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if not form.instance._state.adding and "user" in form.changed_data:
                form.add_error("user", "Remove this member and add the other user instead.")
                continue
            roles.append(data["role"])
        is_existing = not self.instance._state.adding
        if (
            is_existing
            and Role.ADMIN not in roles
            and Membership.objects.filter(project=self.instance).exists()
        ):
            raise ValidationError("A project must keep at least one admin.", code="last_admin")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Every membership, to search and filter. Changes go through a project's page, whose inline
    calls the services; a removal here does too (role groups, the last-admin rule). Deleting is
    allowed so that deleting a project (which removes its memberships) stays possible."""

    list_display = ("user", "project", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("user", "project")
    search_fields = ("user__email", "user__full_name", "project__name")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        self._remove(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._remove(request, list(queryset.select_related("project", "user")))

    def _remove(self, request: HttpRequest, memberships: list[Membership]) -> None:
        for membership in memberships:
            try:
                services.membership_remove(membership=membership)
            except DRFValidationError:
                self.message_user(
                    request,
                    f"{membership.user} was kept: {membership.project} must keep at least one admin.",
                    level=messages.ERROR,
                )


@admin.register(Project)
class ProjectAdmin(GuardedModelAdmin):
    inlines = [MembershipInline]
    list_display = ("name", "member_count", "created_by", "created_at", "updated_at")
    list_select_related = ("created_by",)
    list_filter = ("created_at",)
    search_fields = ("name", "description", "memberships__user__email")
    readonly_fields = ("id", "created_by", "created_at", "updated_at")
    fields = ("id", "name", "description", "daily_token_quota", "created_by", "created_at", "updated_at")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return super().get_queryset(request).annotate(_member_count=Count("memberships", distinct=True))

    @admin.display(description="members", ordering="_member_count")
    def member_count(self, obj: Project) -> int:
        return obj._member_count  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        if change:
            services.project_update(project=obj, name=obj.name, description=obj.description)
            if "daily_token_quota" in form.changed_data:
                usage.project_quota_set(project=obj, daily_token_quota=obj.daily_token_quota)
            return
        obj.created_by = cast(User, request.user)
        obj.save()
        services.project_permissions_grant(project=obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        adds, changes, removes = [], [], []
        for f in formset.forms:
            data = getattr(f, "cleaned_data", None)
            if not data:
                continue
            if data.get("DELETE"):
                if not f.instance._state.adding:
                    removes.append(f.instance)
            elif f.instance._state.adding:
                adds.append((data["user"], data["role"]))
            elif "role" in f.changed_data:
                changes.append((f.instance, data["role"]))
        # Additions and promotions first, so that a valid hand-over never trips the last-admin rule.
        # The admin's change message reads these (formset.save() would have set them).
        formset.new_objects = [
            services.membership_add(project=form.instance, user=user, role=role) for user, role in adds
        ]
        formset.changed_objects = [
            (services.membership_change_role(membership=membership, role=role), ["role"])
            for membership, role in sorted(changes, key=lambda c: c[1] != Role.ADMIN)
        ]
        for membership in removes:
            services.membership_remove(membership=membership)
        formset.deleted_objects = removes

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        project = form.instance
        if not change and not Membership.objects.filter(project=project, role=Role.ADMIN).exists():
            # Like the API: a new project without an admin gets its creator as its admin.
            creator = cast(User, request.user)  # the admin site only lets staff users in
            existing = Membership.objects.filter(project=project, user=creator).first()
            if existing is not None:
                services.membership_change_role(membership=existing, role=Role.ADMIN)
            else:
                services.membership_add(project=project, user=creator, role=Role.ADMIN)

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        services.project_delete(project=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            services.project_delete(project=project)
