from django.core.management.base import BaseCommand

from agents.services import tool_registry_sync


class Command(BaseCommand):
    help = "Write one Tool row per @tool registration (runs after every migrate too)."

    def handle(self, *args, **options) -> None:
        for tool in tool_registry_sync():
            if options["verbosity"] > 0:
                self.stdout.write(
                    f"{tool.name}: {'enabled' if tool.enabled else 'disabled'} ({tool.handler})"
                )
