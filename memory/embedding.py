"""Embedding for memory: which model, and batches through the inference worker (inference.client)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from django.conf import settings

from .models import EMBEDDING_DIMENSIONS

if TYPE_CHECKING:
    from projects.models import Project


class EmbeddingUnavailable(Exception):
    """The embedding model could not be reached or failed. The message is shown to people.

    `transient`: no inference worker answered (it may be starting or restarting), as opposed
    to a model that failed or answered wrongly; a background task may try again later."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def current_embedding_model() -> str:
    """The model whose vectors memory stores and searches: MEMORY_EMBEDDING_MODEL, else the default."""
    return settings.MEMORY_EMBEDDING_MODEL or settings.INFERENCE_DEFAULT_EMBEDDING_MODEL


def model_dimensions(model: str) -> int | None:
    from inference.registry import EMBEDDING, get_model

    return get_model(model, kind=EMBEDDING).dimensions


def check_model_fits(model: str) -> None:
    """Raise ValueError when `model`'s vectors don't fit the `embedding` column."""
    dimensions = model_dimensions(model)
    if dimensions is not None and dimensions != EMBEDDING_DIMENSIONS:
        raise ValueError(
            f"The embedding model {model!r} makes {dimensions}-dimension vectors, but memory's "
            f"embedding column holds {EMBEDDING_DIMENSIONS}. Changing the width needs a migration of "
            "memory.MemoryEntry.embedding (and its HNSW index)."
        )


def embed_texts(
    texts: Sequence[str],
    *,
    project: Project | None = None,
    model: str | None = None,
    batch_size: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[list[float]]:
    """One vector per text, embedded in batches of MEMORY_EMBED_BATCH_SIZE on the inference worker.

    `on_batch(done, total)` is called after each batch (ingestion progress). Never call this
    inside a database transaction: each batch waits on the worker.
    """
    from inference.client import InferenceError, InferenceUnavailable, embed

    model = model or current_embedding_model()
    batch_size = max(1, batch_size or settings.MEMORY_EMBED_BATCH_SIZE)
    vectors: list[list[float]] = []
    total = len(texts)
    for start in range(0, total, batch_size):
        batch = list(texts[start : start + batch_size])
        try:
            batch_vectors = embed(batch, project=project, model=model, timeout=settings.MEMORY_EMBED_TIMEOUT)
        except InferenceUnavailable as exc:
            raise EmbeddingUnavailable(
                f"The embedding model is not available right now ({exc}). Try again later.", transient=True
            ) from exc
        except InferenceError as exc:
            raise EmbeddingUnavailable(f"The embedding model failed: {exc}") from exc
        if len(batch_vectors) != len(batch):
            raise EmbeddingUnavailable(
                f"The embedding model returned {len(batch_vectors)} vectors for {len(batch)} texts."
            )
        for vector in batch_vectors:
            if len(vector) != EMBEDDING_DIMENSIONS:
                raise EmbeddingUnavailable(
                    f"The embedding model {model!r} returned {len(vector)}-dimension vectors; "
                    f"memory stores {EMBEDDING_DIMENSIONS}."
                )
        vectors.extend(batch_vectors)
        if on_batch is not None:
            on_batch(len(vectors), total)
    return vectors
