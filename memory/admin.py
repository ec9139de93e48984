"""Django admin for memory (superusers): read-mostly; deletes go through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from . import services
from .models import Document, MemoryEntry


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("filename", "project", "status", "progress", "chunk_count", "size", "created_at")
    list_filter = ("status", "mime_type")
    search_fields = ("filename", "sha256", "project__name")
    list_select_related = ("project",)
    readonly_fields = (
        "id",
        "project",
        "uploaded_by",
        "file",
        "filename",
        "mime_type",
        "size",
        "sha256",
        "status",
        "progress",
        "error",
        "chunk_count",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: Any) -> bool:
        return False  # uploads go through the API or manage.py ingest (they need ingestion)

    def delete_model(self, request: Any, obj: Document) -> None:
        services.document_delete(document=obj)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for document in queryset:
            services.document_delete(document=document)


@admin.register(MemoryEntry)
class MemoryEntryAdmin(admin.ModelAdmin):
    list_display = ("short_content", "project", "document", "embedding_model", "created_at")
    list_filter = ("embedding_model",)
    search_fields = ("content", "project__name")
    list_select_related = ("project", "document")
    exclude = ("embedding",)
    readonly_fields = (
        "id",
        "project",
        "document",
        "created_by",
        "content",
        "content_hash",
        "embedding_model",
        "metadata",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request: Any) -> Any:
        return super().get_queryset(request).defer("embedding", "search_vector")

    def has_add_permission(self, request: Any) -> bool:
        return False  # entries need an embedding: add them through the API

    @admin.display(description="content")
    def short_content(self, obj: MemoryEntry) -> str:
        return obj.content[:80]
