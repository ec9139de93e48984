"""clients/typescript/schema.d.ts is generated from the OpenAPI schema and must match it.

The test regenerates the types from this code's schema (drf-spectacular, then
openapi-typescript) and diffs them with the checked-in file, so that a change of the API
without its client change fails. Regenerate with:

    DJANGO_SETTINGS_MODULE=platform_site.settings.test .venv/bin/python manage.py spectacular \
        --file clients/typescript/openapi.yaml
    (cd clients/typescript && npx openapi-typescript openapi.yaml --output schema.d.ts)
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

CLIENT = Path(__file__).resolve().parent.parent / "clients" / "typescript"
GENERATOR = CLIENT / "node_modules" / ".bin" / "openapi-typescript"
TSC = CLIENT / "node_modules" / ".bin" / "tsc"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def node_tools() -> None:
    """The pinned openapi-typescript and TypeScript (npm ci from the lock file when missing)."""
    assert shutil.which("npm"), "npm is needed: apt-get install -y nodejs npm"
    if not (GENERATOR.exists() and TSC.exists()):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENT, check=True, timeout=240)
    assert GENERATOR.exists() and TSC.exists()


def test_schema_types_match_the_api(node_tools, tmp_path):
    schema = tmp_path / "openapi.yaml"
    call_command("spectacular", file=str(schema))
    generated = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(GENERATOR), str(schema), "--output", str(generated)],
        cwd=CLIENT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    expected = generated.read_text()
    checked_in = (CLIENT / "schema.d.ts").read_text()
    if checked_in != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    checked_in.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "clients/typescript/schema.d.ts (checked in)",
                    "regenerated from /api/schema/",
                )  # fmt: skip
            )[:80]
        )
        pytest.fail(
            "clients/typescript/schema.d.ts is out of date with the API; regenerate it "
            "(see this file's docstring) and commit it.\n" + diff
        )
    assert '"/api/projects/{project_id}/dashboard/"' in checked_in


def test_types_compile_and_the_example_uses_them(node_tools):
    """tsc checks schema.d.ts and example.ts, which reads dashboard and auth fields by name."""
    result = subprocess.run(
        [str(TSC), "--noEmit", "-p", "tsconfig.json"], cwd=CLIENT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
