"""`manage.py reembed_memory`: move memory entries to the current (or a given) embedding model.

Search only compares vectors made by the current model (MEMORY_EMBEDDING_MODEL, else
INFERENCE_DEFAULT_EMBEDDING_MODEL), so after a model change the old entries are invisible,
never mixed, until this command has re-embedded them. The inference worker must be running.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from memory.embedding import EmbeddingUnavailable, check_model_fits, current_embedding_model
from memory.models import MemoryEntry
from memory.services import memory_entries_reembed


class Command(BaseCommand):
    help = "Re-embed memory entries made by another embedding model (or all of them with --all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="The embedding model (default: the current one).")
        parser.add_argument("--project", help="Only this project's entries (UUID).")
        parser.add_argument("--all", action="store_true", help="Re-embed every entry, not only stale ones.")
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--dry-run", action="store_true", help="Only count the entries.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from inference.registry import UnknownModel
        from projects.models import Project

        model = options["model"] or current_embedding_model()
        try:
            check_model_fits(model)
        except UnknownModel as exc:
            raise CommandError(f"{exc} Known models are listed in INFERENCE_MODELS.") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        project = None
        queryset = MemoryEntry.objects.all()
        if options["project"]:
            project = Project.objects.filter(pk=options["project"]).first()
            if project is None:
                raise CommandError(f"No project with id {options['project']}.")
            queryset = queryset.filter(project=project)
        if not options["all"]:
            queryset = queryset.exclude(embedding_model=model)
        total = queryset.count()
        self.stdout.write(f"{total} entries to embed with {model}.")
        if options["dry_run"] or total == 0:
            return
        bar = tqdm(total=total, unit="entry", disable=options["no_progress"], dynamic_ncols=True)
        try:
            done = memory_entries_reembed(
                model=model,
                project=project,
                batch_size=options["batch_size"],
                everything=options["all"],
                on_progress=bar.update,
            )
        except EmbeddingUnavailable as exc:
            raise CommandError(
                f"Stopped: {exc} Entries done so far keep their new vectors; run again."
            ) from None
        finally:
            bar.close()
        self.stdout.write(f"Re-embedded {done} entries with {model}.")
        if model != current_embedding_model():
            self.stdout.write(
                self.style.WARNING(
                    f"Search uses {current_embedding_model()!r}: set MEMORY_EMBEDDING_MODEL={model} so that "
                    "these entries are searched."
                )
            )
