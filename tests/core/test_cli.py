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


# --- progress on a terminal ---------------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_quick_wait_draws_nothing_and_a_pipe_never_does() -> None:
    terminal = _Terminal()
    out = cli.Output(json_mode=False, stderr=terminal)
    with out.busy("waiting for api.example.com…", delay=5):
        pass  # done long before the delay
    assert terminal.getvalue() == ""
    piped = io.StringIO()
    with cli.Output(json_mode=False, stderr=piped).progress("uploading", unit="bytes") as update:
        update(10, 100)
    assert piped.getvalue() == ""
    with cli.Output(json_mode=True, stderr=terminal).busy("waiting", delay=0):
        pass
    assert terminal.getvalue() == ""


def test_a_long_wait_shows_a_spinner_with_the_elapsed_time_then_clears_it() -> None:
    import threading

    terminal = _Terminal()
    drawn = threading.Event()
    real_write = terminal.write

    def write(text: str) -> int:
        if "waiting for host" in text:
            drawn.set()
        return real_write(text)

    terminal.write = write  # type: ignore[method-assign]
    out = cli.Output(json_mode=False, stderr=terminal)
    with out.busy("waiting for host…", delay=0):
        assert drawn.wait(5)
    assert "waiting for host… 0s" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K")  # the line is cleared when the wait ends


def test_plain_progress_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import threading

    monkeypatch.setitem(sys.modules, "rich.progress", None)  # as if rich were not installed
    terminal = _Terminal()
    seen = threading.Event()
    real_write = terminal.write

    def write(text: str) -> int:
        if "50%" in text:
            seen.set()
        return real_write(text)

    terminal.write = write  # type: ignore[method-assign]
    with cli.Output(json_mode=False, stderr=terminal).progress("uploading a.bin", unit="bytes") as update:
        update(512 * 1024, 1024 * 1024)
        assert seen.wait(5)
    assert "uploading a.bin 50% 512.0 KiB / 1.0 MiB" in terminal.getvalue()


def test_money_is_rounded_for_people_and_exact_in_json() -> None:
    assert cli.format_money(2.0000000000000003e-06) == "$0.000002"
    assert cli.format_money(0.0123456) == "$0.0123"
    assert cli.format_money(12) == "$12.00"
    out = io.StringIO()
    cli.Output(json_mode=True, stdout=out).data({"cost_usd": 2.0000000000000003e-06, "tokens": 3})
    assert json.loads(out.getvalue()) == {"cost_usd": "0.000002", "tokens": 3}


def test_a_tenant_the_credentials_may_not_use_is_named() -> None:
    import argparse

    from atriumn.core import PermissionDeniedError
    from atriumn.storage._commands import _hint

    error = PermissionDeniedError(status_code=403, code="forbidden", description="not allowed")
    assert "tenant 'acme'" in str(_hint(error, argparse.Namespace(tenant_id="acme")))
