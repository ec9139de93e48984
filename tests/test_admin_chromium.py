"""The Django admin, driven by a real headless Chromium (Debian's chromium + chromium-driver).

A superuser logs in, sees projects (with their members), agents, conversations, documents,
schedules and usage, sets a project's daily token quota, and grants a per-object permission
on a project through guardian's "Object permissions" page, which then takes effect in the API.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from tests.test_dashboard import (
    make_agent,
    make_conversation,
    make_document,
    make_entry,
    make_schedule,
    make_usage,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "correct-horse-battery-9"  # the `superuser` fixture's
SCREENSHOTS = Path(tempfile.gettempdir()) / "admin-chromium"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def browser() -> Iterator[object]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    assert not missing, f"missing {missing}: apt-get install -y chromium chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(5)
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def page_text(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.TAG_NAME, "body").text


def click_and_wait(browser, element) -> None:
    """Click something that submits or navigates, and wait until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old_body = browser.find_element(By.TAG_NAME, "body")
    element.click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(old_body))
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return document.readyState") == "complete")


def open_page(browser, live_server, path: str, shot: str | None = None) -> str:
    browser.get(f"{live_server.url}{path}")
    if shot:
        browser.save_screenshot(str(SCREENSHOTS / f"{shot}.png"))
    text = page_text(browser)
    assert "Server Error" not in text and "Page not found" not in text, f"{path}: {text[:300]}"
    return text


@pytest.fixture
def admin_data(transactional_db, superuser, owner, project, member, viewer, outsider, other_project):
    now = timezone.now()
    agent = make_agent(project, name="Research assistant")
    make_agent(project, name="Copy editor")
    conversation = make_conversation(project, agent, messages=2, title="Quarterly numbers")
    document = make_document(project, status="ready")
    make_entry(project, document)
    schedule = make_schedule(project, agent, now + dt.timedelta(hours=2))
    make_usage(project, prompt=123, completion=456)
    return {"agent": agent, "conversation": conversation, "document": document, "schedule": schedule}


def test_superuser_uses_the_admin_in_chromium(
    browser, live_server, admin_data, project, viewer, outsider, api_client
):
    from guardian.core import ObjectPermissionChecker
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from projects.models import Project

    # Log in.
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("root@example.com")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]"))
    index = page_text(browser)
    browser.save_screenshot(str(SCREENSHOTS / "index.png"))
    assert "Site administration" in index, index[:500]
    for section in ("Projects", "Agents", "Conversations", "Documents", "Schedules", "Inference usage"):
        assert section in index, f"{section} missing from the admin index"

    # Projects, and the members of one (inline).
    text = open_page(browser, live_server, "/admin/projects/project/", "projects")
    assert "Acme" in text and "Other" in text
    text = open_page(browser, live_server, f"/admin/projects/project/{project.pk}/change/", "project")
    for email in ("owner@example.com", "member@example.com", "viewer@example.com"):
        assert email in browser.page_source, f"{email} is not shown among the members"

    # The daily token quota, set by the superuser.
    quota = browser.find_element(By.NAME, "daily_token_quota")
    quota.clear()
    quota.send_keys("5000")
    click_and_wait(browser, browser.find_element(By.NAME, "_continue"))
    assert "was changed successfully" in page_text(browser)
    assert Project.objects.get(pk=project.pk).daily_token_quota == 5000

    # Agents, conversations, documents, schedules and usage, each in its list.
    checks = {
        "/admin/agents/agent/": "Research assistant",
        "/admin/agents/conversation/": "Quarterly numbers",
        "/admin/memory/document/": admin_data["document"].filename,
        "/admin/scheduling/schedule/": admin_data["schedule"].name,
        "/admin/inference/inferenceusage/": "smollm2-135m-instruct",
    }
    for path, expected in checks.items():
        text = open_page(browser, live_server, path, path.strip("/").replace("/", "-"))
        assert expected in text, f"{expected!r} not in {path}"
    # Members across projects, filtered by role (read only: changes go through the project).
    text = open_page(browser, live_server, "/admin/projects/membership/?role__exact=viewer", "members")
    assert "viewer@example.com" in text and "member@example.com" not in text
    # The admins' search works on agents.
    text = open_page(browser, live_server, "/admin/agents/agent/?q=Research", "agent-search")
    assert "Research assistant" in text and "Copy editor" not in text

    # Guardian: grant the viewer "contribute" on this one project. A per-object grant widens what a
    # member may do; it never lets a non-member in (the tenant gate needs a membership).
    conversations = f"/api/projects/{project.pk}/conversations/"
    new_conversation = {"agent_id": str(admin_data["agent"].pk), "title": "From a viewer"}
    assert api_client(viewer).post(conversations, new_conversation, format="json").status_code == 403
    assert not ObjectPermissionChecker(viewer).has_perm("contribute_project", project)
    open_page(browser, live_server, f"/admin/projects/project/{project.pk}/permissions/", "permissions")
    browser.find_element(By.NAME, "user").send_keys("viewer@example.com")
    click_and_wait(browser, browser.find_element(By.NAME, "submit_manage_user"))
    # The admin's two-box selector: pick the permission on the left, move it right with "Choose".
    available = Select(browser.find_element(By.ID, "id_permissions_from"))
    choices = {option.get_attribute("value") for option in available.options}
    assert {"view_project", "contribute_project", "manage_project"} <= choices, choices
    available.select_by_value("contribute_project")
    browser.find_element(By.CSS_SELECTOR, ".selector-add").click()
    chosen = Select(browser.find_element(By.ID, "id_permissions_to"))
    assert [o.get_attribute("value") for o in chosen.options] == ["contribute_project"]
    browser.save_screenshot(str(SCREENSHOTS / "grant.png"))
    form = browser.find_element(By.NAME, "permissions").find_element(By.XPATH, "./ancestor::form")
    click_and_wait(browser, form.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]"))
    assert ObjectPermissionChecker(viewer).has_perm("contribute_project", project)
    # The grant takes effect in the API: the viewer may now start a conversation here ...
    assert api_client(viewer).post(conversations, new_conversation, format="json").status_code == 201
    # ... and only here: it manages neither this project nor any other.
    other = Project.objects.get(name="Other")
    assert not ObjectPermissionChecker(viewer).has_perm("manage_project", project)
    assert not ObjectPermissionChecker(viewer).has_perm("contribute_project", other)
    # A grant to a non-member changes nothing: the project stays invisible (404) to them.
    from guardian.shortcuts import assign_perm

    assign_perm("view_project", outsider, project)
    assert api_client(outsider).get(f"/api/projects/{project.pk}/").status_code == 404


def test_membership_admin_removes_through_the_services(admin_client, project, owner, member):
    """No browser needed: a removal in the membership list keeps the last admin and the role groups."""
    from projects.models import Membership

    m_owner = Membership.objects.get(project=project, user=owner)
    m_member = Membership.objects.get(project=project, user=member)
    response = admin_client.post(
        f"/admin/projects/membership/{m_owner.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert "must keep at least one admin" in response.content.decode()
    assert Membership.objects.filter(pk=m_owner.pk).exists()
    admin_client.post(f"/admin/projects/membership/{m_member.pk}/delete/", {"post": "yes"})
    assert not Membership.objects.filter(pk=m_member.pk).exists()
    assert not member.groups.filter(name__startswith=f"project:{project.pk}:").exists()
    assert admin_client.get("/admin/projects/membership/add/").status_code == 403  # adds go via the project
