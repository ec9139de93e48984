"""The built-in tools: calculator, current_time, ask_agent, http_get.

Each only ever sees `ctx.project`.
"""

from __future__ import annotations

import ast
import ipaddress
import math
import operator
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings

from .registry import ToolContext, ToolError, tool

# --- calculator ------------------------------------------------------------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPONENT = 10_000
MAX_MAGNITUDE = 10**100


def _evaluate(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return cast(float | int, node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError("Exponent too large.")
        result = _BINARY[type(node.op)](left, right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        result = _UNARY[type(node.op)](_evaluate(node.operand))
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        result = _FUNCTIONS[node.func.id](*[_evaluate(arg) for arg in node.args])
    else:
        raise ToolError(f"Unsupported expression element: {type(node).__name__}.")
    if isinstance(result, complex) or abs(result) > MAX_MAGNITUDE:
        raise ToolError("Result out of range.")
    return result


def calculate(expression: str) -> float | int:
    """Safe arithmetic over numbers, + - * / // % **, and a few math functions. No eval."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"Not an arithmetic expression: {exc.msg}.") from None
    try:
        return _evaluate(tree)
    except ZeroDivisionError:
        raise ToolError("Division by zero.") from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise ToolError(f"Cannot compute: {exc}.") from None


@tool(
    name="calculator",
    description="Evaluate an arithmetic expression, e.g. '(2 + 3) * 4' or 'sqrt(2)'.",
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string", "minLength": 1, "maxLength": 200}},
        "required": ["expression"],
        "additionalProperties": False,
    },
)
def calculator(ctx: ToolContext, *, expression: str) -> dict[str, Any]:
    return {"expression": expression, "result": calculate(expression)}


# --- current_time ----------------------------------------------------------------------------


@tool(
    name="current_time",
    description="The current date and time in an IANA time zone such as 'Europe/Paris' (default UTC).",
    parameters={
        "type": "object",
        "properties": {"timezone": {"type": "string", "minLength": 1, "maxLength": 64}},
        "additionalProperties": False,
    },
)
def current_time(ctx: ToolContext, *, timezone: str = "UTC") -> dict[str, Any]:
    if timezone not in available_timezones() and timezone != "UTC":
        raise ToolError(f"Unknown time zone {timezone!r}; use an IANA name like 'Europe/Paris'.")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"Unknown time zone {timezone!r}.") from None
    now = datetime.now(zone)
    return {"timezone": timezone, "iso": now.isoformat(), "weekday": now.strftime("%A")}


# --- ask_agent -------------------------------------------------------------------------------


@tool(
    name="ask_agent",
    description="Ask another agent of this project a question and wait for its answer.",
    parameters={
        "type": "object",
        "properties": {
            "agent": {"type": "string", "minLength": 1, "maxLength": 120},
            "question": {"type": "string", "minLength": 1, "maxLength": 4000},
        },
        "required": ["agent", "question"],
        "additionalProperties": False,
    },
)
def ask_agent(ctx: ToolContext, *, agent: str, question: str) -> dict[str, Any]:
    """The other agent (by name or id, same project only) answers in an agent-to-agent conversation."""
    from agents import selectors, services

    target = selectors.agent_find_in_project(project=ctx.project, name_or_id=agent)
    if target is None:
        raise ToolError(f"No agent named {agent!r} in this project.")
    if target.pk == ctx.agent.pk:
        raise ToolError("An agent cannot ask itself.")
    if target.status != target.Status.ACTIVE:
        raise ToolError(f"Agent {target.name!r} is paused.")
    conversation = services.agent_to_agent_conversation(asker=ctx.agent, target=target)
    timeout = max(1.0, min(ctx.remaining(), float(settings.AGENT_ASK_AGENT_TIMEOUT)))
    reply = services.agent_run_once(
        agent=target,
        conversation=conversation,
        content=question,
        sender_agent=ctx.agent,
        timeout=timeout,
    )
    if reply.status != reply.Status.COMPLETED:
        raise ToolError(f"Agent {target.name!r} did not answer ({reply.status}: {reply.error}).")
    return {"agent": target.name, "answer": reply.content}


# --- http_get --------------------------------------------------------------------------------


def _host_allowed(host: str, allowed: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def resolve_public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, or ToolError when any of them is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ToolError(f"Cannot resolve {host!r}.") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if (
            not ip.is_global  # private, loopback, link-local, shared (CGNAT), reserved, unspecified
            or ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or (mapped is not None and not mapped.is_global)
        ):
            raise ToolError(f"{host!r} resolves to a non-public address; refused.")
    return addresses


@tool(
    name="http_get",
    description="Fetch a web page (GET) from an allowed host and return its text.",
    parameters={
        "type": "object",
        "properties": {"url": {"type": "string", "minLength": 8, "maxLength": 2000}},
        "required": ["url"],
        "additionalProperties": False,
    },
    enabled_by_default=False,
)
def http_get(ctx: ToolContext, *, url: str) -> dict[str, Any]:
    """Allowed hosts: the agent's tool config `allowed_hosts` plus AGENT_HTTP_GET_ALLOWED_HOSTS.

    The address is resolved once, checked, and the connection goes to that address (no
    second lookup an attacker could rebind). Redirects are not followed.
    """
    import httpx

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError("Only http(s) URLs with a host are allowed.")
    host = parts.hostname
    allowed = list(ctx.config.get("allowed_hosts") or []) + list(settings.AGENT_HTTP_GET_ALLOWED_HOSTS)
    if not _host_allowed(host, allowed):
        raise ToolError(f"Host {host!r} is not on this agent's allow-list.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_public_addresses(host, port)[0]
    max_bytes = int(ctx.config.get("max_bytes") or settings.AGENT_HTTP_GET_MAX_BYTES)
    timeout = max(0.5, min(ctx.remaining(), float(settings.AGENT_HTTP_GET_TIMEOUT)))
    # Connect to the checked address; keep the Host header and TLS server name.
    netloc_ip = f"[{address}]" if ":" in address else address
    target = parts._replace(netloc=f"{netloc_ip}:{port}").geturl()
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    body = bytearray()
    truncated = False
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=True) as client:
        request = client.build_request("GET", target, headers={"Host": host}, extensions=extensions)
        try:
            response = client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ToolError(f"Request failed: {type(exc).__name__}.") from None
        try:
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    truncated = True
                    del body[max_bytes:]
                    break
        finally:
            response.close()
    text = bytes(body).decode(response.encoding or "utf-8", errors="replace")
    return {
        "url": url,
        "status": response.status_code,
        "content_type": response.headers.get("content-type", ""),
        "text": text,
        "truncated": truncated,
    }
