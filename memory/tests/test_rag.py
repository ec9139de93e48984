"""RAG through the agent runtime: a memory-enabled agent cites its own project's entries only.

The agent runtime (agents.services.runtime) calls memory.selectors.memory_retrieve for each
user message; the real chat and embedding models answer through the real inference worker.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from memory.ingestion import document_ingest
from memory.services import document_upload
from memory.tests import samples

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inference_worker")]


def ingest(project, name: str, data: bytes) -> None:
    document, _ = document_upload(project=project, file=ContentFile(data, name=name), enqueue=False)
    assert document_ingest(document_id=document.pk).status == "ready"


def test_a_memory_enabled_agent_cites_only_its_projects_documents(project, other_project, owner):
    from agents.models import ConversationEvent, Message
    from agents.services.conversations import conversation_process_queue, message_send
    from agents.tests.factories import AgentFactory, ConversationFactory

    ingest(project, *samples.sample("txt"))  # lighthouse.txt: the foghorn
    ingest(project, *samples.sample("md"))
    # The other project holds a document about exactly the same question.
    ingest(
        other_project,
        "their-foghorn.txt",
        b"The keeper starts the foghorn whenever fog hides the harbour lights.",
    )

    agent = AgentFactory(
        project=project, memory_enabled=True, memory_top_k=2, max_tokens=16, tool_choice="none"
    )
    conversation = ConversationFactory(agent=agent, project=project, created_by=owner)
    message_send(
        conversation=conversation, content="When does the keeper start the foghorn?", sender_user=owner
    )
    conversation_process_queue(conversation_id=conversation.pk)  # a default worker may have run it already

    answer = Message.objects.get(conversation=conversation, role=Message.Role.ASSISTANT)
    assert answer.status == Message.Status.COMPLETED, answer.error
    names = [c["document_name"] for c in answer.citations]
    assert names and names[0] == "lighthouse.txt"
    assert "their-foghorn.txt" not in names
    assert len(answer.citations) <= 2
    completed = ConversationEvent.objects.get(conversation=conversation, type="message.completed")
    assert [c["entry_id"] for c in completed.payload["citations"]] == [
        c["entry_id"] for c in answer.citations
    ]


def test_an_agent_without_memory_cites_nothing(project, owner):
    from agents.models import Message
    from agents.services.conversations import conversation_process_queue, message_send
    from agents.tests.factories import AgentFactory, ConversationFactory

    ingest(project, *samples.sample("txt"))
    agent = AgentFactory(project=project, memory_enabled=False, max_tokens=8, tool_choice="none")
    conversation = ConversationFactory(agent=agent, project=project, created_by=owner)
    message_send(
        conversation=conversation, content="When does the keeper start the foghorn?", sender_user=owner
    )
    conversation_process_queue(conversation_id=conversation.pk)
    answer = Message.objects.get(conversation=conversation, role=Message.Role.ASSISTANT)
    assert answer.status == Message.Status.COMPLETED and answer.citations == []
