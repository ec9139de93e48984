import pytest


@pytest.fixture
def agent(project, db):
    from agents.services import tool_registry_sync
    from agents.tests.factories import AgentFactory

    tool_registry_sync()
    return AgentFactory(project=project, name="Reporter", max_tokens=32)


@pytest.fixture
def other_agent(other_project, db):
    from agents.tests.factories import AgentFactory

    return AgentFactory(project=other_project, name="Elsewhere")


@pytest.fixture
def schedule(agent, owner):
    from scheduling.tests.factories import ScheduleFactory

    return ScheduleFactory(agent=agent, project=agent.project, created_by=owner, name="Morning report")
