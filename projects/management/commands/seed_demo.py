"""`manage.py seed_demo`: a demo platform to click through. Idempotent: run it as often as you like.

It makes (or finds, on later runs):
- the demo superuser DEMO_SUPERUSER_EMAIL with DEMO_SUPERUSER_PASSWORD (local settings have a
  documented local-only default; elsewhere the password must be set, or the command stops);
- two projects, each with an admin, a member and a viewer (every demo account uses the same
  password), agents with tools, a schedule, and a few memory documents;
- the documents are ingested here, with a progress bar, when an inference worker answers;
  otherwise they are queued and the workers ingest them as soon as they run (`make run`).

All writes go through the apps' services, like the API's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

DEMO_DOMAIN = "example.com"

PROJECTS: list[dict[str, Any]] = [
    {
        "name": "Acme Research",
        "description": "A demo research team: agents that read the team's notes and answer questions.",
        "members": {"admin": "alice", "member": "bob", "viewer": "carol"},
        "agents": [
            {
                "name": "Researcher",
                "purpose": "Answers questions from the team's notes.",
                "system_prompt": "You are a careful research assistant. Use the project's memory, cite it.",
                "tools": ["memory_search", "calculator"],
                "memory_enabled": True,
            },
            {
                "name": "Analyst",
                "purpose": "Does the arithmetic and asks the researcher when it needs facts.",
                "system_prompt": "You are a concise analyst. Show your working.",
                "tools": ["calculator", "current_time", "ask_agent"],
                "memory_enabled": False,
            },
        ],
        "schedule": {
            "name": "Morning briefing",
            "agent": "Researcher",
            "kind": "cron",
            "cron": "0 8 * * 1-5",
            "timezone": "Europe/Paris",
            "message": "Summarise what changed in the team's notes since yesterday.",
        },
        "documents": {
            "project-handbook.md": (
                "# Acme Research handbook\n\nThe team meets on Mondays at 10:00. Experiments are "
                "logged in the lab notebook before they run. Every result needs a second reader "
                "before it is shared.\n\n## Budget\n\nThe quarterly compute budget is 1,200 GPU "
                "hours. Requests above 100 hours go to the team lead.\n"
            ),
            "glossary.txt": (
                "Embedding: a vector that stands for the meaning of a text.\n"
                "Chunk: a piece of a document that is stored and searched on its own.\n"
                "Hybrid search: vector search and full-text search, merged by reciprocal rank fusion.\n"
            ),
        },
    },
    {
        "name": "Globex Support",
        "description": "A demo support desk: an agent that answers customers from the FAQ.",
        "members": {"admin": "dave", "member": "erin", "viewer": "frank"},
        "agents": [
            {
                "name": "Support agent",
                "purpose": "Answers customer questions from the FAQ.",
                "system_prompt": "You are a friendly support agent. Answer from the FAQ, or say so.",
                "tools": ["memory_search", "current_time"],
                "memory_enabled": True,
            },
        ],
        "schedule": {
            "name": "Hourly queue check",
            "agent": "Support agent",
            "kind": "interval",
            "interval_seconds": 3600,
            "message": "List the open questions you could not answer today.",
        },
        "documents": {
            "faq.md": (
                "# Globex FAQ\n\n**How do I reset my password?** Use the 'Forgot password' link "
                "on the sign-in page; the link in the email is valid for one hour.\n\n**Where is my "
                "invoice?** Invoices are under Billing → History, as PDF.\n\n**What are your opening "
                "hours?** Monday to Friday, 9:00–18:00 CET.\n"
            ),
        },
    },
]


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    def note(self, created: bool, what: str) -> None:
        (self.created if created else self.existing).append(what)


class Command(BaseCommand):
    help = "Create a demo superuser, two projects with members, agents, tools, memory and schedules."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--no-ingest",
            action="store_true",
            help="Queue the documents for the workers even when an inference worker answers now.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = (settings.DEMO_SUPERUSER_EMAIL or "").strip().lower()
        password = settings.DEMO_SUPERUSER_PASSWORD
        if not email or not password:
            raise CommandError(
                "Set DEMO_SUPERUSER_EMAIL and DEMO_SUPERUSER_PASSWORD (the local settings have defaults; "
                "a demo is not for production)."
            )
        from agents.services.agents import tool_registry_sync
        from inference.client import worker_status

        report = Report()
        tool_registry_sync()  # the Tool rows the agents' allow-lists refer to
        with transaction.atomic():
            superuser = self._superuser(email=email, password=password, report=report)
            projects = [
                self._project(spec, superuser=superuser, password=password, report=report)
                for spec in PROJECTS
            ]
        ingest_now = not options["no_ingest"] and worker_status() is not None
        documents = self._documents(
            projects, ingest_now=ingest_now, progress=not options["no_progress"], report=report
        )
        self._print(report, email=email, projects=projects, documents=documents, ingest_now=ingest_now)

    # --- the parts -----------------------------------------------------------------------

    def _user(self, *, email: str, password: str, full_name: str, report: Report, superuser: bool = False):  # type: ignore[no-untyped-def]
        from accounts.models import User

        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            if superuser:
                user = User.objects.create_superuser(email=email, password=password)
            else:
                user = User.objects.create_user(email=email, password=password)
            if full_name and hasattr(user, "full_name"):
                user.full_name = full_name
                user.save(update_fields=["full_name"])
            report.note(True, f"user {email}")
            return user
        changed = []
        if not user.check_password(password):
            user.set_password(password)
            changed.append("password")
        if superuser:
            for flag in ("is_staff", "is_superuser", "is_active"):
                if not getattr(user, flag):
                    setattr(user, flag, True)
                    changed.append(flag)
        if changed:
            user.save(update_fields=changed)
        report.note(False, f"user {email}")
        return user

    def _superuser(self, *, email: str, password: str, report: Report):  # type: ignore[no-untyped-def]
        return self._user(
            email=email, password=password, full_name="Demo admin", report=report, superuser=True
        )

    def _project(self, spec: dict[str, Any], *, superuser: Any, password: str, report: Report):  # type: ignore[no-untyped-def]
        from agents.models import Agent
        from agents.services.agents import agent_create, agent_tools_set
        from projects.models import Membership, Project, Role
        from projects.services import membership_add, membership_change_role, project_create
        from scheduling.models import Schedule
        from scheduling.services import schedule_create

        users = {
            role: self._user(
                email=f"{name}@{DEMO_DOMAIN}", password=password, full_name=name.capitalize(), report=report
            )
            for role, name in spec["members"].items()
        }
        # The demo's own project: this name with the demo admin as an admin. A real project that
        # happens to share the name is left alone (the demo then makes its own).
        project = (
            Project.objects.filter(
                name=spec["name"], memberships__user=users["admin"], memberships__role=Role.ADMIN
            )
            .order_by("created_at")
            .first()
        )
        if project is None:
            project = project_create(
                name=spec["name"], description=spec["description"], created_by=users["admin"]
            )
            report.note(True, f"project {project.name}")
        else:
            report.note(False, f"project {project.name}")
        for role, user in users.items():
            membership = Membership.objects.filter(project=project, user=user).first()
            if membership is None:
                membership_add(project=project, user=user, role=role)
                report.note(True, f"{user.email} as {role} of {project.name}")
            elif membership.role != role:
                membership_change_role(membership=membership, role=role)
                report.note(True, f"{user.email} as {role} of {project.name} (role changed)")

        agents = {}
        for agent_spec in spec["agents"]:
            values = {k: v for k, v in agent_spec.items() if k not in ("name", "system_prompt", "tools")}
            agent = Agent.objects.filter(project=project, name=agent_spec["name"]).first()
            if agent is None:
                agent = agent_create(
                    project=project, name=agent_spec["name"], system_prompt=agent_spec["system_prompt"],
                    created_by=users["admin"], tools=agent_spec["tools"], **values,
                )  # fmt: skip
                report.note(True, f"agent {agent.name} ({', '.join(agent_spec['tools'])}) in {project.name}")
            else:
                agent_tools_set(agent=agent, tools=[{"name": t, "config": {}} for t in agent_spec["tools"]])
                report.note(False, f"agent {agent.name} in {project.name}")
            agents[agent.name] = agent

        schedule_spec = dict(spec["schedule"])
        agent = agents[schedule_spec.pop("agent")]
        if not Schedule.objects.filter(project=project, name=schedule_spec["name"]).exists():
            schedule = schedule_create(
                project=project, agent=agent, created_by=users["admin"], **schedule_spec
            )
            report.note(
                True,
                f"schedule {schedule.name} in {project.name} (next {schedule.next_run_at:%Y-%m-%d %H:%M}Z)",
            )
        else:
            report.note(False, f"schedule {schedule_spec['name']} in {project.name}")
        return project

    def _documents(
        self, projects: list[Any], *, ingest_now: bool, progress: bool, report: Report
    ) -> list[Any]:
        from memory.ingestion import document_ingest
        from memory.models import DocumentStatus
        from memory.services import document_upload

        uploads = []
        for project, spec in zip(projects, PROJECTS, strict=True):
            admin = project.memberships.filter(role="admin").select_related("user").first()
            for filename, text in spec["documents"].items():
                document, created = document_upload(
                    project=project, file=ContentFile(text.encode(), name=filename), filename=filename,
                    uploaded_by=admin.user if admin else None, enqueue=not ingest_now,
                )  # fmt: skip
                report.note(created, f"document {filename} in {project.name}")
                uploads.append(document)
        pending = [d for d in uploads if d.status != DocumentStatus.READY]
        if ingest_now and pending:
            bar = tqdm(total=len(pending), unit="document", desc="ingesting", disable=not progress)
            for document in pending:
                bar.set_postfix_str(document.filename)
                result = document_ingest(document_id=document.pk)
                if result.status != DocumentStatus.READY:
                    self.stderr.write(f"{document.filename}: {result.error or result.status}")
                bar.update(1)
            bar.close()
        for document in uploads:
            document.refresh_from_db()
        return uploads

    def _print(
        self, report: Report, *, email: str, projects: list[Any], documents: list[Any], ingest_now: bool
    ) -> None:
        out = self.stdout
        if report.created:
            out.write(self.style.SUCCESS(f"Created {len(report.created)}:"))
            for line in report.created:
                out.write(f"  + {line}")
        out.write(f"Already there: {len(report.existing)} (users, projects, agents, schedules, documents).")
        states = ", ".join(f"{d.filename}: {d.status} ({d.chunk_count} chunks)" for d in documents)
        out.write(f"Documents: {states}.")
        if not ingest_now and any(d.status != "ready" for d in documents):
            out.write(
                "  No inference worker answered: the documents are queued; the workers ingest them "
                "once they run."
            )
        out.write("")
        out.write(self.style.SUCCESS("Log in:"))
        out.write(f"  admin:     /admin/ as {email} (superuser), password: DEMO_SUPERUSER_PASSWORD")
        out.write('  API:       POST /api/auth/token/ {"email": ..., "password": ...} with any demo account:')
        for project, spec in zip(projects, PROJECTS, strict=True):
            accounts = ", ".join(f"{name}@{DEMO_DOMAIN} ({role})" for role, name in spec["members"].items())
            out.write(f"  {project.name} ({project.id}): {accounts}")
        out.write(
            "  Every demo account uses the DEMO_SUPERUSER_PASSWORD password (local only: see the README)."
        )
