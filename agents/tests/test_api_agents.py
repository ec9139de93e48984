import pytest

from agents.models import Agent

pytestmark = pytest.mark.django_db


def url(project, agent=None):
    base = f"/api/projects/{project.pk}/agents/"
    return f"{base}{agent.pk}/" if agent else base


class TestAgentList:
    def test_members_and_viewers_read(self, api_client, agent, member, viewer):
        for user in (member, viewer):
            response = api_client(user).get(url(agent.project))
            assert response.status_code == 200
            assert [a["name"] for a in response.json()["results"]] == ["Helper"]

    def test_outsider_gets_404(self, api_client, agent, outsider):
        assert api_client(outsider).get(url(agent.project)).status_code == 404

    def test_anonymous_gets_401(self, anon_client, agent):
        assert anon_client.get(url(agent.project)).status_code == 401

    def test_only_this_projects_agents(self, api_client, agent, other_agent, owner):
        names = [a["name"] for a in api_client(owner).get(url(agent.project)).json()["results"]]
        assert names == ["Helper"]

    def test_query_count(self, api_client, project, owner, tools, django_assert_num_queries):
        from agents.tests.factories import AgentFactory

        for i in range(5):
            AgentFactory(project=project, name=f"A{i}")
        client = api_client(owner)
        # 1 user (JWT), 2 membership + project (tenant gate), 3 count, 4 the page of agents
        with django_assert_num_queries(4):
            response = client.get(url(project))
        assert response.json()["count"] == 5


class TestAgentCreate:
    payload = {"name": "Writer", "system_prompt": "Write well.", "temperature": 0.3, "max_tokens": 64}

    def test_admin_creates(self, api_client, project, owner, tools):
        response = api_client(owner).post(url(project), self.payload, format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["name"] == "Writer" and body["temperature"] == 0.3 and body["status"] == "active"
        agent = Agent.objects.get(pk=body["id"])
        assert agent.project == project and agent.created_by == owner

    @pytest.mark.parametrize("role", ["member", "viewer"])
    def test_non_admins_get_403(self, api_client, project, role, request, tools):
        user = request.getfixturevalue(role)
        assert api_client(user).post(url(project), self.payload, format="json").status_code == 403
        assert not Agent.objects.filter(name="Writer").exists()

    def test_outsider_gets_404(self, api_client, project, outsider, tools):
        assert api_client(outsider).post(url(project), self.payload, format="json").status_code == 404

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("temperature", 5),
            ("top_p", 0),
            ("max_tokens", 0),
            ("model_name", "no-such-model"),
            ("context_window", 10**6),
            ("tool_choice", "no_such_tool"),
            ("max_tool_steps", 99),
        ],
    )
    def test_bad_input_names_the_field(self, api_client, project, owner, tools, field, value):
        response = api_client(owner).post(url(project), {**self.payload, field: value}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == field
        assert not Agent.objects.filter(name="Writer").exists()

    def test_duplicate_name_is_400(self, api_client, agent, owner):
        response = api_client(owner).post(url(agent.project), {"name": "Helper"}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "name"


class TestAgentDetail:
    def test_patch_by_admin(self, api_client, agent, owner):
        response = api_client(owner).patch(url(agent.project, agent), {"status": "paused"}, format="json")
        assert response.status_code == 200
        agent.refresh_from_db()
        assert agent.status == "paused"

    def test_patch_by_member_is_403(self, api_client, agent, member):
        response = api_client(member).patch(url(agent.project, agent), {"status": "paused"}, format="json")
        assert response.status_code == 403

    def test_viewer_cannot_delete(self, api_client, agent, viewer):
        assert api_client(viewer).delete(url(agent.project, agent)).status_code == 403
        assert Agent.objects.filter(pk=agent.pk).exists()

    def test_another_projects_agent_is_404(self, api_client, project, other_agent, owner):
        # Through this project's URL and through the other project's URL.
        assert api_client(owner).get(url(project, other_agent)).status_code == 404
        assert api_client(owner).get(url(other_agent.project, other_agent)).status_code == 404
        assert api_client(owner).delete(url(project, other_agent)).status_code == 404
        assert Agent.objects.filter(pk=other_agent.pk).exists()

    def test_admin_deletes(self, api_client, agent, owner):
        assert api_client(owner).delete(url(agent.project, agent)).status_code == 204
        assert not Agent.objects.filter(pk=agent.pk).exists()

    def test_superuser_reads_any_project(self, api_client, agent, superuser):
        assert api_client(superuser).get(url(agent.project, agent)).status_code == 200
