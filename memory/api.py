"""The memory and document routes of API.md. Every view goes through the tenant gate.

Who may do what: members and viewers list, read and search; members add entries and upload
documents (CONTRIBUTE); admins delete (MANAGE). Outsiders get 404 from the gate.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from projects.tenancy import CONTRIBUTE, MANAGE, VIEW, ProjectScopedMixin

from . import selectors, services
from .embedding import EmbeddingUnavailable, current_embedding_model
from .models import Document, MemoryEntry
from .serializers import (
    DocumentSerializer,
    DocumentUploadSerializer,
    MemoryEntryCreateSerializer,
    MemoryEntrySerializer,
    MemorySearchSerializer,
    SearchResponseSerializer,
)


class EmbeddingServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The embedding model is not available right now. Try again later."
    default_code = "embedding_unavailable"


_UNAVAILABLE = OpenApiResponse(description="The embedding model (inference worker) is not available.")


@extend_schema_view(
    get=extend_schema(
        tags=["memory"],
        summary="The project's memory entries, newest first",
        parameters=[
            OpenApiParameter("document", OpenApiTypes.UUID, description="Only the chunks of this document."),
            OpenApiParameter("agent", OpenApiTypes.UUID, description="Only the entries tied to this agent."),
        ],
    ),
)
class MemoryEntryListCreateView(ProjectScopedMixin, generics.ListAPIView):
    queryset = MemoryEntry.objects.select_related("document").defer(
        "embedding", "search_vector", "document__file"
    )
    serializer_class = MemoryEntrySerializer
    project_permissions = {"POST": CONTRIBUTE}

    def get_queryset(self) -> QuerySet[MemoryEntry]:
        qs = super().get_queryset()
        for param, field in (("document", "document_id"), ("agent", "agent_id")):
            value = self.request.query_params.get(param)
            if value:
                qs = qs.filter(**{field: _uuid_param(param, value)})
        return qs.order_by("-created_at", "id")

    @extend_schema(
        tags=["memory"],
        summary="Add an entry (members); it is embedded with the current model",
        request=MemoryEntryCreateSerializer,
        responses={
            201: MemoryEntrySerializer,
            200: OpenApiResponse(MemoryEntrySerializer, description="The same content was already stored."),
            503: _UNAVAILABLE,
        },
    )
    def post(self, request: Request, project_id: Any) -> Response:
        serializer = MemoryEntryCreateSerializer(data=request.data, context={"project": self.project})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            entry, created = services.memory_entry_create(
                project=self.project,
                content=data["content"],
                metadata=data.get("metadata") or {},
                agent=data.get("agent_id"),
                created_by=cast(User, request.user),  # the gate lets only members in
            )
        except EmbeddingUnavailable as exc:
            raise EmbeddingServiceUnavailable(str(exc)) from exc
        entry = selectors.memory_entry_get(project=self.project, entry_id=entry.pk)
        return Response(
            MemoryEntrySerializer(entry).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _uuid_param(name: str, value: str) -> Any:
    import uuid

    from rest_framework.exceptions import ValidationError

    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({name: ["Must be a valid UUID."]}) from None


class MemoryEntryDetailView(ProjectScopedMixin, generics.GenericAPIView):
    queryset = MemoryEntry.objects.select_related("document").defer(
        "embedding", "search_vector", "document__file"
    )
    serializer_class = MemoryEntrySerializer
    lookup_field = "pk"
    lookup_url_kwarg = "entry_id"
    project_permissions = {"DELETE": MANAGE}

    @extend_schema(tags=["memory"], summary="One memory entry", responses=MemoryEntrySerializer)
    def get(self, request: Request, project_id: Any, entry_id: Any) -> Response:
        return Response(MemoryEntrySerializer(self.get_object()).data)

    @extend_schema(
        tags=["memory"],
        summary="Delete an entry (admins)",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, project_id: Any, entry_id: Any) -> Response:
        services.memory_entry_delete(entry=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemorySearchView(ProjectScopedMixin, generics.GenericAPIView):
    """POST because the query can be long; it changes nothing, so viewers may search."""

    queryset = MemoryEntry.objects.none()
    serializer_class = MemorySearchSerializer
    project_permissions = {"POST": VIEW}

    @extend_schema(
        tags=["memory"],
        summary="Search the project's memory (vector or hybrid)",
        request=MemorySearchSerializer,
        responses={200: SearchResponseSerializer, 503: _UNAVAILABLE},
    )
    def post(self, request: Request, project_id: Any) -> Response:
        serializer = MemorySearchSerializer(data=request.data, context={"project": self.project})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            results = selectors.memory_search(
                project=self.project,
                query=data["query"],
                k=data["k"],
                agent=data.get("agent_id"),
                mode=data["mode"],
            )
        except EmbeddingUnavailable as exc:
            raise EmbeddingServiceUnavailable(str(exc)) from exc
        body = {
            "query": data["query"],
            "mode": data["mode"],
            "embedding_model": current_embedding_model(),
            "results": results,
        }
        return Response(SearchResponseSerializer(body).data)


@extend_schema_view(get=extend_schema(tags=["documents"], summary="The project's documents, newest first"))
class DocumentListCreateView(ProjectScopedMixin, generics.ListAPIView):
    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    parser_classes = [MultiPartParser, FormParser]
    project_permissions = {"POST": CONTRIBUTE}

    def get_queryset(self) -> QuerySet[Document]:
        return super().get_queryset().order_by("-created_at", "id")

    @extend_schema(
        tags=["documents"],
        summary="Upload a document (members); ingestion runs in the background",
        description="Multipart upload with one `file` field. Answers 201 with the document in status "
        "`pending`; poll the document for `status`, `progress`, `chunk_count` and `error`. The same "
        "file (same sha256) in this project answers 200 with the existing document.",
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={
            201: DocumentSerializer,
            200: OpenApiResponse(DocumentSerializer, description="The same file was already uploaded."),
        },
    )
    def post(self, request: Request, project_id: Any) -> Response:
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        document, created = services.document_upload(
            project=self.project,
            file=upload,
            filename=upload.name,
            declared_type=getattr(upload, "content_type", None),
            uploaded_by=cast(User, request.user),
        )
        return Response(
            DocumentSerializer(document).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class DocumentDetailView(ProjectScopedMixin, generics.GenericAPIView):
    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    lookup_field = "pk"
    lookup_url_kwarg = "document_id"
    project_permissions = {"DELETE": MANAGE}

    @extend_schema(tags=["documents"], summary="A document: status, progress, chunk count, error")
    def get(self, request: Request, project_id: Any, document_id: Any) -> Response:
        return Response(DocumentSerializer(self.get_object()).data)

    @extend_schema(
        tags=["documents"],
        summary="Delete a document, its file and its memory entries (admins)",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, project_id: Any, document_id: Any) -> Response:
        services.document_delete(document=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
