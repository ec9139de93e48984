#!/usr/bin/env python
"""Memory search benchmark: recall@10 of the HNSW path against exact search, and latency.

    .venv/bin/python bench/memory_search.py                 # 100k rows over 100 projects
    .venv/bin/python bench/memory_search.py --rows 1000000  # 1M rows (the HNSW build takes a while)

What it does, in one run:
1. creates a separate database (`bench_memory` by default; dropped at the end unless --keep)
   on the configured PostgreSQL, and migrates it, so the table (hash-partitioned by project into
   32 partitions, memory/migrations/0003), the HNSW indexes (m=16, ef_construction=64,
   vector_cosine_ops, one per partition) and the btree indexes are the real ones;
2. bulk-loads N random unit vectors of 384 dimensions spread evenly over P projects with a
   binary COPY (the HNSW index is dropped for the load and rebuilt after it, as one would for a
   bulk import);
3. runs Q queries, each filtered to one project, through the production function
   `memory.search.vector_search` (SET LOCAL hnsw.ef_search, hnsw.iterative_scan=relaxed_order),
   and compares the top 10 with the exact answer computed in NumPy:
   - "planner": the schema as migrated; PostgreSQL picks its plan (EXPLAIN is printed);
   - "exact in PostgreSQL": the same SQL with index scans turned off (a sort of the project's rows);
   - "HNSW": the btree indexes on the filter columns dropped, so that only the partition's HNSW
     index (with the iterative scan filtering on the project) can serve the ORDER BY … LIMIT.
   Each query is a stored vector of the project plus noise (--noise), so that it has real near
   neighbours; with --noise 0 … it is that vector itself.

The vectors are random unit vectors by default: 384 independent dimensions, the worst case
for a graph index (all distances nearly equal). Sentence embeddings are not like that: they
lie near a space of few dimensions. `--intrinsic-dim 32` makes such data (a fixed random
32×384 projection of 32-dimensional Gaussian points, normalised), to show the index on data
shaped more like embeddings.

Latency is wall time on the client (Django → psycopg → Unix socket), warm cache (after one
untimed pass over the queries; --warmup N for fewer), including the transaction and the
statement that sets the two SET LOCAL parameters. The "HNSW" passes run after the btree
indexes and the primary key are dropped, so their final join back to the rows has no index:
their latency is pessimistic; the planner's choice is the production path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
DIM = 384


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--ef-search",
        default="",
        help="comma-separated hnsw.ef_search values for the HNSW pass "
        "(default: MEMORY_HNSW_EF_SEARCH, 40, 100, 200, 400)",
    )
    parser.add_argument("--noise", type=float, default=1.0, help="query = unit(row + noise * random unit)")
    parser.add_argument(
        "--intrinsic-dim",
        type=int,
        default=0,
        help="0: random 384-d vectors; N: N-dimensional data projected",
    )
    parser.add_argument(
        "--warmup", type=int, default=-1, help="untimed queries first (-1: one pass over all of them)"
    )
    parser.add_argument("--database", default="bench_memory")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def unit_rows(rng: np.random.Generator, n: int, projection: np.ndarray | None = None) -> np.ndarray:
    if projection is None:
        rows = rng.standard_normal((n, DIM)).astype(np.float32)
    else:
        rows = (rng.standard_normal((n, projection.shape[0])) @ projection).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def admin_connection(settings_dict: dict):
    import psycopg

    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict.get("PORT") or 5432,
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    args = parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")
    os.environ["DJANGO_DATABASE_NAME"] = args.database
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections

    with admin_connection(settings.DATABASES["default"]) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    try:
        run(args, settings, connection)
    finally:
        connections.close_all()
        if not args.keep:
            with admin_connection(settings.DATABASES["default"]) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            print(f"dropped database {args.database}")


def run(args: argparse.Namespace, settings, connection) -> None:  # noqa: ANN001
    from django.core.management import call_command
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    from memory.embedding import current_embedding_model
    from memory.search import vector_search
    from projects.models import Project

    rng = np.random.default_rng(args.seed)
    projection = rng.standard_normal((args.intrinsic_dim, DIM)) if args.intrinsic_dim else None
    model = current_embedding_model()
    print(
        f"rows {args.rows:,} over {args.projects} projects, {DIM} dimensions, k={args.k}, "
        f"ef_search={settings.MEMORY_HNSW_EF_SEARCH}, {args.queries} queries, noise {args.noise}, "
        f"{f'intrinsic dimension {args.intrinsic_dim}' if args.intrinsic_dim else 'random vectors'}"
    )

    started = time.monotonic()
    call_command("migrate", verbosity=0, skip_checks=True)
    projects = Project.objects.bulk_create([Project(name=f"bench {i}") for i in range(args.projects)])
    project_ids = [p.pk for p in projects]
    print(f"migrated in {time.monotonic() - started:.1f} s")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'memory_memoryentry' "
            "AND indexname IN ('memory_entry_embedding_hnsw', 'memory_entry_search_gin')"
        )
        dropped = dict(cursor.fetchall())
        for name in dropped:
            cursor.execute(f'DROP INDEX "{name}"')

    # Load: project i gets rows i, i + P, i + 2P, … (evenly spread, interleaved like real inserts).
    started = time.monotonic()
    vectors = np.empty((args.rows, DIM), dtype=np.float32)
    ids = [uuid.uuid4() for _ in range(args.rows)]
    owner = np.arange(args.rows) % args.projects
    raw = connection.connection
    register_vector(raw)
    batch = 20_000
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY memory_memoryentry (id, created_at, updated_at, project_id, content, content_hash, "
            "embedding, embedding_model, metadata) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["uuid", "timestamptz", "timestamptz", "uuid", "text", "varchar", "vector",
                        "varchar", "jsonb"])  # fmt: skip
        stamp = datetime.now(UTC)
        for start in range(0, args.rows, batch):
            chunk = unit_rows(rng, min(batch, args.rows - start), projection)
            vectors[start : start + len(chunk)] = chunk
            for offset, vector in enumerate(chunk):
                i = start + offset
                copy.write_row(
                    [ids[i], stamp, stamp, project_ids[owner[i]], f"bench entry {i}", f"{i:064x}",
                     vector, model, Jsonb({})]
                )  # fmt: skip
    load_s = time.monotonic() - started
    print(f"loaded {args.rows:,} rows with COPY in {load_s:.1f} s ({args.rows / load_s:,.0f} rows/s)")

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '4GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        # The table is partitioned by project (memory/migrations/0003): "ON ONLY" would make only
        # the parent's index; without it every partition gets its own HNSW index.
        cursor.execute(dropped["memory_entry_embedding_hnsw"].replace(" ON ONLY ", " ON "))
        cursor.execute("VACUUM ANALYZE memory_memoryentry")
    print(f"built the HNSW index in {time.monotonic() - started:.1f} s")

    # Queries and their exact answers (NumPy, cosine = dot product of unit vectors).
    queries = []
    for _ in range(args.queries):
        p = int(rng.integers(args.projects))
        members = np.flatnonzero(owner == p)
        base = vectors[members[int(rng.integers(len(members)))]]
        q = base + args.noise * unit_rows(rng, 1)[0]
        q /= np.linalg.norm(q)
        top = members[np.argsort(-(vectors[members] @ q))[: args.k]]
        queries.append((project_ids[p], q.tolist(), {ids[i] for i in top}))

    def measure(label: str, prepare_sql: list[str] | None = None) -> dict[str, float]:
        from django.db import transaction

        latencies, recalls = [], []
        for project_id, q, truth in queries:
            t0 = time.perf_counter()
            if prepare_sql:
                with transaction.atomic(), connection.cursor() as cursor:
                    for statement in prepare_sql:
                        cursor.execute(statement)
                    hits = vector_search(project_id=project_id, embedding=q, model=model, k=args.k)
            else:
                hits = vector_search(project_id=project_id, embedding=q, model=model, k=args.k)
            elapsed = (time.perf_counter() - t0) * 1000
            latencies.append(elapsed)
            recalls.append(len({h.entry_id for h in hits} & truth) / args.k)
        result = {
            "recall": statistics.fmean(recalls),
            "min_recall": min(recalls),
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
        }
        print(f"{label:<22} recall@{args.k} {result['recall']:.4f} (worst query {result['min_recall']:.1f})  "
              f"p50 {result['p50']:.2f} ms  p95 {result['p95']:.2f} ms")  # fmt: skip
        return result

    def explain(label: str, prepare_sql: list[str] | None = None) -> None:
        from django.db import transaction

        from memory.search import _set_hnsw, vector_search_sql

        project_id, q, _ = queries[0]
        sql, params = vector_search_sql(project_id=project_id, embedding=q, model=model, k=args.k)
        with transaction.atomic(), connection.cursor() as cursor:
            _set_hnsw(cursor, k=args.k)
            for statement in prepare_sql or []:
                cursor.execute(statement)
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        scans = [line.strip().removeprefix("->  ") for line in plan if "Scan" in line]
        print(f"  plan ({label}): {scans[0] if scans else plan[0]}")

    # Warm the cache (index and heap) before timing: by default one untimed pass over every query,
    # so that each project's index pages have been read once, as they are for a project in use.
    warmup = queries if args.warmup < 0 else queries[: args.warmup]
    for project_id, q, _ in warmup:
        vector_search(project_id=project_id, embedding=q, model=model, k=args.k)
    print(f"warm-up: {len(warmup)} untimed queries")

    default_ef = settings.MEMORY_HNSW_EF_SEARCH
    ef_values = [int(v) for v in args.ef_search.split(",") if v] or list(
        dict.fromkeys([default_ef, 40, 100, 200, 400])
    )
    print()
    explain("planner")
    planner = measure("planner's choice")
    for ef in ef_values[1:]:  # the production path at other hnsw.ef_search values
        settings.MEMORY_HNSW_EF_SEARCH = ef
        measure(f"planner, ef_search={ef}")
    settings.MEMORY_HNSW_EF_SEARCH = default_ef
    exact = measure("exact in PostgreSQL", ["SET LOCAL enable_indexscan = off"])
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE memory_memoryentry DROP CONSTRAINT memory_entry_unique_content")
        # PostgreSQL 18 can skip-scan the primary key (id, project_id) for a project, so it goes too.
        cursor.execute("ALTER TABLE memory_memoryentry DROP CONSTRAINT memory_memoryentry_pkey")
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'memory_memoryentry' "
            "AND (indexdef LIKE '%(project_id%' OR indexdef LIKE '%(embedding_model%')"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("ANALYZE memory_memoryentry")
    # Small partitions may still be read whole (a sequential scan): rule that out too.
    force_hnsw = ["SET LOCAL enable_seqscan = off"]
    explain("btree indexes dropped", force_hnsw)
    results = {}
    for ef in ef_values:
        settings.MEMORY_HNSW_EF_SEARCH = ef
        results[ef] = measure(f"HNSW ef_search={ef}", force_hnsw)
    settings.MEMORY_HNSW_EF_SEARCH = default_ef
    hnsw = results[ef_values[0]]
    print()
    print(f"HNSW (ef_search={ef_values[0]}) recall@{args.k} vs exact: {hnsw['recall']:.4f}")
    print(f"HNSW p95 / exact-in-PostgreSQL p95: {hnsw['p95'] / exact['p95']:.2f}")
    print(f"planner's choice: recall@{args.k} {planner['recall']:.4f}, p95 {planner['p95']:.2f} ms")


if __name__ == "__main__":
    main()
