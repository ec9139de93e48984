"""Writes about agents, their tools, and the tool registry rows."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from rest_framework.exceptions import ValidationError

from accounts.models import User
from agents.models import Agent, AgentTool, Tool
from agents.tools.registry import autodiscover, registered_tools
from projects.models import Project

AGENT_FIELDS = (
    "name",
    "purpose",
    "system_prompt",
    "model_name",
    "temperature",
    "top_p",
    "max_tokens",
    "context_window",
    "status",
    "memory_enabled",
    "memory_top_k",
    "tool_choice",
    "max_tool_steps",
)


def _validate_agent(*, project: Project, values: dict[str, Any], instance: Agent | None = None) -> None:
    models: dict[str, dict[str, Any]] = settings.INFERENCE_MODELS
    model_name = values.get("model_name")
    spec = models.get(model_name or "")
    if spec is None or spec.get("kind") != "chat":
        raise ValidationError({"model_name": [f"Unknown chat model {model_name!r}."]})
    n_ctx = int(spec.get("n_ctx") or 2048)
    window = values.get("context_window")
    if window is not None and not 256 <= window <= n_ctx:
        raise ValidationError({"context_window": [f"Must be between 256 and the model's {n_ctx} tokens."]})
    if values.get("max_tokens", 1) >= (window or n_ctx):
        raise ValidationError({"max_tokens": ["Must be smaller than the context window."]})
    if values.get("max_tool_steps", 0) > settings.AGENT_MAX_TOOL_STEPS:
        raise ValidationError({"max_tool_steps": [f"At most {settings.AGENT_MAX_TOOL_STEPS}."]})
    choice = values.get("tool_choice", "auto")
    if choice not in ("auto", "none") and not Tool.objects.filter(name=choice).exists():
        raise ValidationError({"tool_choice": ["Use 'auto', 'none', or the name of a registered tool."]})
    clash = Agent.objects.filter(project=project, name=values.get("name"))
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise ValidationError({"name": ["An agent with this name already exists in this project."]})


@transaction.atomic
def agent_create(
    *,
    project: Project,
    name: str,
    system_prompt: str = "",
    created_by: User | None = None,
    model_name: str | None = None,
    tools: list[str] | None = None,
    **settings_values: Any,
) -> Agent:
    unknown = set(settings_values) - set(AGENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown agent fields: {sorted(unknown)}")
    agent = Agent(
        project=project,
        name=name,
        system_prompt=system_prompt,
        model_name=model_name or settings.INFERENCE_DEFAULT_CHAT_MODEL,
        created_by=created_by,
        **settings_values,
    )
    _validate_agent(project=project, values={f: getattr(agent, f) for f in AGENT_FIELDS})
    agent.save()
    if tools:
        agent_tools_set(agent=agent, tools=[{"name": t, "config": {}} for t in tools])
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, **changes: Any) -> Agent:
    unknown = set(changes) - set(AGENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown agent fields: {sorted(unknown)}")
    for field, value in changes.items():
        setattr(agent, field, value)
    _validate_agent(
        project=agent.project, values={f: getattr(agent, f) for f in AGENT_FIELDS}, instance=agent
    )
    agent.save(update_fields=[*changes, "updated_at"])
    return agent


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    agent.delete()


@transaction.atomic
def agent_tools_set(*, agent: Agent, tools: list[dict[str, Any]]) -> list[AgentTool]:
    """Replace the agent's allow-list: `[{"name": "calculator", "config": {...}}, ...]`."""
    names = [t["name"] for t in tools]
    if len(set(names)) != len(names):
        raise ValidationError({"tools": ["A tool is listed twice."]})
    rows = {t.name: t for t in Tool.objects.filter(name__in=names)}
    missing = [n for n in names if n not in rows]
    if missing:
        raise ValidationError({"tools": [f"Unknown tool(s): {', '.join(missing)}."]})
    disabled = [n for n in names if not rows[n].enabled]
    if disabled:
        raise ValidationError(
            {"tools": [f"Disabled by the platform's administrators: {', '.join(disabled)}."]}
        )
    AgentTool.objects.filter(agent=agent).exclude(tool__name__in=names).delete()
    result = []
    for entry in tools:
        at, _ = AgentTool.objects.update_or_create(
            agent=agent, tool=rows[entry["name"]], defaults={"config": entry.get("config") or {}}
        )
        result.append(at)
    return sorted(result, key=lambda at: at.tool.name)


@transaction.atomic
def tool_registry_sync() -> list[Tool]:
    """One `Tool` row per registered tool. A new row takes `enabled_by_default`; an existing
    row keeps the enabled flag an administrator chose, and gets the code's description/schema."""
    autodiscover()
    rows = []
    for name, entry in sorted(registered_tools().items()):
        tool, created = Tool.objects.get_or_create(
            name=name,
            defaults={
                "description": entry.description,
                "parameters": entry.parameters,
                "handler": entry.handler_path,
                "enabled": entry.enabled_by_default,
            },
        )
        if not created and (
            tool.description != entry.description
            or tool.parameters != entry.parameters
            or tool.handler != entry.handler_path
        ):
            tool.description, tool.parameters, tool.handler = (
                entry.description,
                entry.parameters,
                entry.handler_path,
            )
            tool.save(update_fields=["description", "parameters", "handler", "updated_at"])
        rows.append(tool)
    return rows
