"""Writes for memory: entries, documents (upload, delete), re-embedding.

The ingestion pipeline itself is in memory/ingestion.py (`document_ingest`).

Embedding waits on the inference worker, so the services that embed do it first, with no
transaction open, and then write in one short transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from rest_framework.exceptions import ValidationError

from .embedding import current_embedding_model, embed_texts
from .extraction import detect_mime_type
from .models import Document, DocumentStatus, MemoryEntry

if TYPE_CHECKING:
    from accounts.models import User
    from agents.models import Agent
    from projects.models import Project

logger = logging.getLogger(__name__)


def content_hash(content: str) -> str:
    """The duplicate key of an entry: sha256 of its content, whitespace at both ends ignored."""
    return hashlib.sha256(content.strip().encode("utf-8")).hexdigest()


# --- entries -----------------------------------------------------------------------------------


def memory_entry_create(
    *,
    project: Project,
    content: str,
    created_by: User | None = None,
    agent: Agent | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[MemoryEntry, bool]:
    """Add one entry, embedded with the current model. Returns (entry, created).

    The same content already in the project → (that entry, False); nothing is stored twice.
    Raises EmbeddingUnavailable when the inference worker can't embed it. Not atomic as a
    whole on purpose: the embedding call must not hold a transaction open.
    """
    content = content.strip()
    digest = content_hash(content)
    existing = MemoryEntry.objects.filter(project=project, content_hash=digest).first()
    if existing is not None:
        return existing, False
    model = current_embedding_model()
    [vector] = embed_texts([content], project=project, model=model)
    return _memory_entry_insert(
        project=project,
        content=content,
        digest=digest,
        vector=vector,
        model=model,
        created_by=created_by,
        agent=agent,
        metadata=metadata or {},
    )


@transaction.atomic
def _memory_entry_insert(
    *,
    project: Project,
    content: str,
    digest: str,
    vector: list[float],
    model: str,
    created_by: User | None,
    agent: Agent | None,
    metadata: dict[str, Any],
) -> tuple[MemoryEntry, bool]:
    try:
        with transaction.atomic():
            entry = MemoryEntry.objects.create(
                project=project,
                agent=agent,
                created_by=created_by,
                content=content,
                content_hash=digest,
                embedding=vector,
                embedding_model=model,
                metadata=metadata,
            )
    except IntegrityError:  # the same content arrived concurrently
        return MemoryEntry.objects.get(project=project, content_hash=digest), False
    return entry, True


@transaction.atomic
def memory_entry_delete(*, entry: MemoryEntry) -> None:
    entry.delete()


# --- documents ---------------------------------------------------------------------------------


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def document_validate_upload(*, filename: str, size: int, declared_type: str | None) -> str:
    """The upload's MIME type, or ValidationError naming `file` (empty, too big, wrong type)."""
    if size <= 0:
        raise ValidationError({"file": ["The file is empty."]})
    limit = settings.MEMORY_MAX_UPLOAD_BYTES
    if size > limit:
        raise ValidationError(
            {"file": [f"The file is {_megabytes(size)}; the largest accepted upload is {_megabytes(limit)}."]}
        )
    mime_type = detect_mime_type(filename, declared_type)
    if mime_type not in settings.MEMORY_ACCEPTED_TYPES:
        suffix = PurePath(filename).suffix or "no extension"
        raise ValidationError(
            {
                "file": [
                    f"Files of type {mime_type} ({suffix}) are not accepted. "
                    "Accepted: .txt, .md, .html, .pdf and .docx files."
                ]
            }
        )
    return mime_type


def file_sha256(file: File) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def document_upload(
    *,
    project: Project,
    file: File,
    filename: str | None = None,
    uploaded_by: User | None = None,
    declared_type: str | None = None,
    enqueue: bool = True,
) -> tuple[Document, bool]:
    """Store an uploaded file and queue its ingestion. Returns (document, created).

    - Validates size and type (ValidationError naming `file`).
    - The same bytes already uploaded to this project → (that document, False): not stored
      twice. If that earlier attempt failed, it is queued again.
    - `enqueue=False` leaves the document pending for the caller to ingest in-process
      (manage.py ingest).
    """
    display_name = PurePath(filename or file.name or "upload").name[:255] or "upload"
    mime_type = document_validate_upload(filename=display_name, size=file.size, declared_type=declared_type)
    sha256 = file_sha256(file)
    existing = Document.objects.filter(project=project, sha256=sha256).first()
    if existing is not None:
        if existing.status == DocumentStatus.FAILED:
            existing = document_requeue(document=existing, enqueue=enqueue)
        return existing, False

    document = Document(
        project=project,
        uploaded_by=uploaded_by,
        filename=display_name,
        mime_type=mime_type,
        size=file.size,
        sha256=sha256,
    )
    # The file goes to storage before the row is written; a failed insert removes it again.
    document.file.save(get_valid_filename(display_name) or "upload", file, save=False)
    try:
        with transaction.atomic():
            document.save(force_insert=True)
            if enqueue:
                _enqueue_ingest(document)
    except IntegrityError:  # the same file arrived concurrently
        document.file.delete(save=False)
        return Document.objects.get(project=project, sha256=sha256), False
    return document, True


@transaction.atomic
def document_requeue(*, document: Document, enqueue: bool = True) -> Document:
    """Put a failed document back to pending (and queue it again)."""
    document.status = DocumentStatus.PENDING
    document.error = ""
    document.progress = 0
    document.chunk_count = 0
    document.save(update_fields=["status", "error", "progress", "chunk_count", "updated_at"])
    if enqueue:
        _enqueue_ingest(document)
    return document


STALE_PROCESSING_REASON = (
    "worker_lost: the worker stopped while ingesting this document. Upload the file again to retry."
)


def stale_documents_reap(*, now: Any = None) -> dict[str, int]:
    """Documents whose ingestion was lost; Celery beat runs it every minute.

    - `processing` with no progress for MEMORY_INGEST_STALE_SECONDS: the worker died on it (a
      live ingestion moves its progress every batch of chunks). It ends `failed` with the reason;
      it is not retried by itself, since the file may be what stopped the worker. Uploading the
      same file again retries it (document_upload).
    - `pending` as long: its task was lost (the broker restarted empty, say): queued again.
      (A document waiting for the inference worker is touched at each try, every ≤ 60 s.)
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MEMORY_INGEST_STALE_SECONDS)
    failed = Document.objects.filter(status=DocumentStatus.PROCESSING, updated_at__lt=cutoff).update(
        status=DocumentStatus.FAILED, error=STALE_PROCESSING_REASON, updated_at=now
    )
    requeued = 0
    for document in Document.objects.filter(status=DocumentStatus.PENDING, updated_at__lt=cutoff):
        with transaction.atomic():
            # Claimed by this update: a second reaper running at the same time queues nothing.
            claimed = Document.objects.filter(
                pk=document.pk, status=DocumentStatus.PENDING, updated_at__lt=cutoff
            ).update(updated_at=now)
            if claimed:
                _enqueue_ingest(document)
                requeued += 1
    if failed or requeued:
        logger.warning("memory: %s stale documents failed, %s queued again", failed, requeued)
    return {"failed": failed, "requeued": requeued}


def _enqueue_ingest(document: Document) -> None:
    from .tasks import document_ingest_task

    document_id = str(document.pk)
    transaction.on_commit(lambda: document_ingest_task.delay(document_id))


@transaction.atomic
def document_delete(*, document: Document) -> None:
    """Delete the document, its entries (cascade) and, once committed, its stored file."""
    storage, name = document.file.storage, document.file.name
    document.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))


def document_set_progress(*, document_id: Any, progress: int) -> None:
    Document.objects.filter(pk=document_id).update(
        progress=max(0, min(100, progress)), updated_at=timezone.now()
    )


# --- re-embedding ------------------------------------------------------------------------------


def memory_entries_reembed(
    *,
    model: str | None = None,
    project: Project | None = None,
    batch_size: int | None = None,
    everything: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Re-embed entries made by another model (or all of them) with `model`. Returns the count.

    Search only compares vectors of the current model, so entries still on the old model are
    invisible (never mixed) until this has moved them. Each batch is embedded with no
    transaction open and then written in one short transaction.
    """
    model = model or current_embedding_model()
    batch_size = batch_size or max(settings.MEMORY_EMBED_BATCH_SIZE, 32)
    queryset = MemoryEntry.objects.all()
    if project is not None:
        queryset = queryset.filter(project=project)
    done = 0
    last_id = None
    while True:
        page = queryset.order_by("id")
        if everything:
            if last_id is not None:
                page = page.filter(id__gt=last_id)
        else:
            page = page.exclude(embedding_model=model)
        rows = list(page.values_list("id", "project_id", "content")[:batch_size])
        if not rows:
            return done
        vectors = embed_texts([content for _, _, content in rows], model=model)
        with transaction.atomic():
            entries = []
            for (entry_id, project_id, _), vector in zip(rows, vectors, strict=True):
                entries.append(
                    MemoryEntry(id=entry_id, project_id=project_id, embedding=vector, embedding_model=model)
                )
            MemoryEntry.objects.bulk_update(entries, ["embedding", "embedding_model"])
        done += len(rows)
        last_id = rows[-1][0]
        if on_progress is not None:
            on_progress(len(rows))
