"""The ingestion pipeline: stored file → text → chunks → embeddings → entries, in one final write.

Used by the Celery task (uploads) and by `manage.py ingest`, so both behave the same:

1. the document goes to `processing` (progress 0);
2. the text is extracted and split into overlapping chunks (memory/extraction.py), progress 10;
3. the chunks are embedded in small batches on the inference worker, no transaction open,
   progress 10 → 95 batch by batch;
4. every entry is inserted in ONE transaction together with the `ready` status, so a failure at
   any step leaves no partial chunks: the document ends `failed` with a reason a person understands.

Chunks whose content already exists in the project (another document, a manual entry) are not
stored twice; `chunk_count` counts the entries this document added.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from platform_site import metrics
from platform_site.logging import bind_context

from .embedding import EmbeddingUnavailable, current_embedding_model, embed_texts
from .extraction import ExtractionError, chunk_text, extract_text
from .models import Document, DocumentStatus, MemoryEntry
from .services import content_hash, document_set_progress

logger = logging.getLogger(__name__)

EXTRACTED_PROGRESS = 10
EMBEDDED_PROGRESS = 95


@dataclass(frozen=True)
class IngestResult:
    document: Document | None
    chunks: int  # entries stored for this document
    status: str
    error: str = ""


def _fail(document_id: Any, reason: str) -> None:
    Document.objects.filter(pk=document_id).update(
        status=DocumentStatus.FAILED, error=reason[:2000], updated_at=timezone.now()
    )


def _read(document: Document) -> bytes:
    try:
        with document.file.open("rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise ExtractionError("The uploaded file is missing from storage; upload it again.") from exc


RETRY = "retry"  # IngestResult.status: no inference worker answered; the document waits, `pending`


def document_ingest(
    *,
    document_id: uuid.UUID | str,
    on_chunks: Callable[[int, int], None] | None = None,
    wait_for_worker: bool = False,
) -> IngestResult:
    """Run the pipeline for one document. Never raises for a bad file: the document ends `failed`.

    `on_chunks(done, total)` reports embedding progress (the management command's bar).
    `wait_for_worker`: when no inference worker answers (it is starting, or restarting), the
    document goes back to `pending` with a note and the result's status is RETRY, so that the
    background task can try again later; otherwise that too ends `failed`.
    """
    document = Document.objects.select_related("project").filter(pk=document_id).first()
    if document is None:
        return IngestResult(document=None, chunks=0, status="missing", error="The document was deleted.")
    with bind_context(project_id=document.project_id, document_id=document.pk):  # on its log lines
        return _document_ingest(document, on_chunks=on_chunks, wait_for_worker=wait_for_worker)


def _document_ingest(
    document: Document, *, on_chunks: Callable[[int, int], None] | None, wait_for_worker: bool
) -> IngestResult:
    if document.status == DocumentStatus.READY:  # a redelivered task: nothing to do
        return IngestResult(document=document, chunks=document.chunk_count, status=document.status)
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.PROCESSING, progress=0, error="", updated_at=timezone.now()
    )
    try:
        chunks = _prepare(document)
        document_set_progress(document_id=document.pk, progress=EXTRACTED_PROGRESS)
        stored = _embed_and_store(document, chunks, on_chunks=on_chunks)
    except EmbeddingUnavailable as exc:
        if exc.transient and wait_for_worker:
            note = f"Waiting for the inference worker: {exc}"
            Document.objects.filter(pk=document.pk).update(
                status=DocumentStatus.PENDING, progress=0, error=note[:2000], updated_at=timezone.now()
            )
            return IngestResult(document=document, chunks=0, status=RETRY, error=note)
        reason = str(exc)
    except ExtractionError as exc:
        reason = str(exc)
    except SoftTimeLimitExceeded:
        reason = (
            f"Ingestion took longer than {settings.MEMORY_INGEST_TIME_LIMIT} s and was stopped. "
            "Split the document into smaller files."
        )
    except Exception as exc:  # a bug or an outage: the document must not stay `processing`
        logger.exception("ingestion of document %s failed", document.pk)
        reason = f"Ingestion failed unexpectedly ({type(exc).__name__}); the details are in the worker's log."
    else:
        if stored is None:
            return IngestResult(document=None, chunks=0, status="missing", error="The document was deleted.")
        document.refresh_from_db()
        return IngestResult(document=document, chunks=stored, status=document.status)
    _fail(document.pk, reason)
    document.refresh_from_db()
    return IngestResult(document=document, chunks=0, status=DocumentStatus.FAILED, error=reason)


def _prepare(document: Document) -> list[tuple[str, dict[str, Any]]]:
    """The distinct chunks of the document, with their metadata, not yet in the project."""
    extracted = extract_text(_read(document), document.mime_type)
    chunks = chunk_text(extracted, document.mime_type)
    limit = settings.MEMORY_MAX_CHUNKS_PER_DOCUMENT
    if len(chunks) > limit:
        raise ExtractionError(
            f"This document splits into {len(chunks)} chunks; the limit is {limit}. "
            "Split it into smaller files."
        )
    seen: set[str] = set()
    prepared: list[tuple[str, dict[str, Any]]] = []
    for chunk in chunks:
        digest = content_hash(chunk.text)
        if digest in seen or not chunk.text.strip():
            continue
        seen.add(digest)
        metadata: dict[str, Any] = {"chunk": chunk.index, "offset": chunk.offset}
        if chunk.page is not None:
            metadata["page"] = chunk.page
        if extracted.metadata.get("title"):
            metadata["title"] = extracted.metadata["title"]
        prepared.append((chunk.text, metadata))
    existing = set(
        MemoryEntry.objects.filter(
            project_id=document.project_id, content_hash__in=[content_hash(text) for text, _ in prepared]
        ).values_list("content_hash", flat=True)
    )
    return [(text, meta) for text, meta in prepared if content_hash(text) not in existing]


def _embed_and_store(
    document: Document,
    chunks: list[tuple[str, dict[str, Any]]],
    *,
    on_chunks: Callable[[int, int], None] | None,
) -> int | None:
    model = current_embedding_model()
    span = EMBEDDED_PROGRESS - EXTRACTED_PROGRESS

    def on_batch(done: int, total: int) -> None:
        document_set_progress(
            document_id=document.pk, progress=EXTRACTED_PROGRESS + span * done // max(total, 1)
        )
        if on_chunks is not None:
            on_chunks(done, total)

    vectors = embed_texts(
        [text for text, _ in chunks], project=document.project, model=model, on_batch=on_batch
    )
    with transaction.atomic():
        # Lock the row: a document deleted meanwhile gets no entries.
        locked = Document.objects.select_for_update().filter(pk=document.pk).first()
        if locked is None:
            return None
        MemoryEntry.objects.bulk_create(
            [
                MemoryEntry(
                    project_id=document.project_id,
                    document_id=document.pk,
                    created_by_id=document.uploaded_by_id,
                    content=text,
                    content_hash=content_hash(text),
                    embedding=vector,
                    embedding_model=model,
                    metadata=metadata,
                )
                for (text, metadata), vector in zip(chunks, vectors, strict=True)
            ],
            batch_size=500,
            ignore_conflicts=True,  # a concurrent upload stored the same chunk first
        )
        stored = MemoryEntry.objects.filter(document_id=document.pk).count()
        locked.status = DocumentStatus.READY
        locked.chunk_count = stored
        locked.progress = 100
        locked.error = ""
        locked.save(update_fields=["status", "chunk_count", "progress", "error", "updated_at"])
    metrics.observe_ingested_chunks(count=stored)  # Prometheus: ingestion chunks
    return stored
