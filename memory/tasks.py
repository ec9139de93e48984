"""Celery tasks of the memory app (queue `default`). They take ids and call the pipeline."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    name="memory.tasks.document_ingest",
    soft_time_limit=settings.MEMORY_INGEST_TIME_LIMIT,
    time_limit=settings.MEMORY_INGEST_TIME_LIMIT + 60,
    ignore_result=True,
)
def document_ingest_task(document_id: str) -> dict[str, object]:
    """Ingest one uploaded document (memory.ingestion.document_ingest). A bad file ends `failed`."""
    from .ingestion import document_ingest

    result = document_ingest(document_id=document_id)
    return {"document_id": document_id, "status": result.status, "chunks": result.chunks}
