"""The ``atriumn`` command-line framework: subcommands from entry points, --json, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import pytest

from atriumn.core import NotFoundError, cli


def _register(sub: Any) -> None:
    p = sub.add_parser("demo")
    p.add_argument("what", choices=["ok", "notfound", "usage", "boom"])

    def handler(args: argparse.Namespace, out: cli.Output) -> int | None:
        if args.what == "notfound":
            raise NotFoundError(status_code=404, code="not_found", description="no such item", request_id="rid-7")
        if args.what == "usage":
            raise ValueError("limit: must be positive")
        out.data({"id": "c1", "status": "completed"})
        return None

    p.set_defaults(handler=handler)


@pytest.fixture
def demo_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    class _EP:
        name = "demo"

        def load(self) -> Any:
            return _register

    monkeypatch.setattr(md, "entry_points", lambda group=None: [_EP()] if group == "atriumn.cli" else [])


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_success_prints_aligned_text(demo_commands: None) -> None:
    code, out, err = run("demo", "ok")
    assert code == 0
    assert out.splitlines() == ["id      c1", "status  completed"]
    assert err == ""


def test_json_mode_prints_json(demo_commands: None) -> None:
    code, out, _ = run("--json", "demo", "ok")
    assert code == 0
    assert json.loads(out) == {"id": "c1", "status": "completed"}


def test_api_error_is_one_line_with_request_id_and_exit_1(demo_commands: None) -> None:
    code, out, err = run("demo", "notfound")
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "404 not_found: no such item" in err
    assert "request id rid-7" in err
    assert "check the id" in err


def test_value_error_is_a_usage_error(demo_commands: None) -> None:
    code, _, err = run("demo", "usage")
    assert code == 2
    assert "limit: must be positive" in err


def test_bad_arguments_exit_2(demo_commands: None) -> None:
    code, _, _ = run("demo", "nonsense")
    assert code == 2


def test_no_command_prints_help_and_exits_2(demo_commands: None) -> None:
    code, out, _ = run()
    assert code == 2
    assert "demo" in out
