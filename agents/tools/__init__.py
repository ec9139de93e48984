"""Agent tools: the registry (`agents.tools.registry`) and the built-in tools."""

from . import builtin  # noqa: F401  (registers calculator, current_time, ask_agent, http_get)
