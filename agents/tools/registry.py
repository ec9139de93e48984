"""The tool registry: a decorator that any app uses in its `tools.py`.

    from agents.tools.registry import ToolContext, tool

    @tool(
        name="calculator",
        description="Evaluate an arithmetic expression.",
        parameters={"type": "object", "properties": {"expression": {"type": "string"}},
                    "required": ["expression"], "additionalProperties": False},
        enabled_by_default=True,
    )
    def calculator(ctx: ToolContext, *, expression: str) -> dict:
        ...

- Handlers take a `ToolContext` (the project, agent, conversation, the per-agent config and
  a monotonic `deadline`) and the validated arguments as keywords; they return a dict or a
  string, or raise `ToolError` with a message the model may see.
- Every installed app's `tools` module is imported by `autodiscover()` (on first use of the
  registry, and on `post_migrate`), and `agents.services.tool_registry_sync()` writes one
  `Tool` row per registered tool (name, description, schema, handler path, enabled flag).
- A tool only ever sees `ctx.project`: it must scope every query by it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.models import Agent, Conversation
    from projects.models import Project

__all__ = [
    "RegisteredTool",
    "ToolContext",
    "ToolError",
    "autodiscover",
    "get_registered_tool",
    "registered_tools",
    "tool",
]


class ToolError(Exception):
    """A failure the model may be told about (bad input, refused host, …)."""


@dataclass(frozen=True)
class ToolContext:
    project: Project
    agent: Agent
    conversation: Conversation | None
    config: dict[str, Any] = field(default_factory=dict)
    deadline: float = 0.0  # time.monotonic() value after which the tool must give up

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class RegisteredTool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: Callable[..., dict[str, Any] | str]
    enabled_by_default: bool = True
    timeout: float | None = None  # seconds; None → settings.AGENT_TOOL_TIMEOUT

    @property
    def handler_path(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__}"

    def openai_spec(self) -> dict[str, Any]:
        """The tool as the chat model sees it (OpenAI / llama-cpp-python `tools` format)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


_REGISTRY: dict[str, RegisteredTool] = {}
_lock = threading.Lock()
_discovered = False


def tool(
    *,
    name: str,
    description: str,
    parameters: dict[str, Any],
    enabled_by_default: bool = True,
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `handler(ctx: ToolContext, **arguments) -> dict | str` as the tool `name`."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(parameters)  # a broken schema fails at import time

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        entry = RegisteredTool(
            name=name,
            description=description,
            parameters=parameters,
            handler=handler,
            enabled_by_default=enabled_by_default,
            timeout=timeout,
        )
        with _lock:
            existing = _REGISTRY.get(name)
            if existing is not None and existing.handler_path != entry.handler_path:
                raise ValueError(f"Tool {name!r} is already registered by {existing.handler_path}")
            _REGISTRY[name] = entry
        return handler

    return decorate


def autodiscover() -> None:
    """Import `<app>.tools` for every installed app (once per process)."""
    global _discovered
    if _discovered:
        return
    from django.utils.module_loading import autodiscover_modules

    with _lock:
        if _discovered:
            return
        _discovered = True
    autodiscover_modules("tools")


def registered_tools() -> dict[str, RegisteredTool]:
    autodiscover()
    return dict(_REGISTRY)


def get_registered_tool(name: str) -> RegisteredTool | None:
    autodiscover()
    return _REGISTRY.get(name)
