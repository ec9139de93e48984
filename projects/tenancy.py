"""The tenant gate. Every project-scoped view, REST or not, goes through it.

    class AgentViewSet(ProjectScopedMixin, viewsets.ModelViewSet):
        queryset = Agent.objects.all()            # scoped to the URL's project by the mixin
        project_permissions = {"create": MANAGE}   # optional; defaults below

- `project_id` in the URL is resolved once per request by `project_access_for_user`;
  a caller who is not a member (or a project that does not exist) gets 404.
- Reads need `view_project`; writes need `manage_project` (admins), unless
  `project_permissions` maps the view's action or HTTP method to another permission
  (`CONTRIBUTE` for members and up). Visible but not allowed → 403.
- `get_queryset()` filters on `project_lookup` (default `"project"`; `"pk"` for the Project
  itself; `"conversation__project"` through a parent). Subclasses narrow
  the queryset with `super().get_queryset().filter(...)`; they never replace it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request

from .models import Membership, Project
from .roles import CONTRIBUTE, MANAGE, VIEW
from .selectors import ProjectAccess, project_access_for_user, project_user_has_perm

__all__ = ["CONTRIBUTE", "MANAGE", "VIEW", "ProjectPermission", "ProjectScopedMixin"]

if TYPE_CHECKING:  # type the mixin as the DRF view it is mixed into
    from rest_framework.generics import GenericAPIView

    _ViewBase = GenericAPIView
else:
    _ViewBase = object


class ProjectPermission(BasePermission):
    """Membership (404 if absent) and then the guardian permission the action needs (403)."""

    message = "Your role in this project does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        access: ProjectAccess = view.project_access  # raises NotFound for non-members
        perm = view.required_project_permission()
        if perm == VIEW:
            return True  # every member (and a superuser) may read
        return project_user_has_perm(user=request.user, project=access.project, perm=perm)


class ProjectScopedMixin(_ViewBase):
    project_url_kwarg = "project_id"
    project_lookup = "project"
    project_permissions: dict[str, str] = {}
    permission_classes = [IsAuthenticated, ProjectPermission]

    @cached_property
    def project_access(self) -> ProjectAccess:
        return project_access_for_user(project_id=self.kwargs[self.project_url_kwarg], user=self.request.user)

    @property
    def project(self) -> Project:
        return self.project_access.project

    @property
    def membership(self) -> Membership | None:
        return self.project_access.membership

    @property
    def role(self) -> str:
        return self.project_access.role

    def required_project_permission(self) -> str:
        action = getattr(self, "action", None)
        method = self.request.method or "GET"
        for key in (action, method):
            if key and key in self.project_permissions:
                return self.project_permissions[key]
        return VIEW if method in SAFE_METHODS else MANAGE

    def get_queryset(self) -> QuerySet[Any]:
        qs = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema pass
            return qs.none()
        # By primary key, so that the lookup may also be "pk" (the project detail view itself).
        return qs.filter(**{self.project_lookup: self.project.pk})

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if self.kwargs.get(self.project_url_kwarg) and not getattr(self, "swagger_fake_view", False):
            context["project"] = self.project
        return context
