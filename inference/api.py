"""HTTP: the model list, and generate and embed for a project's members (viewers: 403).

The views only validate, call `inference.client` and serialize. Generation runs on the
inference worker; with `stream: true` the answer is Server-Sent Events, served natively
by daphne (the response iterates asynchronously).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from projects.tenancy import CONTRIBUTE, ProjectScopedMixin

from . import client
from .selectors import model_list
from .serializers import (
    EmbedRequestSerializer,
    EmbedResponseSerializer,
    ErrorResponse502Serializer,
    ErrorResponse503Serializer,
    GenerateRequestSerializer,
    GenerateResponseSerializer,
    GenerateStreamEventSerializer,
    ModelSerializer,
)


class InferenceUnavailableError(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "no_inference_worker"
    default_detail = "No inference worker answered in time."


class InferenceFailed(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "inference_failed"
    default_detail = "The model failed on this request."


# Errors that the request caused: 400 on the field that caused them.
_INPUT_ERRORS = {
    "unknown_model": "model",
    "context_length_exceeded": "messages",
    "invalid_grammar": "grammar",
    "invalid_tool_choice": "tool_choice",
}


def _raise_for(error: client.InferenceError, *, data: Any) -> None:
    field = _INPUT_ERRORS.get(error.code)
    if field == "messages" and "prompt" in data:
        field = "prompt"
    if field:
        raise ValidationError({field: [error.detail]}, code=error.code)
    raise InferenceFailed(detail=error.detail, code=error.code)


class InferenceUserThrottle(UserRateThrottle):
    scope = "inference_user"


class InferenceProjectThrottle(SimpleRateThrottle):
    """One budget per project, shared by its members."""

    scope = "inference_project"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        project_id = view.kwargs.get("project_id")
        if project_id is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": str(project_id)}


def _models_with_state() -> list[dict[str, Any]]:
    try:
        status_ = client.worker_status() or {}
    except Exception:  # Redis down: the list is still worth showing
        status_ = {}
    loaded = {model["name"]: model for model in status_.get("models", [])}
    rows = []
    for spec in model_list():
        running = loaded.get(spec.name)
        rows.append(
            {
                **spec.public(),
                "dimensions": spec.dimensions or (running or {}).get("dimensions"),
                "loaded": running is not None,
                "device": running["device"] if running else None,
                "gpu_layers": running["gpu_layers"] if running else None,
            }
        )
    return rows


@extend_schema(
    tags=["inference"],
    summary="The models this deployment serves",
    description="Chat and embedding models from the registry, with whether a running "
    "inference worker has each loaded, and where (cpu, or gpu with its layer count).",
)
class ModelListView(ListAPIView):
    serializer_class = ModelSerializer

    def get_queryset(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return _models_with_state()


_UNAVAILABLE = OpenApiResponse(
    ErrorResponse503Serializer, description="No inference worker took the request in time."
)
_FAILED = OpenApiResponse(ErrorResponse502Serializer, description="The model failed on the request.")


def _quota_check(project: Any) -> None:
    from projects.usage import quota_check

    quota_check(project=project)


class GenerateView(ProjectScopedMixin, APIView):
    project_permissions = {"POST": CONTRIBUTE}
    parser_classes = [JSONParser]
    throttle_classes = [InferenceUserThrottle, InferenceProjectThrottle]

    @extend_schema(
        tags=["inference"],
        summary="Generate a chat completion with the project's quota",
        request=GenerateRequestSerializer,
        responses={
            (200, "application/json"): GenerateResponseSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                GenerateStreamEventSerializer,
                description='With `stream: true`: `event: token` / `data: {"text": …}` events, '
                "then one `event: done` (data: the JSON answer) or `event: error` "
                "(data: {code, detail}).",
            ),
            502: _FAILED,
            503: _UNAVAILABLE,
        },
        examples=[
            OpenApiExample(
                "prompt",
                request_only=True,
                value={"prompt": "Name three colours.", "max_tokens": 64, "temperature": 0.7},
            )
        ],
        description="Members and admins. 400 names the field of a bad input (an unknown model "
        "included); 503 `no_inference_worker` when no worker takes the request within "
        "INFERENCE_WORKER_TIMEOUT; 429 when throttled or over the daily token quota.",
    )
    def post(self, request: Request, project_id: Any) -> Response | StreamingHttpResponse:
        serializer = GenerateRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _quota_check(self.project)
        request_id = client.new_request_id()
        kwargs = {
            "messages": data["messages"], "model": data["model"], "max_tokens": data["max_tokens"],
            "temperature": data["temperature"], "top_p": data["top_p"], "project": self.project,
            "user": request.user, "request_id": request_id,
        }  # fmt: skip
        events = client.chat_stream(**kwargs)
        try:
            first = next(events)  # InferenceUnavailable (→ 503) surfaces here, before any byte
        except client.InferenceUnavailable as exc:
            raise InferenceUnavailableError(detail=exc.detail) from exc
        if data["stream"]:
            response = StreamingHttpResponse(
                _sse(first, events, request_id=request_id, model=data["model"]),
                content_type="text/event-stream",
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"  # no proxy buffering
            response["Inference-Request-Id"] = request_id
            return response
        event = first
        while event["type"] == "tokens":
            event = next(events)
        events.close()
        if event["type"] == "error":
            _raise_for(client.InferenceError(event["code"], event["detail"]), data=request.data)
        return Response(GenerateResponseSerializer(_answer(event, model=data["model"])).data)


def _answer(done: dict[str, Any], *, model: str) -> dict[str, Any]:
    return {
        "request_id": done["request_id"],
        "model": model,
        "text": done["text"],
        "finish_reason": done["finish_reason"],
        "usage": done["usage"],
        "timings": done["timings"],
    }


def _sse_event(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _next_or_none(events: Iterator[dict[str, Any]]) -> dict[str, Any] | None:
    return next(events, None)


async def _sse(
    first: dict[str, Any], events: Iterator[dict[str, Any]], *, request_id: str, model: str
) -> AsyncIterator[bytes]:
    """The events as SSE. If the client goes away, the generation is cancelled."""
    next_event = sync_to_async(_next_or_none, thread_sensitive=False)
    event: dict[str, Any] | None = first
    finished = False
    try:
        while event is not None:
            if event["type"] == "tokens":
                yield _sse_event("token", {"text": event["text"]})
            elif event["type"] == "done":
                finished = True
                yield _sse_event("done", GenerateResponseSerializer(_answer(event, model=model)).data)
                return
            else:
                finished = True
                yield _sse_event("error", {"code": event["code"], "detail": event["detail"]})
                return
            event = await next_event(events)
    finally:
        if not finished:
            await client.acancel(request_id)


class EmbedView(ProjectScopedMixin, APIView):
    project_permissions = {"POST": CONTRIBUTE}
    parser_classes = [JSONParser]
    throttle_classes = [InferenceUserThrottle, InferenceProjectThrottle]

    @extend_schema(
        tags=["inference"],
        summary="Embed texts with the project's quota",
        request=EmbedRequestSerializer,
        responses={200: EmbedResponseSerializer, 502: _FAILED, 503: _UNAVAILABLE},
        examples=[
            OpenApiExample("texts", request_only=True, value={"texts": ["A cat on a mat.", "Tax deadlines."]})
        ],
        description="Members and admins. 400 names the field of a bad input; 503 "
        "`no_inference_worker` when no worker takes the request in time.",
    )
    def post(self, request: Request, project_id: Any) -> Response:
        serializer = EmbedRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _quota_check(self.project)
        try:
            vectors = client.embed(
                data["texts"], project=self.project, user=request.user, model=data["model"]
            )
        except client.InferenceUnavailable as exc:
            raise InferenceUnavailableError(detail=exc.detail) from exc
        except client.InferenceError as exc:
            _raise_for(exc, data=request.data)
        body = {"model": data["model"], "dimensions": len(vectors[0]), "embeddings": vectors}
        return Response(EmbedResponseSerializer(body).data)


__all__ = ["EmbedView", "GenerateView", "ModelListView"]
