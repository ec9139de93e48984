"""Reads about agents, tools, conversations, messages and events (already joined)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from accounts.models import User
from projects.models import Project
from projects.selectors import ProjectAccess, project_access_for_user

from .models import Agent, AgentTool, Conversation, ConversationEvent, Message, Tool


def agent_list(*, project: Project) -> QuerySet[Agent]:
    return Agent.objects.filter(project=project).order_by("name")


def agent_get(*, project: Project, agent_id: uuid.UUID | str) -> Agent:
    agent = agent_list(project=project).filter(pk=agent_id).first()
    if agent is None:
        raise NotFound("No such agent.")
    return agent


def agent_find_in_project(*, project: Project, name_or_id: str) -> Agent | None:
    """An agent of `project` by id or (case-insensitive) name; never another project's."""
    qs = Agent.objects.filter(project=project)
    try:
        found = qs.filter(pk=uuid.UUID(str(name_or_id))).first()
        if found is not None:
            return found
    except ValueError:
        pass
    return qs.filter(name__iexact=name_or_id.strip()).first()


def tool_list() -> QuerySet[Tool]:
    return Tool.objects.order_by("name")


def agent_tool_list(*, agent: Agent) -> QuerySet[AgentTool]:
    return AgentTool.objects.filter(agent=agent).select_related("tool").order_by("tool__name")


def conversation_list(*, project: Project, user: User | None = None) -> QuerySet[Conversation]:
    """A project's conversations with people (agent-to-agent ones are listed too, marked by asker_agent)."""
    return Conversation.objects.filter(project=project).select_related("agent").order_by("-created_at")


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return Message.objects.filter(conversation=conversation).order_by("created_at")


def event_list(*, conversation: Conversation | uuid.UUID, after: int = 0) -> QuerySet[ConversationEvent]:
    return ConversationEvent.objects.filter(conversation=conversation, seq__gt=after).order_by("seq")


def conversation_for_user(
    *, project_id: uuid.UUID | str, conversation_id: uuid.UUID | str, user: User
) -> tuple[ProjectAccess, Conversation]:
    """The socket's tenant gate: the same project lookup as REST, then the conversation in it.

    NotFound (→ 4404) when the user is not a member or the conversation is not in the project.
    """
    access = project_access_for_user(project_id=project_id, user=user)
    try:
        conversation_id = uuid.UUID(str(conversation_id))
    except ValueError:
        raise NotFound("No such conversation.") from None
    conversation = (
        Conversation.objects.select_related("agent", "project")
        .filter(project=access.project, pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation.")
    return access, conversation
