"""The registry, the built-in tools, and the runtime's tool executor (allow-list, schema, time limit)."""

import time

import pytest

from agents import services
from agents.models import AgentTool, Tool
from agents.services.runtime import allowed_tools, tool_execute
from agents.tools.builtin import calculate
from agents.tools.registry import ToolContext, ToolError, get_registered_tool, tool


@tool(
    name="test_sleep",
    description="Sleeps (tests only).",
    parameters={"type": "object", "properties": {"seconds": {"type": "number"}}, "required": ["seconds"]},
    timeout=0.3,
)
def _sleep(ctx: ToolContext, *, seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


pytestmark = pytest.mark.django_db


class TestCalculator:
    @pytest.mark.parametrize(
        ("expression", "expected"),
        [("(2 + 3) * 4", 20), ("2 ** 10", 1024), ("-7 // 2", -4), ("sqrt(16) + abs(-2)", 6.0), ("10 % 4", 2)],
    )
    def test_arithmetic(self, expression, expected):
        assert calculate(expression) == expected

    @pytest.mark.parametrize(
        "expression",
        [
            "__import__('os').system('true')",
            "open('/etc/passwd')",
            "x + 1",
            "(1).__class__",
            "9 ** 99999",
            "1 / 0",
            "[1, 2]",
            "lambda: 1",
        ],
    )
    def test_refuses_anything_but_arithmetic(self, expression):
        with pytest.raises(ToolError):
            calculate(expression)


class TestRegistry:
    def test_sync_writes_rows(self, tools):
        assert {"calculator", "current_time", "ask_agent", "http_get"} <= set(tools)
        calc = Tool.objects.get(name="calculator")
        assert calc.handler == "agents.tools.builtin.calculator"
        assert calc.parameters["required"] == ["expression"]
        assert calc.enabled is True
        assert Tool.objects.get(name="http_get").enabled is False  # off by default

    def test_sync_keeps_the_admins_choice(self, tools):
        Tool.objects.filter(name="calculator").update(enabled=False)
        services.tool_registry_sync()
        assert Tool.objects.get(name="calculator").enabled is False

    def test_a_name_cannot_be_taken_twice(self):
        with pytest.raises(ValueError):

            @tool(name="calculator", description="x", parameters={"type": "object"})
            def other(ctx):  # pragma: no cover
                return "x"

    def test_a_broken_schema_fails_at_registration(self):
        from jsonschema.exceptions import SchemaError

        with pytest.raises(SchemaError):
            tool(name="broken", description="x", parameters={"type": "no-such-type"})


class TestToolExecute:
    def allow(self, agent, *names, config=None):
        for name in names:
            AgentTool.objects.create(agent=agent, tool=Tool.objects.get(name=name), config=config or {})
        return allowed_tools(agent=agent)

    def run(self, conversation, name, arguments, allowed):
        return tool_execute(
            conversation=conversation,
            name=name,
            arguments=arguments,
            allowed=allowed,
            deadline=time.monotonic() + 5,
        )

    def test_runs_an_allowed_tool(self, conversation):
        allowed = self.allow(conversation.agent, "calculator")
        outcome = self.run(conversation, "calculator", '{"expression": "6 * 7"}', allowed)
        assert outcome.ok and outcome.result["result"] == 42

    @pytest.mark.parametrize(
        "arguments",
        ['{"expression": 5}', "{}", '{"expression": "1", "extra": true}', "not json", '{"expression": ""}'],
    )
    def test_invalid_arguments_are_refused(self, conversation, arguments):
        allowed = self.allow(conversation.agent, "calculator")
        outcome = self.run(conversation, "calculator", arguments, allowed)
        assert not outcome.ok and outcome.error_code == "invalid_arguments"

    def test_a_tool_not_on_the_allow_list_is_refused(self, conversation):
        allowed = self.allow(conversation.agent, "calculator")
        outcome = self.run(conversation, "current_time", {}, allowed)
        assert not outcome.ok and outcome.error_code == "tool_not_allowed"

    def test_a_disabled_tool_leaves_the_allow_list(self, conversation):
        self.allow(conversation.agent, "calculator")
        Tool.objects.filter(name="calculator").update(enabled=False)
        allowed = allowed_tools(agent=conversation.agent)
        assert (
            self.run(conversation, "calculator", {"expression": "1"}, allowed).error_code
            == "tool_not_allowed"
        )

    def test_another_agents_allow_list_does_not_count(self, conversation, other_agent):
        self.allow(other_agent, "calculator")
        allowed = allowed_tools(agent=conversation.agent)
        assert (
            self.run(conversation, "calculator", {"expression": "1"}, allowed).error_code
            == "tool_not_allowed"
        )

    def test_time_limit(self, conversation, tools):
        services.tool_registry_sync()
        allowed = self.allow(conversation.agent, "test_sleep")
        outcome = self.run(conversation, "test_sleep", {"seconds": 3}, allowed)
        assert not outcome.ok and outcome.error_code == "tool_timeout"
        assert self.run(conversation, "test_sleep", {"seconds": 0}, allowed).ok

    def test_tool_errors_reach_the_model_as_results(self, conversation):
        allowed = self.allow(conversation.agent, "calculator")
        outcome = self.run(conversation, "calculator", {"expression": "1 / 0"}, allowed)
        assert not outcome.ok and outcome.error_code == "tool_error"
        assert outcome.as_payload() == {"error": "tool_error", "detail": "Division by zero."}


class TestCurrentTime:
    def ctx(self, conversation, config=None):
        return ToolContext(
            project=conversation.project, agent=conversation.agent, conversation=conversation,
            config=config or {}, deadline=time.monotonic() + 5,
        )  # fmt: skip

    def test_time_zone(self, conversation):
        result = get_registered_tool("current_time").handler(self.ctx(conversation), timezone="Asia/Tokyo")
        assert result["iso"].endswith("+09:00")

    def test_unknown_zone(self, conversation):
        with pytest.raises(ToolError):
            get_registered_tool("current_time").handler(self.ctx(conversation), timezone="Mars/Olympus")


class TestHttpGet:
    @staticmethod
    def handler(ctx, **kw):
        entry = get_registered_tool("http_get")
        assert entry is not None
        return entry.handler(ctx, **kw)

    def ctx(self, conversation, hosts):
        return ToolContext(
            project=conversation.project, agent=conversation.agent, conversation=conversation,
            config={"allowed_hosts": hosts}, deadline=time.monotonic() + 5,
        )  # fmt: skip

    def test_host_must_be_on_the_allow_list(self, conversation):
        with pytest.raises(ToolError, match="allow-list"):
            self.handler(self.ctx(conversation, ["example.org"]), url="https://example.com/")

    @pytest.mark.parametrize(
        "url",
        [
            "http://localhost:8000/admin/",
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/",
            "http://[::1]/",
        ],
    )
    def test_private_loopback_and_link_local_are_refused_after_resolution(self, conversation, url):
        hosts = ["localhost", "127.0.0.1", "10.0.0.1", "169.254.169.254", "::1"]
        with pytest.raises(ToolError, match="non-public|resolve"):
            self.handler(self.ctx(conversation, hosts), url=url)

    def test_only_http(self, conversation):
        with pytest.raises(ToolError):
            self.handler(self.ctx(conversation, ["example.com"]), url="file:///etc/passwd")
