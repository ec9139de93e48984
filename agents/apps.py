from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_tools(sender, using="default", **kwargs) -> None:  # type: ignore[no-untyped-def]
    from agents.services import tool_registry_sync

    tool_registry_sync()


class AgentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agents"

    def ready(self) -> None:
        # Tool rows follow the @tool registrations after every migrate (also the test DB's).
        post_migrate.connect(_sync_tools, sender=self, dispatch_uid="agents.sync_tools")
