"""Input and output shapes of the auth routes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from projects.models import Role

from .models import User
from .selectors import user_email_taken


class EmailTokenObtainSerializer(TokenObtainPairSerializer):
    """`{email, password}` → `{access, refresh}`. The email is matched case-insensitively."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        attrs[self.username_field] = User.objects.normalize_email(attrs[self.username_field]).lower()
        return super().validate(attrs)


class TokenObtainSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="A JWT access token; send it as `Authorization: Bearer …`.")
    refresh = serializers.CharField(help_text="A JWT refresh token, for token/refresh/ and logout/.")


class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="The refresh token to revoke.")

    def validate_refresh(self, value: str) -> RefreshToken:
        try:
            token = RefreshToken(value)  # type: ignore[arg-type]  # checks signature, expiry, blacklist
        except TokenError:
            raise serializers.ValidationError(
                "This refresh token is invalid, expired or already revoked.", code="token_not_valid"
            ) from None
        user = self.context["request"].user
        if str(token.get("user_id")) != str(user.pk):
            # Don't tell the caller whose token it is.
            raise serializers.ValidationError(
                "This refresh token is invalid, expired or already revoked.", code="token_not_valid"
            )
        return token


class UserProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="project.id")
    name = serializers.CharField(source="project.name")
    role = serializers.ChoiceField(choices=Role.choices)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields: tuple[str, ...] = ("id", "email", "full_name", "is_superuser", "date_joined")
        read_only_fields: tuple[str, ...] = fields


class MeSerializer(UserSerializer):
    """The caller, with each project they are a member of and their role there."""

    projects = UserProjectSerializer(many=True, source="project_memberships")

    class Meta(UserSerializer.Meta):
        fields = (*UserSerializer.Meta.fields, "projects")
        read_only_fields = fields


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        write_only=True, style={"input_type": "password"}, trim_whitespace=False, max_length=128
    )
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    def validate_email(self, value: str) -> str:
        email = User.objects.normalize_email(value).lower()
        if user_email_taken(email=email):
            raise serializers.ValidationError("A user with this email already exists.", code="unique")
        return email

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(email=attrs["email"], full_name=attrs.get("full_name", ""))
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs
