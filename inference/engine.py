"""The llama.cpp engine: the models this worker process serves, loaded once and warmed up.

Only the inference worker imports this module (its tasks import it lazily, and the
worker's start-up signal loads the models); the web process never does. Each model has
one llama context, and a lock so that two threads never use a context at once (a worker
run with `-P threads` serves several tasks at a time).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .registry import CHAT, EMBEDDING, ModelSpec, UnknownModel, all_models, get_model

logger = logging.getLogger(__name__)

# llama.cpp embeds large batches more slowly than small ones (MODELS.md): 8 texts per call.
EMBED_CHUNK = 8


class EngineError(Exception):
    """A failure a caller can act on, with a stable code (see client.InferenceError)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class LoadedModel:
    spec: ModelSpec
    llm: Any  # llama_cpp.Llama
    device: str  # "cpu" or "gpu"
    gpu_layers: int
    n_layers: int
    dimensions: int | None
    load_seconds: float
    lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "kind": self.spec.kind,
            "device": self.device,
            "gpu_layers": self.gpu_layers,
            "n_ctx": self.spec.n_ctx,
            "dimensions": self.dimensions,
        }


@dataclass
class ChatResult:
    text: str = ""
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: list[dict[str, Any]] | None = None
    time_to_first_token_ms: int | None = None
    duration_ms: int = 0


class _TokenCounter:
    """A logits processor that only counts: the prompt's length and each sampled token."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.calls = 0

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.calls == 0:
            self.prompt_tokens = len(input_ids)
        self.calls += 1
        return scores


def resolve_gpu_layers(spec: ModelSpec) -> int:
    """The configured layer count, else every layer when this build can offload, else 0."""
    if spec.n_gpu_layers is not None:
        return spec.n_gpu_layers
    import llama_cpp

    return -1 if llama_cpp.llama_supports_gpu_offload() else 0


class Engine:
    def __init__(self) -> None:
        self.models: dict[str, LoadedModel] = {}
        self.failed: dict[str, str] = {}
        self._load_lock = threading.Lock()

    # --- loading ---------------------------------------------------------------------------
    def load_all(self) -> None:
        """Load (and warm up) every registry model; a model that fails is logged and skipped."""
        for name in all_models():
            try:
                self.load(name)
            except Exception as exc:
                self.failed[name] = str(exc)
                logger.error(f"inference: could not load model {name}: {exc}")

    def load(self, name: str) -> LoadedModel:
        with self._load_lock:
            if name in self.models:
                return self.models[name]
            spec = all_models().get(name)
            if spec is None:
                raise UnknownModel(name)
            loaded = self._load(spec)
            self.models[name] = loaded
            self.failed.pop(name, None)
            return loaded

    def _load(self, spec: ModelSpec) -> LoadedModel:
        import llama_cpp

        if not spec.path.is_file():
            raise FileNotFoundError(f"{spec.path} is missing: run `manage.py prepare_models`")
        started = time.monotonic()
        gpu_layers = resolve_gpu_layers(spec)
        kwargs: dict[str, Any] = {
            "model_path": str(spec.path),
            "n_ctx": spec.n_ctx,
            "n_batch": min(spec.n_batch, spec.n_ctx),
            "n_threads": spec.n_threads,
            "n_threads_batch": spec.n_threads,
            "n_gpu_layers": gpu_layers,
            "verbose": False,
        }
        if spec.kind == EMBEDDING:
            # A BERT encoder sees the whole input in one micro-batch.
            kwargs.update(embedding=True, n_ubatch=kwargs["n_batch"])
        if spec.chat_format:
            kwargs["chat_format"] = spec.chat_format
        llm = llama_cpp.Llama(**kwargs)
        n_layers = int(llm.metadata.get(f"{llm.metadata.get('general.architecture')}.block_count", 0))
        if spec.kind == EMBEDDING:
            dimensions = int(llm.n_embd())
            llm.embed(["warm up"])
        else:
            dimensions = None
            # Through the chat path, so that the chat template is compiled too.
            llm.create_chat_completion(
                messages=[{"role": "user", "content": "Hello"}], max_tokens=1, temperature=0.0
            )
        offloaded = gpu_layers != 0 and llama_cpp.llama_supports_gpu_offload()
        loaded = LoadedModel(
            spec=spec,
            llm=llm,
            device="gpu" if offloaded else "cpu",
            gpu_layers=(n_layers if gpu_layers < 0 else min(gpu_layers, n_layers)) if offloaded else 0,
            n_layers=n_layers,
            dimensions=dimensions,
            load_seconds=time.monotonic() - started,
        )
        logger.info(
            f"inference: loaded {spec.name} ({spec.kind}) on {loaded.device} in {loaded.load_seconds:.2f} s"
        )
        return loaded

    def get(self, name: str | None, *, kind: str) -> LoadedModel:
        spec = get_model(name, kind=kind)  # UnknownModel for names outside the registry
        loaded = self.models.get(spec.name)
        if loaded is None:
            try:
                loaded = self.load(spec.name)
            except Exception as exc:
                raise EngineError("model_unavailable", f"Model {spec.name!r} could not be loaded.") from exc
        return loaded

    def describe(self) -> list[dict[str, Any]]:
        return [model.describe() for model in self.models.values()]

    def close(self) -> None:
        """Free every llama context (at worker shutdown, before the interpreter tears down)."""
        with self._load_lock:
            for loaded in self.models.values():
                with loaded.lock, contextlib.suppress(Exception):
                    loaded.llm.close()
            self.models.clear()

    # --- embeddings ------------------------------------------------------------------------
    def embed(self, *, texts: list[str], model: str | None = None) -> tuple[list[list[float]], int]:
        """Unit-length vectors for `texts`, and the number of tokens read."""
        loaded = self.get(model, kind=EMBEDDING)
        vectors: list[list[float]] = []
        tokens = 0
        with loaded.lock:
            for start in range(0, len(texts), EMBED_CHUNK):
                chunk = texts[start : start + EMBED_CHUNK]
                out, count = loaded.llm.embed(chunk, normalize=True, truncate=True, return_count=True)
                vectors.extend([float(x) for x in vector] for vector in out)
                tokens += int(count)
        return vectors, tokens

    # --- chat ------------------------------------------------------------------------------
    def chat_stream(
        self,
        *,
        messages: list[dict[str, Any]],
        model: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 0.95,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: dict[str, Any] | str | None = None,
        grammar: str | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        result: ChatResult | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text piece by piece; fill `result` (usage, finish, tool calls).

        `should_stop` is checked between tokens: when it answers True the generation stops
        with finish_reason "cancelled".
        """
        import llama_cpp

        result = result if result is not None else ChatResult()
        loaded = self.get(model, kind=CHAT)
        counter = _TokenCounter()
        kwargs: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "stream": True,
            "logits_processor": llama_cpp.LogitsProcessorList([counter]),
        }
        if tools:
            kwargs["tools"] = tools
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        if grammar:
            kwargs["grammar"] = _checked_grammar(loaded.llm, grammar)
        if tools and isinstance(tool_choice, dict):
            _check_tool_grammar(loaded.llm, tools, tool_choice)
        started = time.monotonic()
        calls: dict[int, dict[str, Any]] = {}
        pieces: list[str] = []
        with loaded.lock:
            try:
                chunks = loaded.llm.create_chat_completion(**kwargs)
            except ValueError as exc:
                raise _engine_error(exc) from exc
            try:
                for chunk in _guard(chunks):
                    choice = chunk["choices"][0]
                    delta = choice.get("delta") or {}
                    text = delta.get("content")
                    if text:
                        if result.time_to_first_token_ms is None:
                            result.time_to_first_token_ms = int((time.monotonic() - started) * 1000)
                        pieces.append(text)
                        yield text
                    for call in delta.get("tool_calls") or []:
                        _merge_tool_call(calls, call)
                        if result.time_to_first_token_ms is None:
                            result.time_to_first_token_ms = int((time.monotonic() - started) * 1000)
                    if choice.get("finish_reason"):
                        result.finish_reason = choice["finish_reason"]
                    if should_stop():
                        result.finish_reason = "cancelled"
                        break
            finally:
                with contextlib.suppress(Exception):
                    chunks.close()
        result.text = "".join(pieces)
        result.prompt_tokens = counter.prompt_tokens
        # The last sampled token is the end-of-generation token unless the answer was cut.
        result.completion_tokens = max(
            0, counter.calls - (1 if result.finish_reason in ("stop", "tool_calls") else 0)
        )
        result.tool_calls = [calls[i] for i in sorted(calls)] or None
        if result.tool_calls and result.finish_reason == "stop":
            result.finish_reason = "tool_calls"
        result.duration_ms = int((time.monotonic() - started) * 1000)


def _checked_grammar(llm: Any, grammar: str) -> Any:
    """The grammar, parsed once by llama.cpp itself first: llama-cpp-python hands a grammar
    that does not parse to the sampler chain as a NULL sampler, which crashes the process."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, grammar.encode(), b"root")
    if not sampler:
        raise EngineError("invalid_grammar", "The grammar does not parse (GBNF, with a `root` rule).")
    llama_cpp.llama_sampler_free(sampler)
    return llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)


def _check_tool_grammar(llm: Any, tools: list[dict[str, Any]], tool_choice: dict[str, Any]) -> None:
    """A forced tool call is sampled with a grammar made from the tool's JSON schema: make
    sure it parses before llama-cpp-python uses it (see _checked_grammar)."""
    import json

    from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

    name = (tool_choice.get("function") or {}).get("name")
    tool = next((t for t in tools if (t.get("function") or {}).get("name") == name), None)
    if tool is None:
        raise EngineError("invalid_tool_choice", f"Tool choice {name!r} is not one of the tools.")
    try:
        gbnf = json_schema_to_gbnf(json.dumps(tool["function"].get("parameters") or {}))
    except Exception:
        gbnf = JSON_GBNF  # what llama-cpp-python falls back to
    _checked_grammar(llm, gbnf)


def _guard(chunks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield from chunks
    except ValueError as exc:
        raise _engine_error(exc) from exc


def _engine_error(exc: ValueError) -> EngineError:
    message = str(exc)
    if "exceed context window" in message:
        return EngineError("context_length_exceeded", "The prompt is longer than the model's context.")
    if "not found in tools" in message:
        return EngineError("invalid_tool_choice", message)
    return EngineError("invalid_request", message)


def _merge_tool_call(calls: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    index = int(delta.get("index") or 0)
    call = calls.setdefault(index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    if delta.get("id"):
        call["id"] = delta["id"]
    function = delta.get("function") or {}
    if function.get("name"):
        call["function"]["name"] = function["name"]
    if function.get("arguments"):
        call["function"]["arguments"] += function["arguments"]


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """This process's engine (created empty; the worker's start-up signal fills it)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine
