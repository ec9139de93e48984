"""The auth routes of API.md: token, refresh, logout, me, register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse401Serializer
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from . import selectors, services
from .models import User
from .serializers import (
    EmailTokenObtainSerializer,
    LogoutSerializer,
    MeSerializer,
    RefreshTokenSerializer,
    RegisterSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    UserSerializer,
)


class AuthThrottleMixin:
    """Every auth route shares the `auth` throttle scope (THROTTLE_AUTH, per client IP or user)."""

    throttle_classes: Sequence[type[BaseThrottle]] = [ScopedRateThrottle]
    throttle_scope = "auth"


@extend_schema(
    tags=["auth"],
    summary="Log in: exchange an email and password for a JWT pair",
    request=TokenObtainSerializer,
    responses={
        200: TokenPairSerializer,
        401: OpenApiResponse(ErrorResponse401Serializer, description="Wrong email or password."),
    },
    auth=[],
)
class TokenObtainView(AuthThrottleMixin, TokenObtainPairView):
    serializer_class = EmailTokenObtainSerializer


@extend_schema(
    tags=["auth"],
    summary="Exchange a refresh token for a new pair (the old refresh token is revoked)",
    request=RefreshTokenSerializer,
    responses={
        200: TokenPairSerializer,
        401: OpenApiResponse(ErrorResponse401Serializer, description="Invalid, expired or revoked."),
    },
    auth=[],
)
class TokenRefreshRotateView(AuthThrottleMixin, TokenRefreshView):
    pass


class LogoutView(AuthThrottleMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Log out: revoke the caller's refresh token",
        request=LogoutSerializer,
        responses={205: OpenApiResponse(description="The refresh token is revoked.")},
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.user_logout(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"], summary="The caller, with their projects and role in each", responses=MeSerializer
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(selectors.user_me(user=cast(User, request.user))).data)


class RegisterView(AuthThrottleMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        summary="Create an account (only when SIGNUP_ENABLED; otherwise 404)",
        request=RegisterSerializer,
        responses={201: UserSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        if not settings.SIGNUP_ENABLED:
            raise NotFound()
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)
