import factory

from agents import services
from agents.models import Agent, Conversation
from projects.tests.factories import ProjectFactory


class AgentFactory(factory.django.DjangoModelFactory):
    """An agent made through `agent_create` (validated like the API)."""

    class Meta:
        model = Agent

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Agent {n}")
    system_prompt = "You are a helpful assistant. Answer briefly."

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.agent_create(**kwargs)


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    agent = factory.SubFactory(AgentFactory)
    project = factory.LazyAttribute(lambda o: o.agent.project)
    title = "A chat"
    created_by = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.conversation_create(**kwargs)
