"""HTTP for agents, tools, conversations, messages and events. Views only do HTTP."""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from projects.selectors import project_user_has_perm
from projects.tenancy import CONTRIBUTE, MANAGE, VIEW, ProjectScopedMixin
from projects.usage import quota_check

from . import selectors, services
from .models import Agent, Conversation
from .serializers import (
    AgentSerializer,
    AgentToolsSerializer,
    AgentToolsWriteSerializer,
    AgentWriteSerializer,
    CancelResultSerializer,
    ConversationCreateSerializer,
    ConversationSerializer,
    EventSchemaSerializer,
    EventSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    ToolSerializer,
)


def _user(request: Request) -> User:
    """The authenticated user (every view here requires authentication)."""
    return cast(User, request.user)


@extend_schema(tags=["tools"], responses=ToolSerializer(many=True))
class ToolListView(generics.ListAPIView):
    """The tool registry. Superusers change it through the Django admin."""

    permission_classes = [IsAuthenticated]
    serializer_class = ToolSerializer

    def get_queryset(self):
        return selectors.tool_list()


@extend_schema_view(
    list=extend_schema(tags=["agents"], responses=AgentSerializer(many=True)),
    retrieve=extend_schema(tags=["agents"], responses=AgentSerializer),
    create=extend_schema(tags=["agents"], request=AgentWriteSerializer, responses={201: AgentSerializer}),
    partial_update=extend_schema(
        tags=["agents"], request=AgentWriteSerializer(partial=True), responses=AgentSerializer
    ),
    destroy=extend_schema(tags=["agents"], responses={204: None}),
)
class AgentViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Agents: every member reads; admins write."""

    queryset = Agent.objects.all()
    serializer_class = AgentSerializer
    lookup_url_kwarg = "agent_id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().order_by("name")

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = AgentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = services.agent_create(project=self.project, created_by=_user(request), **data.validated_data)
        return Response(AgentSerializer(agent).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        agent = self.get_object()
        data = AgentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        agent = services.agent_update(agent=agent, **data.validated_data)
        return Response(AgentSerializer(agent).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.agent_delete(agent=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentToolsView(ProjectScopedMixin, APIView):
    """The tools one agent may call (its allow-list), with per-agent config. Admins only."""

    project_permissions = {"GET": MANAGE, "PUT": MANAGE}

    def _agent(self) -> Agent:
        return selectors.agent_get(project=self.project, agent_id=self.kwargs["agent_id"])

    @extend_schema(tags=["agents"], responses=AgentToolsSerializer)
    def get(self, request: Request, project_id, agent_id) -> Response:
        rows = selectors.agent_tool_list(agent=self._agent())
        return Response(AgentToolsSerializer({"tools": rows}).data)

    @extend_schema(tags=["agents"], request=AgentToolsWriteSerializer, responses=AgentToolsSerializer)
    def put(self, request: Request, project_id, agent_id) -> Response:
        agent = self._agent()
        data = AgentToolsWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.agent_tools_set(agent=agent, tools=data.validated_data["tools"])
        return Response(AgentToolsSerializer({"tools": selectors.agent_tool_list(agent=agent)}).data)


@extend_schema_view(
    list=extend_schema(tags=["conversations"], responses=ConversationSerializer(many=True)),
    retrieve=extend_schema(tags=["conversations"], responses=ConversationSerializer),
    create=extend_schema(
        tags=["conversations"], request=ConversationCreateSerializer, responses={201: ConversationSerializer}
    ),
    destroy=extend_schema(tags=["conversations"], responses={204: None}),
)
class ConversationViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Conversations: members create; the creator or an admin deletes."""

    queryset = Conversation.objects.select_related("agent")
    serializer_class = ConversationSerializer
    lookup_url_kwarg = "conversation_id"
    project_permissions = {"create": CONTRIBUTE, "destroy": CONTRIBUTE}

    def get_queryset(self):
        return super().get_queryset().order_by("-created_at")

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = ConversationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = selectors.agent_list(project=self.project).filter(pk=data.validated_data["agent_id"]).first()
        if agent is None:
            raise ValidationError({"agent_id": ["No such agent in this project."]})
        conversation = services.conversation_create(
            project=self.project, agent=agent, created_by=_user(request), title=data.validated_data["title"]
        )
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        conversation = self.get_object()
        if conversation.created_by_id != request.user.pk and not project_user_has_perm(
            user=request.user, project=self.project, perm=MANAGE
        ):
            raise PermissionDenied("Only its creator or an admin may delete a conversation.")
        services.conversation_delete(conversation=conversation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationChildMixin(ProjectScopedMixin):
    """Views below one conversation: the project gate, then the conversation in that project."""

    def conversation(self) -> Conversation:
        conversation = (
            selectors.conversation_list(project=self.project)
            .filter(pk=self.kwargs["conversation_id"])
            .first()
        )
        if conversation is None:
            raise NotFound("No such conversation.")
        return conversation


class MessageListView(ConversationChildMixin, generics.GenericAPIView):
    project_permissions = {"GET": VIEW, "POST": CONTRIBUTE}
    serializer_class = MessageSerializer

    @extend_schema(tags=["conversations"], responses=MessageSerializer(many=True))
    def get(self, request: Request, project_id, conversation_id) -> Response:
        page = self.paginate_queryset(selectors.message_list(conversation=self.conversation()))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(
        tags=["conversations"], request=MessageCreateSerializer, responses={202: MessageSerializer}
    )
    def post(self, request: Request, project_id, conversation_id) -> Response:
        conversation = self.conversation()
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quota_check(project=self.project)  # over the daily token quota: 429 with the reset time
        message = services.message_send(
            conversation=conversation,
            content=data.validated_data["content"],
            sender_user=_user(request),
            client_id=data.validated_data.get("client_id"),
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class EventListView(ConversationChildMixin, generics.GenericAPIView):
    serializer_class = EventSerializer

    @extend_schema(
        tags=["conversations"],
        parameters=[OpenApiParameter("after", int, description="only events with seq > after (default 0)")],
        responses=EventSchemaSerializer(many=True),
    )
    def get(self, request: Request, project_id, conversation_id) -> Response:
        raw = request.query_params.get("after", "0")
        try:
            after = int(raw)
            if after < 0:
                raise ValueError
        except ValueError:
            raise ValidationError({"after": ["A non-negative integer."]}) from None
        page = self.paginate_queryset(selectors.event_list(conversation=self.conversation(), after=after))
        return self.get_paginated_response(EventSerializer(page, many=True).data)


class CancelView(ConversationChildMixin, APIView):
    project_permissions = {"POST": CONTRIBUTE}

    @extend_schema(tags=["conversations"], request=None, responses={202: CancelResultSerializer})
    def post(self, request: Request, project_id, conversation_id) -> Response:
        message = services.conversation_cancel(conversation=self.conversation())
        body = {"cancelled": message is not None, "message_id": message.pk if message else None}
        return Response(CancelResultSerializer(body).data, status=status.HTTP_202_ACCEPTED)
