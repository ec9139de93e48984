"""Ingestion while no inference worker answers (the platform is starting, or the worker restarts):
the document waits `pending` and the task tries again, instead of failing at once."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from memory.ingestion import RETRY, document_ingest
from memory.models import Document, DocumentStatus, MemoryEntry
from memory.services import document_upload
from memory.tasks import document_ingest_task


@pytest.fixture
def no_inference_worker(settings):
    """No worker of this test run serves this queue (a session-wide one may serve the real one)."""
    settings.INFERENCE_QUEUE = "inference-ingestion-nobody"


@pytest.fixture
def document(project, member) -> Document:
    document, created = document_upload(
        project=project, file=ContentFile(b"Lighthouses guide ships at night.", name="light.txt"),
        filename="light.txt", uploaded_by=member, enqueue=False,
    )  # fmt: skip
    assert created
    return document


@pytest.mark.django_db
def test_without_a_worker_the_document_waits_pending_with_a_note(document, no_inference_worker):
    result = document_ingest(document_id=document.pk, wait_for_worker=True)
    assert result.status == RETRY
    document.refresh_from_db()
    assert document.status == DocumentStatus.PENDING
    assert document.error.startswith("Waiting for the inference worker")
    assert not MemoryEntry.objects.filter(document=document).exists()


@pytest.mark.django_db
def test_without_waiting_it_fails_with_the_reason(document, no_inference_worker):
    result = document_ingest(document_id=document.pk)  # manage.py ingest: no retry
    assert result.status == DocumentStatus.FAILED
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert "not available right now" in document.error


@pytest.mark.django_db
def test_the_task_tries_again_then_fails_with_the_reason(document, no_inference_worker, settings):
    settings.MEMORY_INGEST_WORKER_RETRIES = 2
    outcome = document_ingest_task.apply(args=[str(document.pk)])  # retries run eagerly here
    assert outcome.result["status"] == DocumentStatus.FAILED, outcome.result
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert "not available right now" in document.error and not document.error.startswith("Waiting")
    assert not MemoryEntry.objects.filter(document=document).exists()
