"""The agent runtime: one turn = prompt, streamed answer, tool loop, final message.

Runs in a `default`-queue Celery worker (or in the caller, for `agent_run_once`); the GPU
worker only does inference, through `inference.client.chat_stream`. No database transaction
is held across the model call: every event is its own short transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.utils import timezone
from jsonschema import Draft202012Validator

from agents.models import AgentTool, Conversation, Message
from agents.tools.registry import ToolContext, ToolError, get_registered_tool
from platform_site.logging import bind_context
from projects.usage import QuotaExceeded, quota_check

from .events import error_emit, event_emit, message_created_emit, message_payload

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0  # a cautious estimate: the tokenizer lives on the GPU worker
CANCEL_CHECK_SECONDS = 0.25
MAX_TOOL_RESULT_CHARS = 4000


class TurnCancelled(Exception):
    pass


class TurnFailed(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


# --- tools -------------------------------------------------------------------------------------


@dataclass
class ToolOutcome:
    ok: bool
    result: Any
    error_code: str = ""

    def as_payload(self) -> Any:
        return self.result if self.ok else {"error": self.error_code, "detail": self.result}


def allowed_tools(*, agent) -> dict[str, AgentTool]:
    """The agent's server-side allow-list: its AgentTool rows whose tool is enabled."""
    rows = AgentTool.objects.filter(agent=agent, tool__enabled=True).select_related("tool")
    return {row.tool.name: row for row in rows}


def _run_with_time_limit(fn, timeout: float) -> Any:
    """Run `fn()` in a thread; TimeoutError if it has not returned in `timeout` seconds.

    A Python thread cannot be killed: a tool that overstays is abandoned (its result
    ignored) and must honour `ctx.deadline` itself to stop early.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller)
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="agent-tool", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box.get("value")


def tool_execute(
    *, conversation: Conversation, name: str, arguments: Any, allowed: dict[str, AgentTool], deadline: float
) -> ToolOutcome:
    """Validate and run one tool call: allow-list, JSON Schema, time limit."""
    row = allowed.get(name)
    if row is None:
        return ToolOutcome(False, f"Tool {name!r} is not allowed for this agent.", "tool_not_allowed")
    registered = get_registered_tool(name)
    if registered is None:
        return ToolOutcome(False, f"Tool {name!r} is not available on this server.", "tool_unavailable")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            return ToolOutcome(False, "The arguments are not valid JSON.", "invalid_arguments")
    if arguments is None:
        arguments = {}
    errors = sorted(
        Draft202012Validator(row.tool.parameters).iter_errors(arguments), key=lambda e: list(e.path)
    )
    if errors:
        detail = "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])
        return ToolOutcome(False, detail, "invalid_arguments")
    limit = float(registered.timeout or settings.AGENT_TOOL_TIMEOUT)
    limit = max(0.05, min(limit, deadline - time.monotonic()))
    ctx = ToolContext(
        project=conversation.project,
        agent=conversation.agent,
        conversation=conversation,
        config=dict(row.config or {}),
        deadline=time.monotonic() + limit,
    )
    try:
        value = _run_with_time_limit(lambda: registered.handler(ctx, **arguments), limit)
    except TimeoutError:
        return ToolOutcome(False, f"The tool did not answer within {limit:.1f} s.", "tool_timeout")
    except ToolError as exc:
        return ToolOutcome(False, str(exc), "tool_error")
    except Exception:
        logger.exception("tool %s failed", name)
        return ToolOutcome(False, "The tool failed.", "tool_error")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = str(value)
    return ToolOutcome(True, value)


# --- the prompt --------------------------------------------------------------------------------


def _context_window(agent) -> int:
    spec: dict[str, Any] = settings.INFERENCE_MODELS.get(agent.model_name, {})
    return int(agent.context_window or spec.get("n_ctx") or 2048)


def _estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 4


def _memory_context(*, conversation: Conversation, query: str) -> tuple[str, list[dict[str, Any]]]:
    agent = conversation.agent
    if not agent.memory_enabled:
        return "", []
    try:
        from memory.selectors import memory_retrieve
    except ImportError:
        logger.warning(
            "memory is enabled for agent %s but memory.selectors.memory_retrieve is missing", agent.pk
        )
        return "", []
    entries = memory_retrieve(project=conversation.project, query=query, k=agent.memory_top_k, agent=agent)
    if not entries:
        return "", []
    lines = ["Relevant notes from this project's memory:"]
    for i, entry in enumerate(entries, 1):
        lines.append(f"[{i}] {str(entry.get('content', ''))[:1500]}")
    citations = [
        {
            "entry_id": str(e.get("entry_id")),
            "document_id": str(e["document_id"]) if e.get("document_id") else None,
            "document_name": e.get("document_name") or "",
            "score": float(e.get("score") or 0.0),
        }
        for e in entries
    ]
    return "\n".join(lines), citations


def prompt_build(
    *, conversation: Conversation, inbound: Message, memory_text: str, tool_specs: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """System prompt (+ memory), then as much recent history as fits, then the new message.

    The tool specifications go to the model separately (`tools=`), but their size is
    counted against the context here.
    """
    agent = conversation.agent
    system = agent.system_prompt.strip() or f"You are {agent.name}, a helpful assistant."
    if memory_text:
        system = f"{system}\n\n{memory_text}"
    budget = _context_window(agent) - agent.max_tokens - _estimate_tokens(system)
    budget -= _estimate_tokens(json.dumps(tool_specs)) if tool_specs else 0
    max_chars = int(settings.INFERENCE_MAX_PROMPT_CHARS) - len(system) - 200
    current = inbound.content
    budget -= _estimate_tokens(current)
    max_chars -= len(current)
    history: list[dict[str, str]] = []
    earlier = (
        Message.objects.filter(
            conversation=conversation,
            role__in=[Message.Role.USER, Message.Role.ASSISTANT],
            created_at__lt=inbound.created_at,
        )
        .exclude(content="")
        .exclude(status__in=[Message.Status.QUEUED, Message.Status.RUNNING])
        .order_by("-created_at")
        .values("role", "content")[: max(0, int(settings.INFERENCE_MAX_MESSAGES) - 4)]
    )
    for row in earlier:
        cost = _estimate_tokens(row["content"])
        if cost > budget or len(row["content"]) > max_chars:
            break
        budget -= cost
        max_chars -= len(row["content"])
        history.append({"role": row["role"], "content": row["content"]})
    history.reverse()
    if budget < 0:  # the new message alone is too long: keep its end
        keep = max(200, int((budget + _estimate_tokens(current)) * CHARS_PER_TOKEN))
        current = current[-keep:]
    return [{"role": "system", "content": system}, *history, {"role": "user", "content": current}]


# --- streaming one model step ------------------------------------------------------------------


def step_request_id(message_id, step: int) -> str:
    """The inference request id of one model step of a turn (cancel targets these)."""
    return str(message_id) if step == 0 else f"{message_id}.{step}"


@dataclass
class StepResult:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    finish_reason: str = ""


class TurnState:
    """What the turn has streamed so far (the assistant text is exactly the token events)."""

    def __init__(self, message: Message, deadline: float) -> None:
        self.message = message
        self.deadline = deadline
        self.text_parts: list[str] = []
        self.pending = ""
        self.last_flush = time.monotonic()
        self.last_cancel_check = time.monotonic()
        self.first_token_at: float | None = None
        self.started = time.monotonic()
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self.timings: dict[str, Any] = {}

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def add(self, text: str) -> None:
        if not text:
            return
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
        self.pending += text
        # The first text goes out at once (time to first token); then one event per batch.
        waited_ms = (time.monotonic() - self.last_flush) * 1000
        if not self.text_parts or waited_ms >= settings.AGENT_TOKEN_BATCH_MS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        text, self.pending = self.pending, ""
        event_emit(
            conversation_id=self.message.conversation_id,
            type="token",
            payload={"message_id": str(self.message.pk), "text": text},
        )
        self.text_parts.append(text)

    def check(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise TurnFailed(
                "timeout", f"The turn did not finish within {settings.AGENT_TURN_TIMEOUT:.0f} s."
            )
        if now - self.last_cancel_check >= CANCEL_CHECK_SECONDS:
            self.last_cancel_check = now
            if Message.objects.filter(pk=self.message.pk, cancel_requested=True).exists():
                raise TurnCancelled


def _stream_step(
    *, state: TurnState, agent, messages, tools, tool_choice, stream_tokens: bool, step: int
) -> StepResult:
    from inference.client import InferenceError, InferenceUnavailable, cancel, chat_stream

    result = StepResult()
    request_id = step_request_id(state.message.pk, step)
    try:
        quota_check(project=agent.project)
    except QuotaExceeded as exc:
        raise TurnFailed(exc.default_code, str(exc.detail)) from exc
    answered = False
    try:
        stream = chat_stream(
            messages=messages,
            model=agent.model_name,
            max_tokens=agent.max_tokens,
            temperature=agent.temperature,
            top_p=agent.top_p,
            tools=tools,
            tool_choice=tool_choice,
            project=agent.project,
            request_id=request_id,
            timeout=max(1.0, state.deadline - time.monotonic()),
        )
        # Leaving the loop early (cancel, time limit) closes the stream: the worker stops too.
        with contextlib.closing(stream):
            for event in stream:
                kind = event.get("type")
                if kind == "tokens":
                    if stream_tokens:
                        state.add(event.get("text", ""))
                    state.check()
                elif kind == "done":
                    result.text = event.get("text") or ""
                    result.tool_calls = list(event.get("tool_calls") or [])
                    result.usage = dict(event.get("usage") or {})
                    result.timings = dict(event.get("timings") or {})
                    result.finish_reason = event.get("finish_reason") or ""
                    answered = True
                    break
                elif kind == "error":
                    if event.get("code") == "cancelled":
                        raise TurnCancelled
                    raise TurnFailed(
                        str(event.get("code") or "inference_error"), str(event.get("detail") or "")
                    )
    except InferenceUnavailable as exc:
        raise TurnFailed("inference_unavailable", str(exc) or "No inference worker answered.") from None
    except InferenceError as exc:
        raise TurnFailed("inference_error", str(exc) or "The model failed.") from None
    except TimeoutError:
        raise TurnFailed("timeout", "The model did not answer within the time limit.") from None
    finally:
        if not answered:  # whatever stopped us (cancel, time limit, a stream error): stop the worker
            try:
                cancel(request_id)
            except Exception:
                logger.warning("could not cancel inference request %s", request_id, exc_info=True)
    state.flush()
    for key in ("prompt_tokens", "completion_tokens"):
        state.usage[key] += int(result.usage.get(key) or 0)
    state.timings = result.timings
    if result.finish_reason == "cancelled":
        raise TurnCancelled
    return result


def _parse_call(call: dict[str, Any]) -> tuple[str, Any, str]:
    function = call.get("function") or {}
    name = function.get("name") or call.get("name") or ""
    arguments = function.get("arguments", call.get("arguments", {}))
    return str(name), arguments, str(call.get("id") or "")


# --- the turn ----------------------------------------------------------------------------------


def _finish(state: TurnState, *, status: str, citations: list[dict[str, Any]], error: str = "") -> Message:
    message = state.message
    message.content = state.text
    message.status = status
    message.error = error
    message.usage = state.usage
    message.citations = citations
    total = time.monotonic() - state.started
    message.timings = {
        **{k: v for k, v in (state.timings or {}).items() if isinstance(v, int | float)},
        "first_token_ms": round((state.first_token_at - state.started) * 1000, 1)
        if state.first_token_at
        else None,
        "total_ms": round(total * 1000, 1),
    }
    message.finished_at = timezone.now()
    with transaction.atomic():
        message.save(
            update_fields=[
                "content",
                "status",
                "error",
                "usage",
                "citations",
                "timings",
                "tool_calls",
                "finished_at",
                "updated_at",
            ]
        )
        payload = message_payload(message)
        event_emit(
            conversation_id=message.conversation_id,
            type="message.completed",
            payload={
                "message": payload,
                "usage": message.usage,
                "timings": message.timings,
                "citations": citations,
            },
        )
    return message


def turn_run(*, conversation: Conversation, inbound: Message, timeout: float | None = None) -> Message:
    """Answer `inbound` (the caller holds the conversation's lease). Returns the assistant message."""
    close_old_connections()
    with bind_context(
        project_id=conversation.project_id, conversation_id=conversation.pk, message_id=inbound.pk
    ):
        return _turn_run(conversation=conversation, inbound=inbound, timeout=timeout)


def _turn_run(*, conversation: Conversation, inbound: Message, timeout: float | None) -> Message:
    agent = conversation.agent
    deadline = time.monotonic() + float(timeout or settings.AGENT_TURN_TIMEOUT)
    with transaction.atomic():
        Message.objects.filter(pk=inbound.pk).update(
            status=Message.Status.COMPLETED, updated_at=timezone.now()
        )
        assistant = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            sender_agent=agent,
            receiver_user=inbound.sender_user,
            receiver_agent=inbound.sender_agent,
            receiver_system=inbound.sender_system,
            reply_to=inbound,
            status=Message.Status.RUNNING,
            started_at=timezone.now(),
        )
        message_created_emit(assistant)
    state = TurnState(assistant, deadline)
    citations: list[dict[str, Any]] = []
    try:
        if agent.status != agent.Status.ACTIVE:
            raise TurnFailed("agent_paused", "This agent is paused.")
        try:
            memory_text, citations = _memory_context(conversation=conversation, query=inbound.content)
        except Exception:
            logger.exception("memory retrieval failed for agent %s", agent.pk)
            memory_text, citations = "", []
        allowed = allowed_tools(agent=agent) if agent.tool_choice != "none" else {}
        registered = [get_registered_tool(name) for name in sorted(allowed)]
        specs = [entry.openai_spec() for entry in registered if entry is not None]
        messages = prompt_build(
            conversation=conversation, inbound=inbound, memory_text=memory_text, tool_specs=specs
        )
        max_steps = min(agent.max_tool_steps, settings.AGENT_MAX_TOOL_STEPS)
        forced = agent.tool_choice if agent.tool_choice in allowed else None
        for step in range(max_steps + 1):
            use_tools = bool(specs) and step < max_steps
            choice: Any = None
            if use_tools and forced:
                choice = {"type": "function", "function": {"name": forced}}
            elif use_tools:
                choice = "auto"
            result = _stream_step(
                state=state,
                agent=agent,
                messages=messages,
                tools=specs if use_tools else None,
                tool_choice=choice,
                stream_tokens=not (use_tools and forced),
                step=step,
            )
            if not (use_tools and result.tool_calls):
                if forced and use_tools:  # a forced step that made no call: keep its text
                    state.add(result.text)
                    state.flush()
                break
            for call in result.tool_calls:
                state.check()
                name, arguments, call_id = _parse_call(call)
                _tool_round(
                    state=state,
                    conversation=conversation,
                    name=name,
                    arguments=arguments,
                    call_id=call_id,
                    allowed=allowed,
                    messages=messages,
                )
        return _finish(state, status=Message.Status.COMPLETED, citations=citations)
    except TurnCancelled:
        state.flush()
        return _finish(state, status=Message.Status.CANCELLED, citations=citations, error="cancelled")
    except TurnFailed as exc:
        return _fail(state, exc.code, exc.detail, citations)
    except Exception as exc:
        logger.exception("turn of message %s failed", assistant.pk)
        return _fail(state, "internal_error", f"{type(exc).__name__}: the turn failed.", citations)


def _fail(state: TurnState, code: str, detail: str, citations: list[dict[str, Any]]) -> Message:
    try:
        state.flush()
    except Exception:
        logger.exception("could not store the last tokens of %s", state.message.pk)
        state.pending = ""
    error_emit(
        conversation_id=state.message.conversation_id, code=code, detail=detail, message_id=state.message.pk
    )
    return _finish(state, status=Message.Status.FAILED, citations=citations, error=f"{code}: {detail}")


def _tool_round(*, state: TurnState, conversation, name, arguments, call_id, allowed, messages) -> None:
    message_id = str(state.message.pk)
    shown_args = arguments
    if isinstance(arguments, str):
        try:
            shown_args = json.loads(arguments)
        except json.JSONDecodeError:
            shown_args = arguments
    event_emit(
        conversation_id=conversation.pk,
        type="tool.call",
        payload={"message_id": message_id, "tool": name, "arguments": shown_args},
    )
    state.message.tool_calls = [
        *state.message.tool_calls,
        {"id": call_id, "tool": name, "arguments": shown_args},
    ]
    outcome = tool_execute(
        conversation=conversation, name=name, arguments=shown_args, allowed=allowed, deadline=state.deadline
    )
    result = outcome.as_payload()
    result_text = json.dumps(result, default=str)[:MAX_TOOL_RESULT_CHARS]
    with transaction.atomic():
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.TOOL,
            sender_system=f"tool:{name}"[:64],
            receiver_agent=conversation.agent,
            tool_name=name,
            content=result_text,
            status=Message.Status.COMPLETED if outcome.ok else Message.Status.FAILED,
            error=outcome.error_code,
            reply_to=state.message,
        )
        event_emit(
            conversation_id=conversation.pk,
            type="tool.result",
            payload={"message_id": message_id, "tool": name, "result": result, "ok": outcome.ok},
        )
    messages.append({"role": "assistant", "content": json.dumps({"tool": name, "arguments": shown_args})})
    messages.append({"role": "tool", "content": result_text})
