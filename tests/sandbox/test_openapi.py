"""The OpenAPI document: served, in sync with docs/openapi.yaml, and honoured by the server (schemathesis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from atriumn.sandbox import Sandbox, load_openapi

from .helpers import token_for

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = load_openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_served_document_is_the_packaged_one(sandbox: Sandbox) -> None:
    served = httpx2.get(f"{sandbox.url}/openapi.json").json()
    assert served == DOCUMENT
    assert served["openapi"].startswith("3.1")


def test_docs_yaml_is_in_sync() -> None:
    on_disk = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    assert on_disk == DOCUMENT, "regenerate it: python -m atriumn.sandbox._openapi docs/openapi.yaml"


def test_every_contract_path_is_documented() -> None:
    expected = {
        "/health", "/auth/token", "/auth/signup", "/auth/signup/confirm", "/auth/signup/resend", "/auth/login",
        "/auth/logout", "/auth/password/reset", "/auth/password/confirm", "/auth/me", "/admin/credentials",
        "/admin/credentials/{id}", "/generate-upload-url", "/generate-download-url", "/prompts", "/prompts/{id}",
        "/v1/prompt", "/ingest/text", "/ingest/url", "/ingest/file", "/content", "/content/{id}",
        "/content/{id}/download-url", "/content/{id}/text",
    }  # fmt: skip
    assert set(DOCUMENT["paths"]) == expected


@pytest.fixture(scope="module")
def contract_sandbox() -> Iterator[tuple[Sandbox, str]]:
    with Sandbox(url_fetch_timeout=0.5) as sandbox:
        yield sandbox, token_for(sandbox, sandbox.admin_client_id, sandbox.admin_client_secret)


CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_contract(case: schemathesis.Case, contract_sandbox: tuple[Sandbox, str]) -> None:
    sandbox, token = contract_sandbox
    case.call_and_validate(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=10
    )
