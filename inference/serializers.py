"""Input and output of the inference API. Every input is bounded (limits from settings)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_standardized_errors.openapi_serializers import ServerErrorEnum
from rest_framework import serializers

from .registry import CHAT, EMBEDDING, KINDS, UnknownModel, get_model


def _model_field(kind: str) -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_null=True,
        max_length=120,
        help_text=f"A {kind} model's name from GET /api/inference/models/ (default: the default one).",
    )


def _validate_model(value: str | None, kind: str) -> str:
    try:
        return get_model(value, kind=kind).name
    except UnknownModel as exc:
        raise serializers.ValidationError(str(exc), code="unknown_model") from exc


# --- models ----------------------------------------------------------------------------------
class ModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    n_ctx = serializers.IntegerField(help_text="Context size, in tokens.")
    dimensions = serializers.IntegerField(
        allow_null=True, help_text="Length of the vectors (embedding models)."
    )
    description = serializers.CharField(allow_blank=True)
    default = serializers.BooleanField(help_text="The model used when a request names none.")
    loaded = serializers.BooleanField(help_text="A running inference worker has it loaded.")
    device = serializers.ChoiceField(
        choices=["cpu", "gpu"], allow_null=True, help_text="Where the worker runs it (when loaded)."
    )
    gpu_layers = serializers.IntegerField(
        allow_null=True, help_text="Layers offloaded to the GPU (when loaded)."
    )


# --- generate --------------------------------------------------------------------------------
class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=settings.INFERENCE_MAX_PROMPT_CHARS
    )


class GenerateRequestSerializer(serializers.Serializer):
    prompt = serializers.CharField(
        required=False,
        trim_whitespace=False,
        max_length=settings.INFERENCE_MAX_PROMPT_CHARS,
        help_text="A single user message. Give either `prompt` or `messages`.",
    )
    messages = serializers.ListField(
        child=MessageSerializer(),
        required=False,
        min_length=1,
        max_length=settings.INFERENCE_MAX_MESSAGES,
        help_text="A conversation, oldest first. Give either `prompt` or `messages`.",
    )
    model = _model_field(CHAT)
    max_tokens = serializers.IntegerField(min_value=1, max_value=settings.INFERENCE_MAX_TOKENS, default=256)
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, default=0.7)
    top_p = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.95)
    stream = serializers.BooleanField(
        default=False, help_text="Answer with Server-Sent Events instead of one JSON body."
    )

    def validate_model(self, value: str | None) -> str:
        return _validate_model(value, CHAT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_prompt, has_messages = "prompt" in attrs, "messages" in attrs
        if has_prompt == has_messages:
            raise serializers.ValidationError(
                {"prompt": "Give either prompt or messages (one of them)."}, code="invalid"
            )
        if has_prompt:
            if not attrs["prompt"].strip():
                raise serializers.ValidationError({"prompt": "The prompt is empty."}, code="blank")
            attrs["messages"] = [{"role": "user", "content": attrs.pop("prompt")}]
        else:
            total = sum(len(message["content"]) for message in attrs["messages"])
            if total > settings.INFERENCE_MAX_PROMPT_CHARS:
                raise serializers.ValidationError(
                    {
                        "messages": f"The messages hold {total} characters; "
                        f"at most {settings.INFERENCE_MAX_PROMPT_CHARS} are allowed."
                    },
                    code="max_length",
                )
        attrs.setdefault("model", _validate_model(None, CHAT))
        return attrs


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()


class TimingsSerializer(serializers.Serializer):
    queued_ms = serializers.IntegerField(
        allow_null=True, help_text="From the request to a worker starting on it."
    )
    time_to_first_token_ms = serializers.IntegerField(
        allow_null=True, help_text="From the worker starting to the first token."
    )
    duration_ms = serializers.IntegerField(help_text="Time on the worker.")
    tokens_per_second = serializers.FloatField(help_text="Decoding speed after the first token.")


class GenerateResponseSerializer(serializers.Serializer):
    request_id = serializers.CharField(help_text="Cancel with this id (agents' cancel routes).")
    model = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    finish_reason = serializers.ChoiceField(
        choices=["stop", "length", "cancelled", "tool_calls"],
        help_text="stop: the model ended; length: max_tokens reached.",
    )
    usage = UsageSerializer()
    timings = TimingsSerializer()


class TokenEventSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="One or more tokens of the answer.")


class StreamErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class GenerateStreamEventSerializer(serializers.Serializer):
    """One Server-Sent Event: `event: <event>` then `data: <JSON>` (stream: true)."""

    event = serializers.ChoiceField(
        choices=["token", "done", "error"],
        help_text="`token` events (data: {text}) come first, then one `done` (data: the same "
        "body as the JSON answer) or one `error` (data: {code, detail}).",
    )
    # The field named `data`, not Serializer.data (the metaclass takes the field off the class).
    data = serializers.JSONField(  # type: ignore[assignment]
        help_text="TokenEvent, GenerateResponse or StreamError."
    )


# --- embed -----------------------------------------------------------------------------------
class EmbedRequestSerializer(serializers.Serializer):
    texts = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, max_length=settings.INFERENCE_MAX_EMBED_CHARS),
        min_length=1,
        max_length=settings.INFERENCE_MAX_EMBED_TEXTS,
    )
    model = _model_field(EMBEDDING)

    def validate_model(self, value: str | None) -> str:
        return _validate_model(value, EMBEDDING)

    def validate_texts(self, value: list[str]) -> list[str]:
        if any(not text.strip() for text in value):
            raise serializers.ValidationError("Every text needs some non-blank content.", code="blank")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("model", _validate_model(None, EMBEDDING))
        return attrs


class EmbedResponseSerializer(serializers.Serializer):
    model = serializers.CharField()
    dimensions = serializers.IntegerField()
    embeddings = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="One unit-length vector per text, in the order given.",
    )


# --- errors this API adds to the standard ones ------------------------------------------------
class _ServerError(serializers.Serializer):
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class Error503Serializer(_ServerError):
    code = serializers.ChoiceField(choices=["no_inference_worker"])


class ErrorResponse503Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = Error503Serializer(many=True)  # type: ignore[assignment]


class Error502Serializer(_ServerError):
    code = serializers.CharField(help_text="inference_failed, or a code of the worker's")


class ErrorResponse502Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = Error502Serializer(many=True)  # type: ignore[assignment]
