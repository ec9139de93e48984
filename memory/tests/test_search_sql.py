"""The search SQL against the real PostgreSQL + pgvector, with hand-made vectors (no model needed)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from agents.tests.factories import AgentFactory
from memory.embedding import current_embedding_model
from memory.models import MemoryEntry
from memory.search import hybrid_search, vector_search
from memory.tests.factories import MemoryEntryFactory, near, unit_vector

pytestmark = pytest.mark.django_db


def _model() -> str:
    return current_embedding_model()


def test_vector_search_orders_by_cosine_and_scores_similarity(project):
    query = unit_vector("query")
    close = MemoryEntryFactory(project=project, content="close", embedding=near(query, "a", 0.2))
    middle = MemoryEntryFactory(project=project, content="middle", embedding=near(query, "b", 1.0))
    far = MemoryEntryFactory(project=project, content="far", embedding=unit_vector("unrelated"))

    hits = vector_search(project_id=project.pk, embedding=query, model=_model(), k=3)

    assert [h.entry_id for h in hits] == [close.pk, middle.pk, far.pk]
    assert hits[0].score > 0.95 > hits[1].score > hits[2].score
    assert abs(hits[2].score) < 0.3  # random 384-d vectors are nearly orthogonal


def test_vector_search_never_returns_another_projects_entries(project, other_project):
    query = unit_vector("query")
    mine = MemoryEntryFactory(project=project, content="mine", embedding=near(query, "m", 1.5))
    MemoryEntryFactory(project=other_project, content="theirs, identical to the query", embedding=query)

    hits = vector_search(project_id=project.pk, embedding=query, model=_model(), k=5)

    assert [h.entry_id for h in hits] == [mine.pk]


def test_vector_search_skips_vectors_of_another_model(project):
    query = unit_vector("query")
    current = MemoryEntryFactory(project=project, content="current", embedding=near(query, "c", 1.0))
    MemoryEntryFactory(project=project, content="old model", embedding=query, embedding_model="old-model")

    hits = vector_search(project_id=project.pk, embedding=query, model=_model(), k=5)

    assert [h.entry_id for h in hits] == [current.pk]


def test_agent_filter_sees_own_and_shared_entries_only(project):
    agent, other_agent = AgentFactory(project=project), AgentFactory(project=project)
    query = unit_vector("query")
    own = MemoryEntryFactory(project=project, agent=agent, content="own", embedding=near(query, 1, 0.5))
    shared = MemoryEntryFactory(project=project, content="shared", embedding=near(query, 2, 0.7))
    MemoryEntryFactory(project=project, agent=other_agent, content="other agent's", embedding=query)

    hits = vector_search(project_id=project.pk, embedding=query, model=_model(), k=5, agent_id=agent.pk)

    assert {h.entry_id for h in hits} == {own.pk, shared.pk}


def same_partition_project(project):
    """Another project whose rows land in `project`'s hash partition (memory/migrations/0003)."""
    import uuid

    from projects.models import Project

    with connection.cursor() as cursor:
        while True:
            candidate = uuid.uuid4()
            cursor.execute(
                "SELECT bool_and(satisfies_hash_partition('memory_memoryentry'::regclass, 32, r, %s::uuid) "
                "= satisfies_hash_partition('memory_memoryentry'::regclass, 32, r, %s::uuid)) "
                "FROM generate_series(0, 31) r",
                [candidate, project.pk],
            )
            if cursor.fetchone()[0]:
                return Project.objects.create(id=candidate, name="Crowd")


def test_iterative_index_scan_still_returns_k_under_a_selective_filter(project):
    """600 closer rows of another project in the same partition fill HNSW's candidate list
    (ef_search 40); the index scan must keep going until k rows of our project pass the filter."""
    crowd_project = same_partition_project(project)
    with connection.cursor() as cursor:
        # Make the planner take the HNSW path (at this size it would read the project's rows through
        # a btree index and sort them exactly): drop the btree indexes of the filter. DDL is
        # transactional, so this is rolled back with the test.
        # (PostgreSQL 18 can skip-scan the primary key (id, project_id) for the project too.)
        cursor.execute("ALTER TABLE memory_memoryentry DROP CONSTRAINT memory_entry_unique_content")
        cursor.execute("ALTER TABLE memory_memoryentry DROP CONSTRAINT memory_memoryentry_pkey")
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'memory_memoryentry' "
            "AND (indexdef LIKE '%%(project_id%%' OR indexdef LIKE '%%(embedding_model%%')"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
    query = unit_vector("query")
    MemoryEntry.objects.bulk_create(
        [
            MemoryEntryFactory.build(
                project=crowd_project, content=f"crowd {i}", embedding=near(query, i, 0.3)
            )
            for i in range(600)
        ]
    )
    ours = [
        MemoryEntryFactory(project=project, content=f"ours {i}", embedding=near(query, f"o{i}", 2.0))
        for i in range(8)
    ]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memory_memoryentry")
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM memory_memoryentry WHERE project_id = %s AND embedding_model = %s "
            "ORDER BY embedding <=> %s::vector LIMIT 5",
            [project.pk, _model(), "[" + ",".join(map(str, query)) + "]"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Order By: (embedding <=>" in plan, plan  # the partition's HNSW index serves the ORDER BY
    try:
        with override_settings(MEMORY_HNSW_EF_SEARCH=40):
            hits = vector_search(project_id=project.pk, embedding=query, model=_model(), k=5)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")

    assert len(hits) == 5
    assert {h.entry_id for h in hits} <= {e.pk for e in ours}
    distances = [1 - h.score for h in hits]
    assert distances == sorted(distances)


def test_hybrid_search_fuses_text_and_vector_ranks(project, other_project):
    query_vector = unit_vector("query")
    # Found by words only (its vector is unrelated), by vector only, and by both.
    words = MemoryEntryFactory(
        project=project, content="The foghorn of the lighthouse sounds twice a minute."
    )
    vector_only = MemoryEntryFactory(
        project=project, content="Completely different wording here.", embedding=near(query_vector, "v", 0.3)
    )
    both = MemoryEntryFactory(
        project=project,
        content="Lighthouse keepers start the foghorn in fog.",
        embedding=near(query_vector, "b", 0.6),
    )
    for i in range(4):  # nearer than `words` by vector, without the query's words
        MemoryEntryFactory(
            project=project, content=f"Filler about gardening {i}", embedding=near(query_vector, i, 0.8)
        )
    MemoryEntryFactory(
        project=other_project, content="lighthouse foghorn lighthouse foghorn", embedding=query_vector
    )

    with override_settings(MEMORY_HYBRID_CANDIDATES=4):  # each side contributes its best 4
        hits = hybrid_search(
            project_id=project.pk,
            embedding=query_vector,
            query="when does the lighthouse foghorn sound?",
            model=_model(),
            k=3,
        )

    by_id = {h.entry_id: h for h in hits}
    assert set(by_id) == {words.pk, vector_only.pk, both.pk}
    assert hits[0].entry_id == both.pk  # ranked on both sides
    assert by_id[both.pk].text_rank is not None and by_id[both.pk].vector_rank is not None
    assert by_id[words.pk].text_rank is not None
    assert by_id[vector_only.pk].text_rank is None
    assert by_id[both.pk].score == pytest.approx(
        1 / (60 + by_id[both.pk].vector_rank) + 1 / (60 + by_id[both.pk].text_rank)
    )


def test_full_text_vector_is_generated_by_postgres(project):
    entry = MemoryEntryFactory(project=project, content="Running runners ran")
    entry.refresh_from_db()
    assert "run" in str(entry.search_vector)  # stemmed by the english configuration
