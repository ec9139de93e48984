"""System checks: the configured embedding model must fit memory's embedding column."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register(checks.Tags.models)
def embedding_model_fits(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from inference.registry import UnknownModel

    from .embedding import check_model_fits, current_embedding_model

    model = current_embedding_model()
    try:
        check_model_fits(model)
    except UnknownModel:
        return [
            checks.Error(
                f"The memory embedding model {model!r} is not an embedding model in INFERENCE_MODELS.",
                hint="Set MEMORY_EMBEDDING_MODEL (or INFERENCE_DEFAULT_EMBEDDING_MODEL) to one that is.",
                id="memory.E001",
            )
        ]
    except ValueError as exc:
        return [
            checks.Error(str(exc), hint="Pick a 384-dimension model or migrate the column.", id="memory.E002")
        ]
    return []
