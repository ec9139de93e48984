"""Memory: entries with an embedding (pgvector) and full-text vector, and the documents they come from."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from platform_site.db import TimeStampedModel

# The width of the `embedding` column. It matches the default embedding model
# (all-MiniLM-L6-v2, 384 dimensions); a system check (memory/checks.py) stops start-up
# when the configured embedding model has another width, since that needs a migration.
EMBEDDING_DIMENSIONS = 384

# The text-search configuration of the generated `search_vector` column. Queries must use
# the same one (memory/search.py), or the GIN index is not used and stems don't match.
FTS_CONFIG = "english"


def document_upload_to(instance: Document, filename: str) -> str:
    return f"memory/{instance.project_id}/{instance.pk}/{filename}"


class DocumentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Document(TimeStampedModel):
    """An uploaded file. Ingestion turns it into MemoryEntry rows (one per chunk)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="documents")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=document_upload_to, max_length=500)
    filename = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING)
    error = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    # 0–100 while processing: extraction and chunking, then one step per embedded batch.
    progress = models.PositiveSmallIntegerField(default=0)

    class Meta(TimeStampedModel.Meta):
        constraints = [
            # The same file uploaded twice in a project is recognised (document_upload).
            models.UniqueConstraint(fields=["project", "sha256"], name="memory_document_unique_sha256"),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in DocumentStatus]),
                name="memory_document_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="memory_document_progress_max"
            ),
        ]
        indexes = [
            # document_list(project=…): `WHERE project_id = … ORDER BY created_at DESC`.
            models.Index(fields=["project", "-created_at"], name="memory_doc_project_created_idx"),
        ]

    def __str__(self) -> str:
        return self.filename


class MemoryEntry(TimeStampedModel):
    """One piece of a project's memory: a chunk of a document, or an entry added directly."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="memory_entries")
    # None: shared by the project's agents. Set: that agent's own memory (deleted with it).
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.CASCADE, related_name="memory_entries"
    )
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.CASCADE, related_name="entries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = models.TextField()
    # sha256 of the content: no duplicate entry within a project.
    content_hash = models.CharField(max_length=64)
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    # The model that made `embedding`. Search only compares vectors of the current model;
    # `manage.py reembed_memory` moves entries to a new one.
    embedding_model = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    # Kept up to date by PostgreSQL itself (a stored generated column).
    search_vector = models.GeneratedField(
        expression=SearchVector("content", config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta(TimeStampedModel.Meta):
        verbose_name_plural = "memory entries"
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="memory_entry_unique_content"),
        ]
        indexes = [
            # Vector search (memory/search.py, vector and hybrid modes):
            # `WHERE project_id = … AND embedding_model = … [AND (agent_id = … OR agent_id IS NULL)]
            #  ORDER BY embedding <=> %s LIMIT k`, with hnsw.iterative_scan = relaxed_order so that
            # the filter still returns k rows.
            HnswIndex(
                name="memory_entry_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # Hybrid search's full-text half: `WHERE search_vector @@ websearch_to_tsquery('english', …)`.
            GinIndex(fields=["search_vector"], name="memory_entry_search_gin"),
            # memory_entry_list(project=…): `WHERE project_id = … ORDER BY created_at DESC`,
            # and the exact (filtered, index-less) vector path for small projects.
            models.Index(fields=["project", "-created_at"], name="memory_entry_project_idx"),
            # reembed_memory: `WHERE embedding_model <> current`.
            models.Index(fields=["embedding_model"], name="memory_entry_model_idx"),
        ]

    def __str__(self) -> str:
        return self.content[:60]
