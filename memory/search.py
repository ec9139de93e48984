"""The search SQL: vector (HNSW, cosine) and hybrid (full text + vector, reciprocal rank fusion).

Both take an already computed query vector, so that no transaction is open while the query
is embedded. Each runs in its own short transaction so that `SET LOCAL` applies to it only:

- `hnsw.ef_search` (MEMORY_HNSW_EF_SEARCH, at least k): the size of the HNSW candidate list;
- `hnsw.iterative_scan = relaxed_order` (pgvector ≥ 0.8): when the project/agent/model filter
  removes candidates, the index scan continues until k rows pass the filter, instead of
  returning fewer. Relaxed order can return rows slightly out of order, so the outer query
  sorts the materialized rows again, as pgvector's README recommends.

The planner may also choose an exact scan (the project index, then sort by distance) when a
project holds few rows; both paths give the same kind of answer.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from pgvector import Vector

from .models import FTS_CONFIG


@dataclass(frozen=True)
class Hit:
    entry_id: uuid.UUID
    content: str
    score: float
    metadata: dict[str, Any]
    agent_id: uuid.UUID | None
    document_id: uuid.UUID | None
    document_name: str | None
    created_at: Any
    vector_rank: int | None = None
    text_rank: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "content": self.content,
            "score": self.score,
            "metadata": self.metadata,
            "agent_id": self.agent_id,
            "document_id": self.document_id,
            "document_name": self.document_name,
            "created_at": self.created_at,
            "vector_rank": self.vector_rank,
            "text_rank": self.text_rank,
        }


def _filters(*, project_id: uuid.UUID, model: str, agent_id: uuid.UUID | None) -> tuple[str, dict[str, Any]]:
    """The tenant filter, always present: the project, the current model, and optionally the agent.

    An agent sees its own entries and the project's shared ones (agent_id IS NULL).
    """
    sql = "e.project_id = %(project_id)s AND e.embedding_model = %(model)s"
    params: dict[str, Any] = {"project_id": project_id, "model": model}
    if agent_id is not None:
        sql += " AND (e.agent_id = %(agent_id)s OR e.agent_id IS NULL)"
        params["agent_id"] = agent_id
    return sql, params


def _set_hnsw(cursor: Any, *, k: int) -> None:
    ef_search = max(int(settings.MEMORY_HNSW_EF_SEARCH), k)
    # Both SET LOCALs in one round trip (set_config(..., true) is SET LOCAL).
    cursor.execute(
        "SELECT set_config('hnsw.ef_search', %s, true),"
        " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
        [str(ef_search)],
    )


_ROW = """
    e.id, e.content, e.metadata, e.agent_id, e.document_id, d.filename, e.created_at
"""


def _hit(row: tuple[Any, ...], *, score: float, vector_rank: int | None, text_rank: int | None) -> Hit:
    entry_id, content, metadata, agent_id, document_id, document_name, created_at = row
    return Hit(
        entry_id=entry_id,
        content=content,
        score=float(score),
        metadata=json.loads(metadata) if isinstance(metadata, str) else (metadata or {}),
        agent_id=agent_id,
        document_id=document_id,
        document_name=document_name,
        created_at=created_at,
        vector_rank=vector_rank,
        text_rank=text_rank,
    )


def vector_search_sql(
    *, project_id: uuid.UUID, embedding: list[float], model: str, k: int, agent_id: uuid.UUID | None = None
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of vector_search (the benchmark EXPLAINs exactly this)."""
    where, params = _filters(project_id=project_id, model=model, agent_id=agent_id)
    params.update({"query": Vector(embedding).to_text(), "k": k})
    sql = f"""
        WITH nearest AS MATERIALIZED (
            SELECT e.id, e.embedding <=> %(query)s::vector AS distance
            FROM memory_memoryentry e
            WHERE {where}
            ORDER BY e.embedding <=> %(query)s::vector
            LIMIT %(k)s
        )
        SELECT {_ROW}, n.distance
        FROM nearest n
        JOIN memory_memoryentry e ON e.id = n.id AND e.project_id = %(project_id)s  -- prunes to one partition
        LEFT JOIN memory_document d ON d.id = e.document_id
        ORDER BY n.distance, e.id
    """  # noqa: S608 (only our own fragments are interpolated; values are parameters)
    return sql, params


def vector_search(
    *, project_id: uuid.UUID, embedding: list[float], model: str, k: int, agent_id: uuid.UUID | None = None
) -> list[Hit]:
    """The k nearest entries by cosine distance; score = cosine similarity (1 − distance)."""
    sql, params = vector_search_sql(
        project_id=project_id, embedding=embedding, model=model, k=k, agent_id=agent_id
    )
    with transaction.atomic(), connection.cursor() as cursor:
        _set_hnsw(cursor, k=k)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        _hit(row[:-1], score=1.0 - row[-1], vector_rank=rank, text_rank=None)
        for rank, row in enumerate(rows, start=1)
    ]


def hybrid_search(
    *,
    project_id: uuid.UUID,
    embedding: list[float],
    query: str,
    model: str,
    k: int,
    agent_id: uuid.UUID | None = None,
) -> list[Hit]:
    """Full-text ranking (ts_rank) and vector ranking, fused by reciprocal rank fusion.

    Each side contributes its best `max(MEMORY_HYBRID_CANDIDATES, k)` rows; an entry scores
    Σ 1 / (MEMORY_RRF_K + rank) over the sides it appears in. The text side ORs the query's
    lexemes (plainto_tsquery joins them with AND, which a natural-language question rarely
    matches in full), so entries matching more of the words rank higher.
    """
    where, params = _filters(project_id=project_id, model=model, agent_id=agent_id)
    candidates = max(int(settings.MEMORY_HYBRID_CANDIDATES), k)
    params.update(
        {
            "query": Vector(embedding).to_text(),
            "text": query,
            "config": FTS_CONFIG,
            "candidates": candidates,
            "rrf_k": int(settings.MEMORY_RRF_K),
            "k": k,
        }
    )
    sql = f"""
        WITH vec AS MATERIALIZED (
            SELECT id, row_number() OVER (ORDER BY distance, id) AS rank
            FROM (
                SELECT e.id, e.embedding <=> %(query)s::vector AS distance
                FROM memory_memoryentry e
                WHERE {where}
                ORDER BY e.embedding <=> %(query)s::vector
                LIMIT %(candidates)s
            ) nearest
        ),
        tsq AS (
            SELECT CASE WHEN numnode(q) = 0 THEN q
                        ELSE replace(q::text, ' & ', ' | ')::tsquery END AS q
            FROM plainto_tsquery(%(config)s::regconfig, %(text)s) AS q
        ),
        txt AS MATERIALIZED (
            SELECT id, row_number() OVER (ORDER BY rank DESC, id) AS rank
            FROM (
                SELECT e.id, ts_rank(e.search_vector, tsq.q) AS rank
                FROM memory_memoryentry e, tsq
                WHERE {where} AND e.search_vector @@ tsq.q
                ORDER BY rank DESC
                LIMIT %(candidates)s
            ) matches
        ),
        fused AS (
            SELECT COALESCE(vec.id, txt.id) AS id,
                   COALESCE(1.0 / (%(rrf_k)s + vec.rank), 0) + COALESCE(1.0 / (%(rrf_k)s + txt.rank), 0)
                       AS score,
                   vec.rank AS vector_rank,
                   txt.rank AS text_rank
            FROM vec FULL OUTER JOIN txt ON vec.id = txt.id
        )
        SELECT {_ROW}, f.score, f.vector_rank, f.text_rank
        FROM fused f
        JOIN memory_memoryentry e ON e.id = f.id AND e.project_id = %(project_id)s  -- prunes to one partition
        LEFT JOIN memory_document d ON d.id = e.document_id
        ORDER BY f.score DESC, f.vector_rank NULLS LAST, e.id
        LIMIT %(k)s
    """  # noqa: S608 (only our own fragments are interpolated; values are parameters)
    with transaction.atomic(), connection.cursor() as cursor:
        _set_hnsw(cursor, k=candidates)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [_hit(row[:-3], score=row[-3], vector_rank=row[-2], text_rank=row[-1]) for row in rows]
