"""Celery tasks of the memory app (queue `default`). They take ids and call the pipeline."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings


@shared_task(
    bind=True,
    name="memory.tasks.document_ingest",
    soft_time_limit=settings.MEMORY_INGEST_TIME_LIMIT,
    time_limit=settings.MEMORY_INGEST_TIME_LIMIT + 60,
    ignore_result=True,
)
def document_ingest_task(self: Task, document_id: str) -> dict[str, object]:
    """Ingest one uploaded document (memory.ingestion.document_ingest). A bad file ends `failed`.

    While no inference worker answers (the platform is starting, or the worker restarts), the
    document stays `pending` and the task tries again with a growing delay (5 s, 10 s, … at most
    60 s), MEMORY_INGEST_WORKER_RETRIES times; after the last try the document ends `failed`."""
    from .ingestion import RETRY, document_ingest

    retries = settings.MEMORY_INGEST_WORKER_RETRIES
    result = document_ingest(document_id=document_id, wait_for_worker=self.request.retries < retries)
    if result.status == RETRY:
        raise self.retry(countdown=min(60, 5 * 2**self.request.retries), max_retries=retries)
    return {"document_id": document_id, "status": result.status, "chunks": result.chunks}


@shared_task(name="memory.tasks.stale_documents_reap", ignore_result=True)
def stale_documents_reap_task() -> dict[str, int]:
    """Fail documents whose ingestion lost its worker; queue again those whose task was lost."""
    from .services import stale_documents_reap

    return stale_documents_reap()
