"""Database pieces of the memory app that migrations import."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.db import DatabaseError
from pgvector.django import VectorExtension


class CreateVectorExtension(VectorExtension):
    """`CREATE EXTENSION IF NOT EXISTS vector`, failing with one line that names the fix.

    Needs a superuser, or the extension already present in `template1` (the test database is
    copied from it). Where the extension already exists, Django executes nothing.
    """

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        try:
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or ["unknown error"])[0]
            raise CommandError(
                f"PostgreSQL could not create the pgvector extension ({first_line}). Install pgvector "
                "on the database server (the pgvector/pgvector:pg17 image, or the postgresql-NN-pgvector "
                "package) and run `CREATE EXTENSION vector;` as a superuser, then migrate again."
            ) from None
