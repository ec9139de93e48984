"""The model registry: `settings.INFERENCE_MODELS`, plus `INFERENCE_MODELS_FILE` merged over it.

Each entry maps a model name to a GGUF file and how to run it:

    {"kind": "chat" | "embedding",
     "file": "name.gguf",          # relative to MODEL_DIR, or absolute
     "n_ctx": 2048, "n_threads": 0 (→ INFERENCE_THREADS), "n_batch": 512,
     "n_gpu_layers": None (→ INFERENCE_GPU_LAYERS, then -1 if the build can offload, else 0),
     "chat_format": None (→ the GGUF's own chat template),
     "dimensions": 384 (embedding models),
     "description": "...",
     "sha256": "..." (checked by prepare_models),
     "source": {...} (how prepare_models makes the file; none for files you bring)}

No llama_cpp import here: the web process reads the registry too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CHAT = "chat"
EMBEDDING = "embedding"
KINDS = (CHAT, EMBEDDING)


class UnknownModel(LookupError):
    def __init__(self, name: str, kind: str | None = None) -> None:
        self.name = name
        self.kind = kind
        what = f"{kind} model" if kind else "model"
        super().__init__(f"Unknown {what} {name!r}.")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    file: str
    path: Path
    n_ctx: int
    n_threads: int
    n_batch: int
    n_gpu_layers: int | None
    chat_format: str | None
    dimensions: int | None
    description: str
    sha256: str | None
    source: dict[str, Any] | None = field(default=None, compare=False)

    def public(self) -> dict[str, Any]:
        """What the API shows: no paths, no sources."""
        return {
            "name": self.name,
            "kind": self.kind,
            "n_ctx": self.n_ctx,
            "dimensions": self.dimensions,
            "description": self.description,
            "default": self.name == default_model_name(self.kind),
        }


def _threads(value: Any) -> int:
    threads = int(value or settings.INFERENCE_THREADS or 0)
    return threads if threads > 0 else max(1, os.cpu_count() or 1)


def _spec(name: str, entry: dict[str, Any]) -> ModelSpec:
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ImproperlyConfigured(f"INFERENCE_MODELS[{name!r}]: kind must be one of {KINDS}")
    if not entry.get("file"):
        raise ImproperlyConfigured(f"INFERENCE_MODELS[{name!r}]: file is required")
    path = Path(entry["file"])
    if not path.is_absolute():
        path = Path(settings.MODEL_DIR) / path
    gpu_layers = entry.get("n_gpu_layers", settings.INFERENCE_GPU_LAYERS)
    dimensions = entry.get("dimensions")
    return ModelSpec(
        name=name,
        kind=kind,
        file=str(entry["file"]),
        path=path,
        n_ctx=int(entry.get("n_ctx") or (512 if kind == EMBEDDING else 2048)),
        n_threads=_threads(entry.get("n_threads")),
        n_batch=int(entry.get("n_batch") or 512),
        n_gpu_layers=None if gpu_layers is None else int(gpu_layers),
        chat_format=entry.get("chat_format") or None,
        dimensions=int(dimensions) if dimensions else None,
        description=str(entry.get("description", "")),
        sha256=entry.get("sha256") or None,
        source=entry.get("source") or None,
    )


def _extra_models(path: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"INFERENCE_MODELS_FILE {path!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ImproperlyConfigured(f"INFERENCE_MODELS_FILE {path!r} must hold a JSON object")
    return data


@lru_cache(maxsize=8)
def _models(file: str, models_json: str, *_settings: Any) -> dict[str, ModelSpec]:
    # `_settings`: the other settings that the specs depend on, part of the cache key only.
    entries: dict[str, Any] = json.loads(models_json)
    entries.update(_extra_models(file))
    return {name: _spec(name, entry) for name, entry in entries.items() if entry}


def all_models() -> dict[str, ModelSpec]:
    """Every configured model, by name (cached per configuration)."""
    return _models(
        settings.INFERENCE_MODELS_FILE,
        json.dumps(settings.INFERENCE_MODELS, sort_keys=True),
        str(settings.MODEL_DIR),
        settings.INFERENCE_THREADS,
        settings.INFERENCE_GPU_LAYERS,
    )


def default_model_name(kind: str) -> str:
    if kind == CHAT:
        return settings.INFERENCE_DEFAULT_CHAT_MODEL
    return settings.INFERENCE_DEFAULT_EMBEDDING_MODEL


def get_model(name: str | None, *, kind: str) -> ModelSpec:
    """The model called `name` (the default one of `kind` when None); UnknownModel otherwise."""
    name = name or default_model_name(kind)
    spec = all_models().get(name)
    if spec is None or spec.kind != kind:
        raise UnknownModel(name, kind)
    return spec


def model_names(*, kind: str | None = None) -> list[str]:
    return [name for name, spec in all_models().items() if kind is None or spec.kind == kind]
