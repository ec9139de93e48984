"""Ingestion and search with the real embedding model, through a real inference worker.

Real small files of every accepted type are ingested (in-process pipeline, as `manage.py
ingest` runs it; one upload goes end to end through a real `default` worker), then searched.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from memory.ingestion import document_ingest
from memory.models import Document, DocumentStatus, MemoryEntry
from memory.selectors import memory_retrieve, memory_search
from memory.services import document_upload, memory_entry_create
from memory.tests import samples

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inference_worker")]

# A question for each sample, and the file whose chunk must come first.
QUESTIONS = [
    ("When does the keeper start the foghorn?", "lighthouse.txt"),
    ("How should I feed my sourdough starter?", "sourdough.md"),
    ("What are the dangers of lava and ash near an eruption?", "volcano.html"),
    ("How do plants make sugar from sunlight?", "plants.pdf"),
    ("How often should I oil my bike chain?", "bicycle.docx"),
]


def ingest(project, kind: str, *, uploader=None) -> Document:
    name, data = samples.sample(kind)
    document, created = document_upload(
        project=project, file=ContentFile(data, name=name), filename=name, uploaded_by=uploader, enqueue=False
    )
    assert created
    result = document_ingest(document_id=document.pk)
    assert result.status == DocumentStatus.READY, result.error
    assert result.document is not None
    return result.document


@pytest.fixture
def ingested(project, member):
    """The five samples ingested into `project`, in chunks small enough that the PDF has two."""
    with override_settings(MEMORY_CHUNK_SIZE=200, MEMORY_CHUNK_OVERLAP=40):
        return {kind: ingest(project, kind, uploader=member) for kind in samples.MAKERS}


def test_every_accepted_type_is_ingested_into_chunks_with_vectors(ingested, project):
    for document in ingested.values():
        assert (document.status, document.progress, document.error) == ("ready", 100, "")
        assert document.chunk_count == MemoryEntry.objects.filter(document=document).count() >= 1
    assert ingested["pdf"].chunk_count >= 2  # one per page at this chunk size
    pages = set(MemoryEntry.objects.filter(document=ingested["pdf"]).values_list("metadata__page", flat=True))
    assert pages == {1, 2}
    entry = MemoryEntry.objects.filter(project=project).first()
    assert len(entry.embedding) == 384
    assert entry.embedding_model == "all-minilm-l6-v2"


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_search_finds_the_right_chunk_in_each_mode(mode, ingested, project):
    for question, filename in QUESTIONS:
        hits = memory_search(project=project, query=question, k=3, mode=mode)
        assert hits[0]["document_name"] == filename, (question, [h["document_name"] for h in hits])
        assert hits[0]["document_id"] == ingested[Path(filename).suffix[1:]].pk
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_a_pdf_hit_names_its_page(ingested, project):
    [hit] = memory_search(project=project, query="Which treaty ended the Thirty Years War?", k=1)
    assert hit["document_name"] == "plants.pdf"
    assert hit["metadata"]["page"] == 2
    assert "Westphalia" in hit["content"]


def test_search_through_the_api_as_a_viewer(ingested, project, viewer, api_client):
    response = api_client(viewer).post(
        f"/api/projects/{project.pk}/memory/search/",
        {"query": "volcano eruption hazards", "k": 2, "mode": "hybrid"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["mode"], body["embedding_model"]) == ("hybrid", "all-minilm-l6-v2")
    top = body["results"][0]
    assert top["document_name"] == "volcano.html"
    assert top["document_id"] == str(ingested["html"].pk)
    assert top["vector_rank"] is not None and top["text_rank"] is not None
    assert len(body["results"]) == 2


def test_another_projects_documents_are_never_found(ingested, project, other_project, outsider):
    # The other project holds a document about exactly what we ask; ours does not.
    name, data = "secret.txt", b"The launch code of the other project's rocket is kept in the blue safe."
    document, _ = document_upload(project=other_project, file=ContentFile(data, name=name), enqueue=False)
    assert document_ingest(document_id=document.pk).status == "ready"

    for mode in ("vector", "hybrid"):
        hits = memory_search(project=project, query="Where is the rocket launch code kept?", k=50, mode=mode)
        assert hits and all(h["document_name"] != "secret.txt" for h in hits)
        assert {h["entry_id"] for h in hits} <= set(
            MemoryEntry.objects.filter(project=project).values_list("id", flat=True)
        )
    retrieved = memory_retrieve(project=project, query="rocket launch code blue safe", k=10)
    assert retrieved and all(r["document_name"] != "secret.txt" for r in retrieved)
    theirs = memory_retrieve(project=other_project, query="rocket launch code blue safe", k=10)
    assert [r["document_name"] for r in theirs] == ["secret.txt"]
    assert set(theirs[0]) >= {"entry_id", "content", "score", "document_id", "document_name"}


def test_the_memory_search_tool_only_sees_its_agents_project(ingested, project, other_project):
    from agents.tests.factories import AgentFactory
    from agents.tools.registry import ToolContext, get_registered_tool

    tool = get_registered_tool("memory_search")
    assert tool is not None
    memory_entry_create(project=other_project, content="The other project's foghorn is painted green.")
    ctx = ToolContext(
        project=project,
        agent=AgentFactory(project=project),
        conversation=None,
        deadline=time.monotonic() + 30,
    )
    result = tool.handler(ctx, query="what colour is the foghorn painted", k=10)
    assert result["results"], result
    names = {r["document_name"] for r in result["results"]}
    assert "lighthouse.txt" in names
    assert all("painted green" not in r["content"] for r in result["results"])


def test_a_member_adds_an_entry_once_and_finds_it(project, member, viewer, api_client):
    client = api_client(member)
    url = f"/api/projects/{project.pk}/memory/"
    first = client.post(url, {"content": "Our staging server is called Bluebird.", "metadata": {"by": "ops"}})
    assert first.status_code == 201, first.json()
    again = client.post(url, {"content": "  Our staging server is called Bluebird.  "})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert MemoryEntry.objects.filter(project=project).count() == 1
    assert first.json()["embedding_model"] == "all-minilm-l6-v2"

    response = api_client(viewer).post(
        f"/api/projects/{project.pk}/memory/search/", {"query": "name of staging host"}
    )
    [hit] = response.json()["results"]
    assert hit["entry_id"] == first.json()["id"]
    assert hit["document_id"] is None and hit["metadata"] == {"by": "ops"}
    assert 0 < hit["score"] <= 1


def test_an_agents_entries_are_seen_by_that_agent_only(project):
    from agents.tests.factories import AgentFactory

    alice, bob = AgentFactory(project=project), AgentFactory(project=project)
    own, _ = memory_entry_create(project=project, agent=alice, content="Alice prefers tea in the morning.")
    shared, _ = memory_entry_create(project=project, content="The office kettle is in the kitchen.")
    as_alice = {h["entry_id"] for h in memory_search(project=project, query="morning tea", k=10, agent=alice)}
    as_bob = {h["entry_id"] for h in memory_search(project=project, query="morning tea", k=10, agent=bob)}
    assert as_alice == {own.pk, shared.pk}
    assert as_bob == {shared.pk}


def test_a_corrupt_pdf_fails_with_a_reason_and_leaves_no_chunks(project):
    document, _ = document_upload(
        project=project, file=ContentFile(samples.make_corrupt_pdf(), name="broken.pdf"), enqueue=False
    )
    result = document_ingest(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == "failed"
    assert document.error == "This PDF could not be read: it is damaged or incomplete."
    assert (document.chunk_count, result.chunks) == (0, 0)
    assert not MemoryEntry.objects.filter(project=project).exists()


def test_a_failure_after_some_batches_leaves_no_partial_chunks(project):
    text = "\n\n".join(f"Paragraph {i} is about the harbour's tide tables and boats." * 3 for i in range(30))
    document, _ = document_upload(
        project=project, file=ContentFile(text.encode(), name="tides.txt"), enqueue=False
    )
    seen = []

    def stop_after_two_batches(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 2:
            raise RuntimeError("the worker went away")

    with override_settings(MEMORY_CHUNK_SIZE=200, MEMORY_EMBED_BATCH_SIZE=4):
        result = document_ingest(document_id=document.pk, on_chunks=stop_after_two_batches)
    document.refresh_from_db()
    assert seen == [4, 8], document.error  # two batches were embedded before the failure
    assert (document.status, result.status) == ("failed", "failed")
    assert "unexpectedly" in document.error
    assert not MemoryEntry.objects.filter(document=document).exists()


def test_an_unusable_embedding_model_fails_the_document_with_a_reason(project, settings):
    settings.MEMORY_EMBEDDING_MODEL = "smollm2-135m-instruct"  # a chat model
    document, _ = document_upload(
        project=project, file=ContentFile(samples.make_txt(), name="lighthouse.txt"), enqueue=False
    )
    document_ingest(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == "failed"
    assert document.error.startswith("The embedding model failed")
    assert "smollm2-135m-instruct" in document.error
    assert not MemoryEntry.objects.exists()


def test_search_ignores_vectors_of_an_older_model_until_reembedded(project):
    from django.core.management import call_command

    entry, _ = memory_entry_create(project=project, content="The archive room is on the third floor.")
    MemoryEntry.objects.filter(pk=entry.pk).update(embedding_model="old-model")
    assert memory_search(project=project, query="where is the archive room", k=5) == []

    call_command("reembed_memory", "--no-progress", stdout=open("/dev/null", "w"))  # noqa: SIM115

    entry.refresh_from_db()
    assert entry.embedding_model == "all-minilm-l6-v2"
    [hit] = memory_search(project=project, query="where is the archive room", k=5)
    assert hit["entry_id"] == entry.pk and hit["score"] > 0.5


def test_an_upload_is_ingested_in_the_background_by_a_default_worker(
    default_worker, worker_media_root, project, member, api_client
):
    client = api_client(member)
    name, data = samples.sample("docx")
    response = client.post(
        f"/api/projects/{project.pk}/documents/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201
    url = f"/api/projects/{project.pk}/documents/{response.json()['id']}/"
    deadline = time.monotonic() + 60
    body = response.json()
    while body["status"] in ("pending", "processing") and time.monotonic() < deadline:
        time.sleep(0.2)
        body = client.get(url).json()
    assert body["status"] == "ready", (body, default_worker.log()[-3000:])
    assert body["chunk_count"] >= 1 and body["progress"] == 100
    [hit] = memory_search(project=project, query="bike chain oil", k=1)
    assert hit["document_name"] == "bicycle.docx"
    Document.objects.get(pk=body["id"]).file.delete(save=False)  # leave no file behind
