"""The project routes of API.md (except dashboard/). Project-scoped views go through the tenant gate."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User

from . import selectors, services
from .models import Membership, Project
from .serializers import (
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    ProjectSerializer,
    ProjectWriteSerializer,
)
from .tenancy import ProjectScopedMixin


@extend_schema_view(
    get=extend_schema(
        tags=["projects"],
        summary="The caller's projects with their role in each (a superuser sees every project)",
    ),
)
class ProjectListCreateView(generics.ListAPIView):
    """Not project-scoped: it lists the caller's projects and creates new ones."""

    serializer_class = ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        return selectors.project_list(user=cast(User, self.request.user))

    @extend_schema(
        tags=["projects"],
        summary="Create a project; the caller becomes its admin",
        request=ProjectWriteSerializer,
        responses={201: ProjectSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = ProjectWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.project_create(created_by=cast(User, request.user), **serializer.validated_data)
        project = selectors.project_list(user=cast(User, request.user)).get(pk=project.pk)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectScopedMixin, generics.GenericAPIView):
    """The project itself, through the gate: its queryset is scoped to `pk = the URL's project`."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    project_lookup = "pk"
    lookup_field = "pk"
    lookup_url_kwarg = "project_id"

    def get_queryset(self) -> QuerySet[Project]:
        return selectors.project_annotate_for_user(super().get_queryset(), user=cast(User, self.request.user))

    @extend_schema(tags=["projects"], summary="A project", responses=ProjectSerializer)
    def get(self, request: Request, project_id: Any) -> Response:
        return Response(ProjectSerializer(self.get_object()).data)

    @extend_schema(
        tags=["projects"],
        summary="Rename or describe a project (admins)",
        request=ProjectWriteSerializer(partial=True),
        responses=ProjectSerializer,
    )
    def patch(self, request: Request, project_id: Any) -> Response:
        serializer = ProjectWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.project_update(project=self.project, **serializer.validated_data)
        return Response(ProjectSerializer(self.get_object()).data)

    @extend_schema(
        tags=["projects"],
        summary="Delete a project and everything it owns (admins)",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, project_id: Any) -> Response:
        services.project_delete(project=self.project)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(tags=["projects"], summary="The project's members and their roles"),
)
class MemberListCreateView(ProjectScopedMixin, generics.ListAPIView):
    queryset = Membership.objects.select_related("user").order_by("created_at", "pk")
    serializer_class = MembershipSerializer

    @extend_schema(
        tags=["projects"],
        summary="Add an existing user to the project by email (admins)",
        request=MembershipCreateSerializer,
        responses={201: MembershipSerializer},
    )
    def post(self, request: Request, project_id: Any) -> Response:
        serializer = MembershipCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_add(
            project=self.project,
            user=serializer.validated_data["email"],
            role=serializer.validated_data["role"],
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(ProjectScopedMixin, generics.GenericAPIView):
    queryset = Membership.objects.select_related("user", "project")
    serializer_class = MembershipSerializer
    lookup_field = "pk"
    lookup_url_kwarg = "member_id"

    @extend_schema(
        tags=["projects"],
        summary="Change a member's role (admins; the last admin cannot be demoted)",
        request=MembershipUpdateSerializer,
        responses=MembershipSerializer,
    )
    def patch(self, request: Request, project_id: Any, member_id: Any) -> Response:
        membership = self.get_object()
        serializer = MembershipUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            membership=membership, role=serializer.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(
        tags=["projects"],
        summary="Remove a member (admins; the last admin cannot be removed)",
        responses={204: OpenApiResponse(description="Removed.")},
    )
    def delete(self, request: Request, project_id: Any, member_id: Any) -> Response:
        services.membership_remove(membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
