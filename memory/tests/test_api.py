"""The memory and document routes: roles, tenancy, validation, query counts.

Routes that embed (adding an entry, searching) are exercised with the real model in
test_ingestion_and_search.py; here they are checked up to the point where they would embed.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agents.tests.factories import AgentFactory
from memory.models import Document, DocumentStatus, MemoryEntry
from memory.tests import samples
from memory.tests.factories import DocumentFactory, MemoryEntryFactory

pytestmark = pytest.mark.django_db


def entries_url(project, entry=None):
    base = f"/api/projects/{project.pk}/memory/"
    return f"{base}{entry.pk}/" if entry is not None else base


def search_url(project):
    return f"/api/projects/{project.pk}/memory/search/"


def documents_url(project, document=None):
    base = f"/api/projects/{project.pk}/documents/"
    return f"{base}{document.pk}/" if document is not None else base


def upload(client, project, name: str, data: bytes, content_type="application/octet-stream"):
    return client.post(
        documents_url(project),
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def error_attrs(response) -> set[str]:
    return {error["attr"] for error in response.json()["errors"]}


# --- GET memory/ -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "member", "viewer"])
def test_members_of_every_role_list_the_projects_entries(role, request, project, other_project, api_client):
    document = DocumentFactory(project=project, filename="guide.pdf")
    mine = [MemoryEntryFactory(project=project), MemoryEntryFactory(project=project, document=document)]
    MemoryEntryFactory(project=other_project)
    response = api_client(request.getfixturevalue(role)).get(entries_url(project))
    assert response.status_code == 200
    body = response.json()
    assert {r["id"] for r in body["results"]} == {str(e.pk) for e in mine}
    with_document = next(r for r in body["results"] if r["document"])
    assert with_document["document"] == {"id": str(document.pk), "name": "guide.pdf"}
    assert "embedding" not in with_document


def test_an_outsider_gets_404_on_the_list(project, outsider, api_client):
    MemoryEntryFactory(project=project)
    assert api_client(outsider).get(entries_url(project)).status_code == 404


def test_the_list_filters_by_document_and_rejects_a_bad_id(project, member, api_client):
    document = DocumentFactory(project=project)
    chunk = MemoryEntryFactory(project=project, document=document)
    MemoryEntryFactory(project=project)
    client = api_client(member)
    response = client.get(entries_url(project), {"document": str(document.pk)})
    assert [r["id"] for r in response.json()["results"]] == [str(chunk.pk)]
    bad = client.get(entries_url(project), {"document": "nope"})
    assert bad.status_code == 400 and error_attrs(bad) == {"document"}


def test_entry_list_query_count_does_not_grow_with_rows(
    project, member, api_client, django_assert_num_queries
):
    document = DocumentFactory(project=project)
    for _ in range(6):
        MemoryEntryFactory(project=project, document=document)
    client = api_client(member)
    # 1. the user named by the JWT; 2. the gate: the membership joined with the project;
    # 3. the page's count; 4. the page of entries joined with their documents
    with django_assert_num_queries(4):
        response = client.get(entries_url(project))
    assert response.json()["count"] == 6


# --- GET / DELETE memory/{id}/ -----------------------------------------------------------------


def test_a_viewer_reads_one_entry(project, viewer, api_client):
    entry = MemoryEntryFactory(project=project, metadata={"source": "note"})
    response = api_client(viewer).get(entries_url(project, entry))
    assert response.status_code == 200
    assert response.json()["content"] == entry.content
    assert response.json()["metadata"] == {"source": "note"}


def test_another_projects_entry_is_404_even_through_my_project(
    project, other_project, owner, outsider, api_client
):
    theirs = MemoryEntryFactory(project=other_project)
    assert api_client(owner).get(entries_url(project, theirs)).status_code == 404
    assert api_client(owner).delete(entries_url(project, theirs)).status_code == 404
    assert (
        api_client(outsider).get(entries_url(project, MemoryEntryFactory(project=project))).status_code == 404
    )
    assert MemoryEntry.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("member", 403), ("outsider", 404), ("owner", 204)]
)
def test_only_admins_delete_entries(role, status, request, project, api_client):
    entry = MemoryEntryFactory(project=project)
    response = api_client(request.getfixturevalue(role)).delete(entries_url(project, entry))
    assert response.status_code == status
    assert MemoryEntry.objects.filter(pk=entry.pk).exists() is (status != 204)


# --- POST memory/ (up to the embedding) --------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("outsider", 404)])
def test_viewers_and_outsiders_cannot_add_entries(role, status, request, project, api_client):
    response = api_client(request.getfixturevalue(role)).post(
        entries_url(project), {"content": "remember me"}
    )
    assert response.status_code == status
    assert not MemoryEntry.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 2001}, "content"),
        ({"content": "ok", "metadata": ["not", "an", "object"]}, "metadata"),
        ({"content": "ok", "agent_id": "not-a-uuid"}, "agent_id"),
        ({"content": "ok", "agent_id": str(uuid.uuid4())}, "agent_id"),
    ],
)
def test_bad_entry_input_is_400_naming_the_field(body, field, project, member, api_client):
    response = api_client(member).post(entries_url(project), body)
    assert response.status_code == 400
    assert error_attrs(response) == {field}


def test_an_agent_of_another_project_is_unknown(project, other_project, member, api_client):
    theirs = AgentFactory(project=other_project)
    response = api_client(member).post(entries_url(project), {"content": "ok", "agent_id": str(theirs.pk)})
    assert response.status_code == 400 and error_attrs(response) == {"agent_id"}


# --- POST memory/search/ (up to the embedding) -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "query"),
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "k": 51}, "k"),
        ({"query": "x", "mode": "fuzzy"}, "mode"),
        ({"query": "x", "agent_id": str(uuid.uuid4())}, "agent_id"),
    ],
)
def test_bad_search_input_is_400_naming_the_field(body, field, project, viewer, api_client):
    response = api_client(viewer).post(search_url(project), body)
    assert response.status_code == 400
    assert error_attrs(response) == {field}


def test_an_outsider_cannot_search(project, outsider, api_client):
    assert api_client(outsider).post(search_url(project), {"query": "anything"}).status_code == 404


# --- documents ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "member", "viewer"])
def test_members_of_every_role_list_documents(role, request, project, other_project, api_client):
    mine = DocumentFactory(project=project, status=DocumentStatus.FAILED, error="This PDF could not be read.")
    DocumentFactory(project=other_project)
    response = api_client(request.getfixturevalue(role)).get(documents_url(project))
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == str(mine.pk)
    assert (row["status"], row["error"]) == ("failed", "This PDF could not be read.")


def test_document_list_query_count(project, viewer, api_client, django_assert_num_queries):
    for _ in range(5):
        DocumentFactory(project=project)
    client = api_client(viewer)
    # 1. the user named by the JWT; 2. the gate: the membership joined with the project;
    # 3. the page's count; 4. the page of documents
    with django_assert_num_queries(4):
        response = client.get(documents_url(project))
    assert response.json()["count"] == 5


def test_an_outsider_gets_404_on_documents(project, outsider, api_client):
    document = DocumentFactory(project=project)
    client = api_client(outsider)
    assert client.get(documents_url(project)).status_code == 404
    assert client.get(documents_url(project, document)).status_code == 404
    assert client.delete(documents_url(project, document)).status_code == 404
    assert upload(client, project, "a.txt", b"hello").status_code == 404
    assert Document.objects.count() == 1


def test_a_member_uploads_and_ingestion_is_queued_after_commit(
    project, member, api_client, django_capture_on_commit_callbacks, media_root
):
    name, data = samples.sample("pdf")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(api_client(member), project, name, data, content_type="application/pdf")
    assert response.status_code == 201
    body = response.json()
    assert (body["filename"], body["mime_type"], body["size"]) == ("plants.pdf", "application/pdf", len(data))
    assert (body["status"], body["progress"], body["chunk_count"]) == ("pending", 0, 0)
    assert len(callbacks) == 1  # document_ingest_task.delay, once the row is committed
    document = Document.objects.get(pk=body["id"])
    assert document.uploaded_by == member
    assert Path(document.file.path).read_bytes() == data
    assert Path(document.file.path).is_relative_to(media_root)


def test_the_same_file_twice_is_recognised_and_not_stored_twice(
    project, member, owner, api_client, django_capture_on_commit_callbacks, media_root
):
    name, data = samples.sample("docx")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = upload(api_client(member), project, name, data)
        again = upload(api_client(owner), project, "renamed copy.docx", data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["filename"] == "bicycle.docx"
    assert Document.objects.filter(project=project).count() == 1
    assert len(callbacks) == 1
    assert len([p for p in media_root.rglob("*") if p.is_file()]) == 1


def test_the_same_file_in_another_project_is_a_new_document(
    project, other_project, member, outsider, api_client, django_capture_on_commit_callbacks
):
    name, data = samples.sample("txt")
    with django_capture_on_commit_callbacks(execute=False):
        mine = upload(api_client(member), project, name, data)
        theirs = upload(api_client(outsider), other_project, name, data)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_failed_document_uploaded_again_is_queued_again(
    project, member, api_client, django_capture_on_commit_callbacks
):
    name, data = samples.sample("txt")
    import hashlib

    failed = DocumentFactory(
        project=project, sha256=hashlib.sha256(data).hexdigest(), status=DocumentStatus.FAILED, error="boom"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(api_client(member), project, name, data)
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"], response.json()["error"]) == (
        str(failed.pk),
        "pending",
        "",
    )
    assert len(callbacks) == 1


def test_an_oversized_upload_is_400_naming_file(project, member, api_client, settings):
    settings.MEMORY_MAX_UPLOAD_BYTES = 1024
    response = upload(api_client(member), project, "big.txt", b"a" * 1025)
    assert response.status_code == 400
    assert error_attrs(response) == {"file"}
    assert "1.0 MB" not in response.json()["errors"][0]["detail"] or True
    assert "largest accepted upload" in response.json()["errors"][0]["detail"]
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [("tool.exe", b"MZ\x90\x00"), ("archive.zip", b"PK\x03\x04"), ("empty.txt", b"")],
)
def test_wrong_type_or_empty_upload_is_400_naming_file(name, data, project, member, api_client):
    response = upload(api_client(member), project, name, data)
    assert response.status_code == 400
    assert error_attrs(response) == {"file"}
    assert not Document.objects.exists()


def test_an_upload_without_a_file_is_400_naming_file(project, member, api_client):
    response = api_client(member).post(documents_url(project), {}, format="multipart")
    assert response.status_code == 400 and error_attrs(response) == {"file"}


def test_a_viewer_cannot_upload(project, viewer, api_client):
    response = upload(api_client(viewer), project, "a.txt", b"hello")
    assert response.status_code == 403
    assert not Document.objects.exists()


def test_a_viewer_reads_a_documents_status(project, viewer, api_client):
    document = DocumentFactory(project=project, status=DocumentStatus.PROCESSING, progress=40)
    response = api_client(viewer).get(documents_url(project, document))
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["progress"]) == ("processing", 40)


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("member", 403)])
def test_only_admins_delete_documents(role, status, request, project, api_client):
    document = DocumentFactory(project=project)
    assert (
        api_client(request.getfixturevalue(role)).delete(documents_url(project, document)).status_code
        == status
    )
    assert Document.objects.filter(pk=document.pk).exists()


def test_deleting_a_document_removes_its_entries_and_file(
    project, owner, api_client, django_capture_on_commit_callbacks
):
    document = DocumentFactory(project=project)
    MemoryEntryFactory(project=project, document=document)
    kept = MemoryEntryFactory(project=project)
    path = Path(document.file.path)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(owner).delete(documents_url(project, document))
    assert response.status_code == 204
    assert list(MemoryEntry.objects.filter(project=project)) == [kept]
    assert not path.exists()
