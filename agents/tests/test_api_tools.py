import pytest

from agents.models import AgentTool

pytestmark = pytest.mark.django_db


def tools_url(agent, project=None):
    return f"/api/projects/{(project or agent.project).pk}/agents/{agent.pk}/tools/"


class TestToolRegistryList:
    def test_any_user_lists_the_registry(self, api_client, outsider, tools):
        response = api_client(outsider).get("/api/tools/")
        assert response.status_code == 200
        names = {t["name"] for t in response.json()["results"]}
        assert {"calculator", "current_time", "ask_agent", "http_get"} <= names
        calc = next(t for t in response.json()["results"] if t["name"] == "calculator")
        assert calc["parameters"]["type"] == "object"

    def test_anonymous_gets_401(self, anon_client, tools):
        assert anon_client.get("/api/tools/").status_code == 401

    def test_query_count(self, api_client, owner, tools, django_assert_num_queries):
        client = api_client(owner)
        # 1 user (JWT), 2 count, 3 the page of tools
        with django_assert_num_queries(3):
            client.get("/api/tools/")

    def test_read_only(self, api_client, superuser, tools):
        assert api_client(superuser).post("/api/tools/", {"name": "x"}, format="json").status_code == 405


class TestAgentTools:
    body = {"tools": [{"name": "calculator"}, {"name": "current_time", "config": {"note": "x"}}]}

    def test_admin_sets_and_reads(self, api_client, agent, owner):
        client = api_client(owner)
        response = client.put(tools_url(agent), self.body, format="json")
        assert response.status_code == 200, response.json()
        assert [t["name"] for t in response.json()["tools"]] == ["calculator", "current_time"]
        response = client.put(tools_url(agent), {"tools": [{"name": "calculator"}]}, format="json")
        assert [t["name"] for t in response.json()["tools"]] == ["calculator"]
        assert client.get(tools_url(agent)).json()["tools"][0]["name"] == "calculator"
        assert list(AgentTool.objects.filter(agent=agent).values_list("tool__name", flat=True)) == [
            "calculator"
        ]

    @pytest.mark.parametrize("role", ["member", "viewer"])
    def test_non_admins_get_403(self, api_client, agent, role, request):
        client = api_client(request.getfixturevalue(role))
        assert client.get(tools_url(agent)).status_code == 403
        assert client.put(tools_url(agent), self.body, format="json").status_code == 403
        assert not AgentTool.objects.filter(agent=agent).exists()

    def test_outsider_gets_404(self, api_client, agent, outsider):
        assert api_client(outsider).get(tools_url(agent)).status_code == 404
        assert api_client(outsider).put(tools_url(agent), self.body, format="json").status_code == 404

    def test_another_projects_agent_is_404(self, api_client, project, other_agent, owner):
        assert (
            api_client(owner).put(tools_url(other_agent, project), self.body, format="json").status_code
            == 404
        )
        assert not AgentTool.objects.filter(agent=other_agent).exists()

    def test_unknown_tool_is_400(self, api_client, agent, owner):
        response = api_client(owner).put(tools_url(agent), {"tools": [{"name": "rm_rf"}]}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "tools"

    def test_disabled_tool_is_400(self, api_client, agent, owner):
        response = api_client(owner).put(tools_url(agent), {"tools": [{"name": "http_get"}]}, format="json")
        assert response.status_code == 400
        assert "http_get" in response.json()["errors"][0]["detail"]

    def test_missing_list_is_400(self, api_client, agent, owner):
        response = api_client(owner).put(tools_url(agent), {}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "tools"
