from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Agent, AgentTool, Conversation, ConversationEvent, Message, Tool
from .services.agents import AGENT_FIELDS


class ToolSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tool
        fields = ["id", "name", "description", "parameters", "enabled"]
        read_only_fields = fields


class AgentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agent
        fields = ["id", "project", *AGENT_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "project", "created_at", "updated_at"]


class AgentWriteSerializer(serializers.Serializer):
    """Input for POST (all optional except name) and PATCH (partial)."""

    name = serializers.CharField(max_length=120)
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    system_prompt = serializers.CharField(required=False, allow_blank=True, max_length=16000)
    model_name = serializers.CharField(required=False, max_length=120)
    temperature = serializers.FloatField(required=False, min_value=0.0, max_value=2.0)
    top_p = serializers.FloatField(required=False, min_value=0.01, max_value=1.0)
    max_tokens = serializers.IntegerField(required=False, min_value=1, max_value=8192)
    context_window = serializers.IntegerField(
        required=False, allow_null=True, min_value=256, max_value=131072
    )
    status = serializers.ChoiceField(required=False, choices=Agent.Status.choices)
    memory_enabled = serializers.BooleanField(required=False)
    memory_top_k = serializers.IntegerField(required=False, min_value=1, max_value=50)
    tool_choice = serializers.CharField(required=False, max_length=64)
    max_tool_steps = serializers.IntegerField(required=False, min_value=0, max_value=20)


class AgentToolSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="tool.name")
    description = serializers.CharField(source="tool.description")
    enabled = serializers.BooleanField(source="tool.enabled")

    class Meta:
        model = AgentTool
        fields = ["name", "description", "enabled", "config"]


class AgentToolEntrySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    config = serializers.DictField(required=False, default=dict)


class AgentToolsWriteSerializer(serializers.Serializer):
    tools = AgentToolEntrySerializer(many=True)


class AgentToolsSerializer(serializers.Serializer):
    tools = AgentToolSerializer(many=True)


class ConversationSerializer(serializers.ModelSerializer):
    agent_id = serializers.UUIDField(read_only=True)
    agent_name = serializers.CharField(source="agent.name", read_only=True)
    created_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    asker_agent_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "project",
            "agent_id",
            "agent_name",
            "created_by_id",
            "asker_agent_id",
            "title",
            "last_seq",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ConversationCreateSerializer(serializers.Serializer):
    agent_id = serializers.UUIDField()
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class MessageSerializer(serializers.ModelSerializer):
    conversation_id = serializers.UUIDField(read_only=True)
    sender_user_id = serializers.UUIDField(read_only=True, allow_null=True)
    sender_agent_id = serializers.UUIDField(read_only=True, allow_null=True)
    receiver_user_id = serializers.UUIDField(read_only=True, allow_null=True)
    receiver_agent_id = serializers.UUIDField(read_only=True, allow_null=True)
    reply_to_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "role",
            "sender_user_id",
            "sender_agent_id",
            "sender_system",
            "receiver_user_id",
            "receiver_agent_id",
            "receiver_system",
            "content",
            "status",
            "error",
            "usage",
            "timings",
            "tool_calls",
            "tool_name",
            "citations",
            "client_id",
            "reply_to_id",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=8000)
    client_id = serializers.CharField(required=False, allow_null=True, max_length=100)


class EventSerializer(serializers.ModelSerializer):
    """An event as the socket sends it: `{seq, type, created_at, ...payload}`."""

    class Meta:
        model = ConversationEvent
        fields = ["seq", "type", "created_at"]

    def to_representation(self, instance: ConversationEvent) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {**instance.payload, **data}


@extend_schema_field(OpenApiTypes.OBJECT)
class _AnyObject(serializers.JSONField):
    pass


class EventSchemaSerializer(serializers.Serializer):
    """Schema only: the payload fields depend on `type` (see API.md's WebSocket section)."""

    seq = serializers.IntegerField()
    type = serializers.ChoiceField(
        choices=["message.created", "token", "tool.call", "tool.result", "message.completed", "error"]
    )
    created_at = serializers.DateTimeField()
    message = MessageSerializer(required=False)
    message_id = serializers.UUIDField(required=False)
    text = serializers.CharField(required=False)
    tool = serializers.CharField(required=False)
    arguments = _AnyObject(required=False)
    result = _AnyObject(required=False)
    usage = _AnyObject(required=False)
    timings = _AnyObject(required=False)
    citations = serializers.ListField(child=_AnyObject(), required=False)
    code = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


class CancelResultSerializer(serializers.Serializer):
    cancelled = serializers.BooleanField()
    message_id = serializers.UUIDField(allow_null=True)
