import factory

from accounts.tests.factories import UserFactory
from projects import services
from projects.models import Membership, Project, Role


class ProjectFactory(factory.django.DjangoModelFactory):
    """A project made through `project_create`, so it has its role groups and its admin."""

    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    description = "A project for tests"
    created_by = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.project_create(
            name=kwargs["name"], description=kwargs["description"], created_by=kwargs["created_by"]
        )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.membership_add(project=kwargs["project"], user=kwargs["user"], role=kwargs["role"])
