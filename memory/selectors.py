"""Reads for memory: lists, lookups, and search (REST, the agent runtime's RAG, the memory_search tool).

Every function takes the project and filters on it; there is no unscoped read here.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from .embedding import current_embedding_model, embed_texts
from .models import Document, MemoryEntry
from .search import hybrid_search, vector_search

if TYPE_CHECKING:
    from agents.models import Agent
    from projects.models import Project

VECTOR = "vector"
HYBRID = "hybrid"
SEARCH_MODES = (VECTOR, HYBRID)


def memory_entry_list(
    *, project: Project, agent: Agent | None = None, document: Document | None = None
) -> QuerySet[MemoryEntry]:
    """The project's entries, newest first, without the vectors (the list never shows them)."""
    qs = (
        MemoryEntry.objects.filter(project=project)
        .select_related("document")
        .defer("embedding", "search_vector", "document__file")
    )
    if agent is not None:
        qs = qs.filter(agent=agent)
    if document is not None:
        qs = qs.filter(document=document)
    return qs.order_by("-created_at", "id")


def memory_entry_get(*, project: Project, entry_id: uuid.UUID | str) -> MemoryEntry:
    entry = memory_entry_list(project=project).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound("No such memory entry.")
    return entry


def document_list(*, project: Project) -> QuerySet[Document]:
    return (
        Document.objects.filter(project=project).select_related("uploaded_by").order_by("-created_at", "id")
    )


def document_get(*, project: Project, document_id: uuid.UUID | str) -> Document:
    document = document_list(project=project).filter(pk=document_id).first()
    if document is None:
        raise NotFound("No such document.")
    return document


def memory_search(
    *, project: Project, query: str, k: int, agent: Agent | None = None, mode: str = VECTOR
) -> list[dict[str, Any]]:
    """The k entries of `project` closest to `query`, best first.

    - `vector`: cosine similarity (score = 1 − cosine distance) through the HNSW index;
    - `hybrid`: full-text rank and vector rank fused by reciprocal rank fusion (score = RRF sum).
    With `agent`, that agent's own entries and the project's shared ones (no agent) are searched.
    Only vectors of the current embedding model are compared. Each result: entry_id, content,
    score, metadata, agent_id, document_id, document_name, created_at, vector_rank, text_rank.
    Raises EmbeddingUnavailable when the query cannot be embedded.
    """
    if mode not in SEARCH_MODES:
        raise ValueError(f"mode must be one of {SEARCH_MODES}")
    if agent is not None and agent.project_id != project.pk:
        raise ValueError("The agent belongs to another project.")
    k = max(1, min(int(k), settings.MEMORY_SEARCH_MAX_K))
    query = query.strip()
    if not query:
        return []
    model = current_embedding_model()
    [embedding] = embed_texts([query], project=project, model=model)
    agent_id = agent.pk if agent is not None else None
    if mode == HYBRID:
        hits = hybrid_search(
            project_id=project.pk, embedding=embedding, query=query, model=model, k=k, agent_id=agent_id
        )
    else:
        hits = vector_search(project_id=project.pk, embedding=embedding, model=model, k=k, agent_id=agent_id)
    return [hit.as_dict() for hit in hits]


def memory_retrieve(
    *, project: Project, query: str, k: int, agent: Agent | None = None
) -> list[dict[str, Any]]:
    """Entries for RAG: the agent runtime puts these in the prompt and cites them.

    Each dict: entry_id, content, score, document_id, document_name (plus metadata, e.g. the
    PDF page). Mode: MEMORY_RETRIEVE_MODE (hybrid by default). Raises EmbeddingUnavailable.
    """
    mode = settings.MEMORY_RETRIEVE_MODE if settings.MEMORY_RETRIEVE_MODE in SEARCH_MODES else HYBRID
    hits = memory_search(project=project, query=query, k=k, agent=agent, mode=mode)
    return [
        {
            "entry_id": hit["entry_id"],
            "content": hit["content"],
            "score": hit["score"],
            "document_id": hit["document_id"],
            "document_name": hit["document_name"],
            "metadata": hit["metadata"],
        }
        for hit in hits
    ]
