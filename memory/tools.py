"""The `memory_search` tool for agents: searches the agent's own project only."""

from __future__ import annotations

from typing import Any

from agents.tools.registry import ToolContext, ToolError, tool

from .embedding import EmbeddingUnavailable
from .selectors import HYBRID, SEARCH_MODES, memory_search

MAX_TOOL_K = 10
MAX_CONTENT_CHARS = 1200


@tool(
    name="memory_search",
    description=(
        "Search this project's memory (uploaded documents and saved notes) for passages relevant to a "
        "query. Returns the best passages with their source document and a relevance score."
    ),
    parameters={
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": 2000,
                "description": "What to look for.",
            },
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_TOOL_K, "default": 4},
            "mode": {"type": "string", "enum": list(SEARCH_MODES), "default": HYBRID},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    enabled_by_default=True,
)
def memory_search_tool(ctx: ToolContext, *, query: str, k: int = 4, mode: str = HYBRID) -> dict[str, Any]:
    """Only ever ctx.project (and ctx.agent's own entries plus the project's shared ones)."""
    try:
        hits = memory_search(
            project=ctx.project, query=query, k=min(k, MAX_TOOL_K), agent=ctx.agent, mode=mode
        )
    except EmbeddingUnavailable as exc:
        raise ToolError(str(exc)) from exc
    return {
        "results": [
            {
                "entry_id": str(hit["entry_id"]),
                "content": hit["content"][:MAX_CONTENT_CHARS],
                "score": round(hit["score"], 4),
                "document_id": str(hit["document_id"]) if hit["document_id"] else None,
                "document_name": hit["document_name"],
                "page": (hit["metadata"] or {}).get("page"),
            }
            for hit in hits
        ]
    }
