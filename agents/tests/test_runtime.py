"""The agent runtime against the real model on a real inference worker (and, for the queued
path, a real `default` worker). Assertions are on structure and behaviour, never on the text."""

import time

import pytest

from agents import services
from agents.models import AgentTool, ConversationEvent, Message, Tool
from agents.tests.factories import AgentFactory, ConversationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def events_of(conversation, **filters):
    return list(ConversationEvent.objects.filter(conversation=conversation, **filters).order_by("seq"))


def token_text(conversation, message):
    return "".join(
        e.payload["text"] for e in events_of(conversation, type="token", payload__message_id=str(message.pk))
    )


def wait_for(predicate, timeout=120.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def assistant_replies(conversation):
    return list(Message.objects.filter(conversation=conversation, role="assistant").order_by("created_at"))


def finished(conversation, count):
    replies = assistant_replies(conversation)
    done = [m for m in replies if m.status in ("completed", "failed", "cancelled")]
    return replies if len(done) >= count else None


def allow(agent, *names):
    for name in names:
        AgentTool.objects.create(agent=agent, tool=Tool.objects.get(name=name))


def assert_contiguous(conversation):
    seqs = [e.seq for e in events_of(conversation)]
    assert seqs == list(range(1, len(seqs) + 1))


class TestRunOnce:
    def test_a_turn_streams_and_stores_exactly_what_was_streamed(self, inference_worker, conversation):
        reply = services.agent_run_once(
            agent=conversation.agent,
            conversation=conversation,
            content="Say hello.",
            sender_system="system:test",
        )
        assert reply.status == "completed", reply.error
        assert reply.content and reply.content == token_text(conversation, reply)
        assert reply.usage["completion_tokens"] > 0 and reply.usage["prompt_tokens"] > 0
        assert reply.timings["first_token_ms"] is not None
        assert reply.receiver_system == "system:test" and reply.sender_agent_id == conversation.agent_id
        types = [e.type for e in events_of(conversation)]
        assert types[:2] == ["message.created", "message.created"] and types[-1] == "message.completed"
        assert set(types[2:-1]) == {"token"}
        completed = events_of(conversation, type="message.completed")[0].payload
        assert completed["message"]["id"] == str(reply.pk) and completed["message"]["status"] == "completed"
        assert completed["usage"] == reply.usage
        assert_contiguous(conversation)

    def test_tokens_are_batched(self, inference_worker, conversation, settings):
        settings.AGENT_TOKEN_BATCH_MS = 10**9  # the first text at once, then the rest in one event
        reply = services.agent_run_once(
            agent=conversation.agent, conversation=conversation, content="Count to five."
        )
        assert reply.status == "completed"
        assert len(events_of(conversation, type="token")) == 2
        assert reply.usage["completion_tokens"] > 1

    def test_history_is_in_the_prompt_and_fits_the_context(self, inference_worker, conversation, owner):
        from agents.services.runtime import prompt_build

        for i in range(3):
            services.agent_run_once(
                agent=conversation.agent, conversation=conversation, content=f"Question {i}"
            )
        inbound = Message.objects.create(
            conversation=conversation, role="user", content="Last", status="queued"
        )
        messages = prompt_build(conversation=conversation, inbound=inbound, memory_text="", tool_specs=[])
        assert messages[0]["role"] == "system" and messages[-1] == {"role": "user", "content": "Last"}
        assert [m["content"] for m in messages if m["role"] == "user"][:3] == [
            "Question 0",
            "Question 1",
            "Question 2",
        ]
        # A long history is cut from the oldest end to fit the context window.
        conversation.agent.context_window = 256
        conversation.agent.max_tokens = 220
        short = prompt_build(conversation=conversation, inbound=inbound, memory_text="", tool_specs=[])
        assert short[-1]["content"] == "Last" and len(short) < len(messages)

    def test_a_model_error_fails_the_turn_and_the_conversation_stays_usable(
        self, inference_worker, project, tools
    ):
        agent = AgentFactory(project=project, name="Verbose", system_prompt="x " * 5000, max_tokens=32)
        conversation = ConversationFactory(agent=agent, project=project)
        failed = services.agent_run_once(agent=agent, conversation=conversation, content="Hi")
        assert failed.status == "failed" and failed.error
        errors = events_of(conversation, type="error")
        assert errors and errors[0].payload["message_id"] == str(failed.pk)
        assert events_of(conversation)[-1].type == "message.completed"
        services.agent_update(agent=agent, system_prompt="Be brief.")
        conversation.agent.refresh_from_db()
        assert (
            services.agent_run_once(agent=agent, conversation=conversation, content="Hi").status
            == "completed"
        )

    def test_the_time_limit_fails_the_turn_with_what_was_written(self, inference_worker, project, tools):
        agent = AgentFactory(project=project, name="Slow", max_tokens=1000, temperature=1.0)
        conversation = ConversationFactory(agent=agent, project=project)
        reply = services.agent_run_once(
            agent=agent,
            conversation=conversation,
            content="Write a very long story about the sea.",
            timeout=1.0,
        )
        assert reply.status == "failed" and reply.error.startswith("timeout")
        assert reply.content == token_text(conversation, reply)
        assert events_of(conversation, type="error")[0].payload["code"] == "timeout"
        services.agent_update(agent=agent, max_tokens=16)
        conversation.refresh_from_db()
        again = services.agent_run_once(agent=agent, conversation=conversation, content="Hi")
        assert again.status == "completed", again.error

    def test_a_paused_agent_fails_cleanly(self, inference_worker, conversation):
        services.agent_update(agent=conversation.agent, status="paused")
        reply = services.agent_run_once(agent=conversation.agent, conversation=conversation, content="Hi")
        assert reply.status == "failed" and reply.error.startswith("agent_paused")


class TestToolLoop:
    def test_forced_tool_call_is_validated_run_and_fed_back(self, inference_worker, project, tools):
        agent = AgentFactory(
            project=project,
            name="Calc",
            tool_choice="calculator",
            max_tool_steps=1,
            max_tokens=96,
            temperature=0.0,  # greedy: the same call every run (a sampled one may run past max_tokens)
        )
        allow(agent, "calculator")
        conversation = ConversationFactory(agent=agent, project=project)
        reply = services.agent_run_once(agent=agent, conversation=conversation, content="What is 12 times 7?")
        assert reply.status == "completed", reply.error
        calls = events_of(conversation, type="tool.call")
        results = events_of(conversation, type="tool.result")
        assert len(calls) == 1 and len(results) == 1
        assert calls[0].payload["tool"] == "calculator" and isinstance(calls[0].payload["arguments"], dict)
        assert calls[0].seq < results[0].seq < events_of(conversation, type="message.completed")[0].seq
        # The grammar makes the arguments match the schema; the result is the tool's (ok or a tool error).
        assert "expression" in calls[0].payload["arguments"]
        tool_message = Message.objects.get(conversation=conversation, role="tool")
        assert tool_message.tool_name == "calculator" and tool_message.reply_to_id == reply.pk
        assert reply.tool_calls[0]["tool"] == "calculator"
        assert reply.content == token_text(conversation, reply)

    def test_step_limit(self, inference_worker, project, tools):
        agent = AgentFactory(
            project=project, name="Loop", tool_choice="current_time", max_tool_steps=2, max_tokens=32
        )
        allow(agent, "current_time")
        conversation = ConversationFactory(agent=agent, project=project)
        reply = services.agent_run_once(agent=agent, conversation=conversation, content="What time is it?")
        assert reply.status == "completed", reply.error
        assert len(events_of(conversation, type="tool.call")) == 2  # then it must answer without tools
        assert len(events_of(conversation, type="tool.result")) == 2

    def test_tool_time_limit_inside_the_loop(self, inference_worker, project, tools):
        from agents.tests import test_tools  # noqa: F401  (registers test_sleep)

        services.tool_registry_sync()
        agent = AgentFactory(
            project=project,
            name="Sleepy",
            tool_choice="test_sleep",
            max_tool_steps=1,
            max_tokens=32,
            temperature=0.0,  # greedy: a sampled call may run past max_tokens
        )
        allow(agent, "test_sleep")
        conversation = ConversationFactory(agent=agent, project=project)
        reply = services.agent_run_once(
            agent=agent, conversation=conversation, content="Sleep for 30 seconds."
        )
        result = events_of(conversation, type="tool.result")[0].payload
        # The model picks the number; a short sleep may finish, a long one hits the 0.3 s limit.
        seconds = events_of(conversation, type="tool.call")[0].payload["arguments"]["seconds"]
        if seconds >= 1:
            assert result["ok"] is False and result["result"]["error"] == "tool_timeout"
        assert reply.status == "completed"

    def test_tools_not_on_the_allow_list_are_not_offered(self, inference_worker, project, tools):
        # tool_choice names a tool the agent may not call: no tools are forced, none are called.
        agent = AgentFactory(project=project, name="NoTools", tool_choice="calculator", max_tokens=24)
        conversation = ConversationFactory(agent=agent, project=project)
        reply = services.agent_run_once(agent=agent, conversation=conversation, content="What is 2 + 2?")
        assert reply.status == "completed" and not events_of(conversation, type="tool.call")


class TestAskAgent:
    def test_asks_another_agent_of_the_same_project(self, inference_worker, project, tools):
        import time as _time

        from agents.tools.registry import ToolContext, get_registered_tool

        asker = AgentFactory(project=project, name="Asker")
        target = AgentFactory(project=project, name="Expert", max_tokens=24)
        conversation = ConversationFactory(agent=asker, project=project)
        ctx = ToolContext(
            project=project, agent=asker, conversation=conversation, deadline=_time.monotonic() + 60
        )
        answer = get_registered_tool("ask_agent").handler(ctx, agent="expert", question="Name a colour.")
        assert answer["agent"] == "Expert" and answer["answer"]
        question = Message.objects.get(sender_agent=asker, receiver_agent=target)
        reply = Message.objects.get(sender_agent=target, receiver_agent=asker)
        assert question.conversation_id == reply.conversation_id and reply.reply_to_id == question.pk
        assert question.conversation.asker_agent_id == asker.pk and reply.content == answer["answer"]

    def test_cannot_reach_another_projects_agent(self, project, other_agent, tools):
        import time as _time

        from agents.tools.registry import ToolContext, ToolError, get_registered_tool

        asker = AgentFactory(project=project, name="Asker")
        ctx = ToolContext(project=project, agent=asker, conversation=None, deadline=_time.monotonic() + 5)
        for name in (other_agent.name, str(other_agent.pk)):
            with pytest.raises(ToolError, match="No agent"):
                get_registered_tool("ask_agent").handler(ctx, agent=name, question="hi")
        assert not Message.objects.filter(receiver_agent=other_agent).exists()


class TestQueue:
    def test_messages_during_a_turn_wait_in_order_none_lost(
        self, inference_worker, default_worker, conversation, member
    ):
        sent = [
            services.message_send(conversation=conversation, content=f"Question {i}", sender_user=member)
            for i in range(3)
        ]
        replies = wait_for(lambda: finished(conversation, 3))
        assert [r.reply_to_id for r in replies] == [m.pk for m in sent]
        assert all(r.status == "completed" for r in replies), [r.error for r in replies]
        for earlier, later in zip(replies, replies[1:], strict=False):
            assert earlier.finished_at <= later.started_at  # one turn at a time
        assert all(r.content == token_text(conversation, r) for r in replies)
        assert set(Message.objects.filter(pk__in=[m.pk for m in sent]).values_list("status", flat=True)) == {
            "completed"
        }
        assert_contiguous(conversation)

    def test_cancel_keeps_the_partial_text(self, inference_worker, default_worker, project, member, tools):
        agent = AgentFactory(project=project, name="Long", max_tokens=1000, temperature=1.0)
        conversation = ConversationFactory(agent=agent, project=project)
        services.message_send(conversation=conversation, content="Write a long story.", sender_user=member)
        wait_for(lambda: events_of(conversation, type="token"))
        assert services.conversation_cancel(conversation=conversation) is not None
        [reply] = wait_for(lambda: finished(conversation, 1))
        assert reply.status == "cancelled"
        assert reply.content and reply.content == token_text(conversation, reply)
        assert reply.usage["completion_tokens"] < 1000
        assert events_of(conversation)[-1].type == "message.completed"


class TestMemory:
    def test_retrieved_entries_are_cited_on_the_answer(self, inference_worker, project, owner, tools):
        from memory.services import memory_entry_create

        entry, _ = memory_entry_create(
            project=project, content="The office coffee machine is on the third floor.", created_by=owner
        )
        agent = AgentFactory(
            project=project, name="Librarian", memory_enabled=True, memory_top_k=2, max_tokens=24
        )
        conversation = ConversationFactory(agent=agent, project=project)
        reply = services.agent_run_once(
            agent=agent, conversation=conversation, content="Where is the coffee machine?"
        )
        assert reply.status == "completed", reply.error
        assert str(entry.pk) in [c["entry_id"] for c in reply.citations]
        assert set(reply.citations[0]) == {"entry_id", "document_id", "document_name", "score"}
        completed = events_of(conversation, type="message.completed")[0].payload
        assert completed["citations"] == reply.citations == completed["message"]["citations"]
        # And the entry's text is in the system prompt the model saw.
        from agents.services.runtime import _memory_context, prompt_build

        memory_text, _ = _memory_context(conversation=conversation, query="Where is the coffee machine?")
        inbound = Message.objects.get(pk=reply.reply_to_id)
        messages = prompt_build(
            conversation=conversation, inbound=inbound, memory_text=memory_text, tool_specs=[]
        )
        assert "third floor" in messages[0]["content"]

    def test_without_memory_nothing_is_cited(self, inference_worker, project, owner, conversation):
        from memory.services import memory_entry_create

        memory_entry_create(
            project=project, content="The coffee machine is on the third floor.", created_by=owner
        )
        reply = services.agent_run_once(
            agent=conversation.agent, conversation=conversation, content="Where is the coffee machine?"
        )
        assert reply.status == "completed" and reply.citations == []
