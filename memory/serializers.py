"""Input and output shapes of the memory and document routes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from .models import Document, DocumentStatus, MemoryEntry
from .selectors import HYBRID, SEARCH_MODES, VECTOR


def _agent_in_project(project: Any, agent_id: Any) -> Any:
    """The agent with this id in `project`, or a ValidationError (another project's agent is unknown)."""
    from agents.models import Agent

    agent = Agent.objects.filter(project=project, pk=agent_id).first()
    if agent is None:
        raise serializers.ValidationError("No agent with this id in this project.", code="does_not_exist")
    return agent


class DocumentRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="filename", read_only=True)

    class Meta:
        model = Document
        fields = ("id", "name")
        read_only_fields = fields


class MemoryEntrySerializer(serializers.ModelSerializer):
    """An entry as the API shows it: no vector; the model that made it and its source document."""

    agent_id = serializers.UUIDField(read_only=True, allow_null=True)
    document = DocumentRefSerializer(read_only=True, allow_null=True)
    created_by_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = MemoryEntry
        fields = (
            "id",
            "content",
            "metadata",
            "agent_id",
            "document",
            "embedding_model",
            "created_by_id",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class MemoryEntryCreateSerializer(serializers.Serializer):
    content = serializers.CharField(
        max_length=2000,
        trim_whitespace=True,
        help_text="The text to remember (at most 2000 characters). The same text twice in a project "
        "is stored once: the existing entry is answered with 200.",
    )
    metadata = serializers.DictField(required=False, default=dict, help_text="Free-form JSON object.")
    agent_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Tie the entry to one agent of the project."
    )

    def validate_agent_id(self, value: Any) -> Any:
        if value is None:
            return None
        return _agent_in_project(self.context["project"], value)


class MemorySearchSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=2000, trim_whitespace=True)
    k = serializers.IntegerField(
        min_value=1,
        max_value=settings.MEMORY_SEARCH_MAX_K,
        default=5,
        help_text="How many entries to return.",
    )
    agent_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Search as this agent: its own entries and the project's shared ones.",
    )
    mode = serializers.ChoiceField(
        choices=SEARCH_MODES,
        default=VECTOR,
        help_text=f"`{VECTOR}`: cosine similarity; `{HYBRID}`: full text and vector ranks fused (RRF).",
    )

    def validate_agent_id(self, value: Any) -> Any:
        if value is None:
            return None
        return _agent_in_project(self.context["project"], value)


class SearchResultSerializer(serializers.Serializer):
    entry_id = serializers.UUIDField()
    content = serializers.CharField()
    score = serializers.FloatField(
        help_text="vector mode: cosine similarity (1 is identical); hybrid mode: the RRF score."
    )
    metadata = serializers.DictField(help_text="e.g. chunk, offset, page (PDF), title.")
    agent_id = serializers.UUIDField(allow_null=True)
    document_id = serializers.UUIDField(allow_null=True, help_text="The source document, if any.")
    document_name = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    vector_rank = serializers.IntegerField(allow_null=True, help_text="Rank among the nearest vectors.")
    text_rank = serializers.IntegerField(allow_null=True, help_text="Rank in full-text search (hybrid).")


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    mode = serializers.ChoiceField(choices=SEARCH_MODES)
    embedding_model = serializers.CharField()
    results = SearchResultSerializer(many=True)


class DocumentSerializer(serializers.ModelSerializer):
    uploaded_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=DocumentStatus.choices, read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="0–100 while processing.")
    error = serializers.CharField(read_only=True, help_text="Why ingestion failed (status `failed`).")

    class Meta:
        model = Document
        fields = (
            "id",
            "filename",
            "mime_type",
            "size",
            "sha256",
            "status",
            "progress",
            "error",
            "chunk_count",
            "uploaded_by_id",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A .txt, .md, .html, .pdf or .docx file (MEMORY_ACCEPTED_TYPES), at most "
        "MEMORY_MAX_UPLOAD_BYTES. The same file again answers 200 with the existing document."
    )
