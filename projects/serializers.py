"""Input and output shapes of the project and member routes."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import User
from accounts.selectors import user_get_by_email

from .models import Membership, Project, Role


class ProjectSerializer(serializers.ModelSerializer):
    """A project as the caller sees it. Needs `project_annotate_for_user` (role, member_count)."""

    role = serializers.ChoiceField(
        source="my_role", choices=Role.choices, read_only=True, help_text="The caller's role in the project."
    )
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Project
        fields = ("id", "name", "description", "role", "member_count", "created_at", "updated_at")
        read_only_fields = fields


class ProjectWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class MemberUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "email", "full_name")
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    """A member of a project. `id` is the `member_id` of the members/{member_id}/ routes."""

    user = MemberUserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "user", "role", "created_at", "updated_at")
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="The email of an existing user.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    def validate_email(self, value: str) -> User:
        user = user_get_by_email(email=value)
        if user is None:
            raise serializers.ValidationError("No user has this email address.", code="does_not_exist")
        return user


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
