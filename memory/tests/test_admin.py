"""The Django admin pages of memory, for superusers."""

import pytest

from memory.models import Document
from memory.tests.factories import DocumentFactory, MemoryEntryFactory

pytestmark = pytest.mark.django_db


def test_a_superuser_browses_documents_and_entries(client, superuser, project):
    document = DocumentFactory(project=project, filename="guide.pdf")
    entry = MemoryEntryFactory(project=project, document=document, content="Admin sees this entry")
    client.force_login(superuser)
    for url in (
        "/admin/memory/document/",
        f"/admin/memory/document/{document.pk}/change/",
        "/admin/memory/memoryentry/",
        f"/admin/memory/memoryentry/{entry.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert b"Admin sees this entry" in client.get("/admin/memory/memoryentry/").content
    assert client.get("/admin/memory/document/add/").status_code == 403  # uploads need ingestion


def test_deleting_a_document_in_the_admin_removes_its_file(
    client, superuser, project, django_capture_on_commit_callbacks
):
    from pathlib import Path

    document = DocumentFactory(project=project)
    path = Path(document.file.path)
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/memory/document/{document.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not path.exists()
