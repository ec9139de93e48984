"""Writes for agents, tools, conversations and messages, and the agent runtime."""

from .agents import (
    agent_create,
    agent_delete,
    agent_tools_set,
    agent_update,
    tool_registry_sync,
)
from .conversations import (
    agent_run_once,
    agent_to_agent_conversation,
    conversation_cancel,
    conversation_create,
    conversation_delete,
    conversation_process_queue,
    message_send,
)
from .events import event_emit, message_payload
from .runtime import tool_execute, turn_run

__all__ = [
    "agent_create",
    "agent_delete",
    "agent_run_once",
    "agent_to_agent_conversation",
    "agent_tools_set",
    "agent_update",
    "conversation_cancel",
    "conversation_create",
    "conversation_delete",
    "conversation_process_queue",
    "event_emit",
    "message_payload",
    "message_send",
    "tool_execute",
    "tool_registry_sync",
    "turn_run",
]
