"""Partition memory entries by project (hash), so that a project's vector search uses a small HNSW index.

Why: a search is always filtered to one project. With one HNSW index over every project, that
filter keeps ~1/N of the candidates the graph walk meets, so the index scan has to walk far
(pgvector's iterative scan) and returns neighbours in graph order rather than the true nearest:
measured with bench/memory_search.py at 100k rows over 100 projects, recall@10 fell below 0.5.
pgvector's README recommends partitioning for filters with many distinct values. With
`PARTITION BY HASH (project_id)` each partition has its own HNSW (and GIN, btree) index and a
query for one project is pruned to one partition, where most rows are that project's.

Django's model state does not change (the model still says `id` is the primary key; in the
database the key is (id, project_id), since a partitioned table's keys must hold the partition
column; ids are uuid4, unique in practice). Every index and constraint keeps its name.
"""

from django.db import migrations

PARTITIONS = 32
TABLE = "memory_memoryentry"


def _rebuild(schema_editor, *, partitioned: bool) -> None:
    old = f"{TABLE}_before_rebuild"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{old}"')
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [old, old],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('f', 'u', 'c')",
            [old],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
            [old],
        )
        (columns,) = cursor.fetchone()

        tail = " PARTITION BY HASH (project_id)" if partitioned else ""
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING GENERATED '
            f"INCLUDING STORAGE INCLUDING COMMENTS){tail}"
        )
        if partitioned:
            for remainder in range(PARTITIONS):
                cursor.execute(
                    f'CREATE TABLE "{TABLE}_p{remainder:02d}" PARTITION OF "{TABLE}" '
                    f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {remainder})"
                )
        cursor.execute(f'INSERT INTO "{TABLE}" ({columns}) SELECT {columns} FROM "{old}"')
        cursor.execute(f'DROP TABLE "{old}"')
        primary_key = "(id, project_id)" if partitioned else "(id)"
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_pkey" PRIMARY KEY {primary_key}')
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')
        for _name, definition in indexes:
            # A partitioned table's index definitions say "ON ONLY"; the new table takes them whole.
            definition = definition.replace(" ON ONLY ", " ON ")
            cursor.execute(definition.replace(f"public.{old}", f"public.{TABLE}").replace(f" {old} ", f" {TABLE} "))


def partition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0002_entry_agent"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
