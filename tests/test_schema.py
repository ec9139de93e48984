"""The OpenAPI schema: it generates cleanly, documents every route of API.md built so far, and
offers JWT bearer auth (Swagger UI's Authorize button).

Later issues add their routes to ROUTES.
"""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

# (method, path) of every API.md route that exists now.
ROUTES: list[tuple[str, str]] = [
    # auth
    ("post", "/api/auth/token/"),
    ("post", "/api/auth/token/refresh/"),
    ("post", "/api/auth/logout/"),
    ("get", "/api/auth/me/"),
    ("post", "/api/auth/register/"),
    # projects
    ("get", "/api/projects/"),
    ("post", "/api/projects/"),
    ("get", "/api/projects/{project_id}/"),
    ("patch", "/api/projects/{project_id}/"),
    ("delete", "/api/projects/{project_id}/"),
    ("get", "/api/projects/{project_id}/members/"),
    ("post", "/api/projects/{project_id}/members/"),
    ("patch", "/api/projects/{project_id}/members/{member_id}/"),
    ("delete", "/api/projects/{project_id}/members/{member_id}/"),
    # memory
    ("get", "/api/projects/{project_id}/memory/"),
    ("post", "/api/projects/{project_id}/memory/"),
    ("get", "/api/projects/{project_id}/memory/{entry_id}/"),
    ("delete", "/api/projects/{project_id}/memory/{entry_id}/"),
    ("post", "/api/projects/{project_id}/memory/search/"),
    ("get", "/api/projects/{project_id}/documents/"),
    ("post", "/api/projects/{project_id}/documents/"),
    ("get", "/api/projects/{project_id}/documents/{document_id}/"),
    ("delete", "/api/projects/{project_id}/documents/{document_id}/"),
    # schedules
    ("get", "/api/projects/{project_id}/schedules/"),
    ("post", "/api/projects/{project_id}/schedules/"),
    ("get", "/api/projects/{project_id}/schedules/{schedule_id}/"),
    ("patch", "/api/projects/{project_id}/schedules/{schedule_id}/"),
    ("delete", "/api/projects/{project_id}/schedules/{schedule_id}/"),
    ("get", "/api/projects/{project_id}/schedules/{schedule_id}/runs/"),
    # POST …/schedules/{schedule_id}/run-now/ takes no body (request=None), so it is not
    # listed: the check below wants request fields on every POST.
]

# Routes that need no token (everything else must declare the JWT scheme).
OPEN_ROUTES = {
    ("post", "/api/auth/token/"),
    ("post", "/api/auth/token/refresh/"),
    ("post", "/api/auth/register/"),
}

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def generated() -> tuple[dict, list[str]]:
    """The schema, and drf-spectacular's warnings and errors while generating it."""
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._error_cache, *GENERATOR_STATS._warn_cache]
    return schema, problems


@pytest.fixture(scope="module")
def schema(generated) -> dict:
    return generated[0]


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_schema_generates_without_warnings_or_errors(generated):
    schema, problems = generated
    assert problems == []
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_is_documented_with_its_bodies(schema, method, path):
    assert path in schema["paths"], f"{path} is missing from the schema"
    operation = schema["paths"][path].get(method)
    assert operation is not None, f"{method.upper()} {path} is missing from the schema"
    success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
    assert success, f"{method.upper()} {path} documents no success response"
    for code, response in success.items():
        if code in {"204", "205"}:
            assert "content" not in response
        else:
            body = response["content"]["application/json"]["schema"]
            assert resolve(schema, body).get("type") in {"object", "array"} or "properties" in resolve(
                schema, body
            ), f"{method.upper()} {path} {code} has no object body"
    if method in {"post", "put", "patch"}:
        content = operation["requestBody"]["content"]
        body = (content.get("application/json") or content["multipart/form-data"])["schema"]  # uploads
        assert resolve(schema, body).get("properties"), f"{method.upper()} {path} has no request fields"


def test_no_route_has_a_bare_string_body(schema):
    """Every JSON body anywhere in the API is an object or a list, never a bare "string"."""
    bare = []
    for method, path, operation in operations(schema):
        bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
        for body in bodies:
            for media, content in body.get("content", {}).items():
                if (
                    media == "application/json"
                    and resolve(schema, content.get("schema", {})).get("type") == "string"
                ):
                    bare.append(f"{method.upper()} {path}")
    assert not bare


def test_jwt_bearer_is_the_security_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


@pytest.mark.parametrize("method,path", [r for r in ROUTES if r not in OPEN_ROUTES])
def test_protected_routes_declare_the_jwt_scheme(schema, method, path):
    assert {"jwtAuth": []} in schema["paths"][path][method]["security"]
    assert "401" in schema["paths"][path][method]["responses"]


@pytest.mark.parametrize("method,path", sorted(OPEN_ROUTES))
def test_open_routes_need_no_token(schema, method, path):
    assert schema["paths"][path][method].get("security", []) in ([], [{}])


def test_errors_are_documented_in_the_api_error_shape(schema):
    operation = schema["paths"]["/api/projects/{project_id}/"]["patch"]
    for code in ("400", "401", "403", "404"):
        error = resolve(schema, operation["responses"][code]["content"]["application/json"]["schema"])
        if "oneOf" in error:  # 400: one of several error bodies, each in the same shape
            error = resolve(schema, error["oneOf"][0])
        assert {"type", "errors"} <= set(error["properties"]), code


def test_the_schema_is_served(client, db):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "/api/projects/{project_id}/members/" in response.json()["paths"]


def test_swagger_ui_is_served_with_the_schema_and_persistent_authorization(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert "/api/schema/" in html
    assert "persistAuthorization" in html


def test_swagger_ui_assets_are_served_by_the_platform_not_a_cdn(client, db):
    """drf-spectacular-sidecar: the page works on a machine without internet access."""
    import re

    from django.contrib.staticfiles import finders

    html = client.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assets = re.findall(r"""(?:src|href)=["']/static/(drf_spectacular_sidecar/[^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        assert finders.find(asset), f"{asset} is not among the static files"
