"""Factories for memory. Entries get a deterministic unit vector (not a model's embedding):
tests that need real embeddings go through the inference worker instead."""

from __future__ import annotations

import hashlib

import factory
import numpy as np

from memory.embedding import current_embedding_model
from memory.models import EMBEDDING_DIMENSIONS, Document, DocumentStatus, MemoryEntry
from memory.services import content_hash
from projects.tests.factories import ProjectFactory


def unit_vector(seed: str | int, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A reproducible random unit vector for `seed`."""
    digest = int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:8], "little")
    vector = np.random.default_rng(digest).standard_normal(dimensions)
    return (vector / np.linalg.norm(vector)).tolist()


def near(vector: list[float], seed: str | int, noise: float) -> list[float]:
    """A unit vector close to `vector` (cosine distance grows with `noise`)."""
    mixed = np.asarray(vector) + noise * np.asarray(unit_vector(seed))
    return (mixed / np.linalg.norm(mixed)).tolist()


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    project = factory.SubFactory(ProjectFactory)
    filename = factory.Sequence(lambda n: f"notes-{n}.txt")
    file = factory.django.FileField(filename=factory.SelfAttribute("..filename"), data=b"some text")
    mime_type = "text/plain"
    size = 9
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"document {n}".encode()).hexdigest())
    status = DocumentStatus.READY


class MemoryEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemoryEntry

    project = factory.SubFactory(ProjectFactory)
    content = factory.Sequence(lambda n: f"Memory entry number {n}")
    content_hash = factory.LazyAttribute(lambda o: content_hash(o.content))
    embedding = factory.LazyAttribute(lambda o: unit_vector(o.content))
    embedding_model = factory.LazyFunction(current_embedding_model)
    metadata = factory.Dict({})
