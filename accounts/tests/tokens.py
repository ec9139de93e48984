"""Bad tokens for the 401 tests of every route: no token, an expired one, a forged one."""

from __future__ import annotations

from datetime import timedelta

import jwt
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

BAD_TOKEN_KINDS = ("none", "expired", "forged")


def expired_access_token(user) -> str:  # noqa: ANN001
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))  # expired a minute ago
    return str(token)


def forged_access_token(user) -> str:  # noqa: ANN001
    """A well-formed token for `user`, signed with a key that is not the server's."""
    payload = dict(AccessToken.for_user(user).payload)
    return jwt.encode(payload, "an-attacker-key-that-is-long-enough-for-hs256!", algorithm="HS256")


def bad_client(kind: str, user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    if kind == "expired":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired_access_token(user)}")
    elif kind == "forged":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged_access_token(user)}")
    return client


def assert_error(response, status: int, attr: str | None = None, code: str | None = None) -> None:  # noqa: ANN001
    """The API.md error shape: {"type", "errors": [{"code", "detail", "attr"}]}, naming `attr`."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    assert body["type"] in {"validation_error", "client_error", "server_error"}
    assert body["errors"] and all(set(e) == {"code", "detail", "attr"} for e in body["errors"]), body
    if attr is not None:
        assert attr in [e["attr"] for e in body["errors"]], body
    if code is not None:
        assert code in [e["code"] for e in body["errors"]], body
