import pytest


@pytest.fixture
def tools(db):
    """The Tool rows for every @tool registration (post_migrate writes them too)."""
    from agents.services import tool_registry_sync

    return {t.name: t for t in tool_registry_sync()}


@pytest.fixture
def agent(project, tools):
    from agents.tests.factories import AgentFactory

    return AgentFactory(project=project, name="Helper", max_tokens=48)


@pytest.fixture
def other_agent(other_project, tools):
    from agents.tests.factories import AgentFactory

    return AgentFactory(project=other_project, name="Elsewhere")


@pytest.fixture
def conversation(agent, owner):
    from agents.tests.factories import ConversationFactory

    return ConversationFactory(agent=agent, project=agent.project, created_by=owner)


@pytest.fixture
def other_conversation(other_agent, outsider):
    from agents.tests.factories import ConversationFactory

    return ConversationFactory(agent=other_agent, project=other_agent.project, created_by=outsider)
