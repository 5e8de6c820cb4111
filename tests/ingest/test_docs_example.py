"""The bulk-ingest example in docs/examples runs as documented against the sandbox."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from atriumn.auth import AuthClient
from atriumn.sandbox import Sandbox

from .conftest import SECRETS

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "ingest_bulk.py"


def test_bulk_ingest_example(
    sandbox: Sandbox, tenant_a: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with AuthClient(base_url=sandbox.url) as auth:
        token = auth.get_token(client_id=tenant_a.client_id, client_secret=SECRETS[tenant_a.client_id])
    monkeypatch.setenv("ATRIUMN_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("ATRIUMN_API_KEY", token.access_token)
    monkeypatch.setenv("DEMO_URL", sandbox.url + "/health")
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "ingested 201 of 201; 0 failed" in out
    assert "200/201 done" not in out or "201/201 done, 0 failed" in out
    assert out.rstrip().endswith("is completed")
