"""The ``atriumn`` command line: one command whose subcommands come from the installed distributions.

Each distribution that has commands declares an entry point in the ``atriumn.cli`` group pointing at a
function ``register(subparsers: argparse._SubParsersAction) -> None``; installing only ``atriumn-storage``
gives only ``atriumn storage ...``. A subcommand sets ``handler=`` (``set_defaults``) to a function
``(args: argparse.Namespace, out: Output) -> int | None``.

Conventions every subcommand follows (enforced here, once):
    - ``--json`` prints machine-readable output (``Output.data``), for scripting;
    - exit codes: 0 success, 1 API or network error, 2 usage error (bad arguments or configuration);
    - errors are one line on stderr that says what to do, with the request id when there is one;
    - ``--debug`` turns on the SDK's redacted DEBUG logs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

__all__ = ["EXIT_API_ERROR", "EXIT_OK", "EXIT_USAGE", "Output", "credentials_for", "main"]

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace, "Output"], "int | None"]


class Output:
    """Where a subcommand writes: human text by default, JSON with ``--json``."""

    def __init__(self, *, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def data(self, value: Any, human: Callable[[Any], str] | str | None = None) -> None:
        """Print ``value``: as JSON with ``--json``, else ``human(value)`` (or a generic rendering)."""
        if self.json_mode:
            self.stdout.write(json.dumps(_jsonable(value), indent=2, ensure_ascii=False, default=str) + "\n")
        elif callable(human):
            self.stdout.write(human(value).rstrip("\n") + "\n")
        elif isinstance(human, str):
            self.stdout.write(human.rstrip("\n") + "\n")
        else:
            self.stdout.write(_render(_jsonable(value)) + "\n")

    def text(self, line: str = "", *, end: str = "\n") -> None:
        """Print human-only text (suppressed in ``--json`` mode)."""
        if not self.json_mode:
            self.stdout.write(line + end)
            self.stdout.flush()

    def note(self, line: str) -> None:
        """Print a message for the human on stderr (kept out of ``--json`` output)."""
        self.stderr.write(line + "\n")


def credentials_for(args: argparse.Namespace) -> Any:
    """The credential a subcommand should use.

    With ``atriumn-auth`` installed: ``DefaultCredential`` (``ATRIUMN_API_KEY``, client credentials from the
    environment, then the ``--profile`` session saved by ``atriumn auth login``). Without it: the token in
    ``ATRIUMN_API_KEY``.
    """
    try:
        from atriumn.auth import DefaultCredential
    except ImportError:
        from ._credentials import EnvironmentToken

        return EnvironmentToken("ATRIUMN_API_KEY")
    return DefaultCredential(profile=args.profile)


def _jsonable(value: Any) -> Any:
    import attrs

    if attrs.has(type(value)):
        from ._serde import unstructure

        return unstructure(value, "snake")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _render(value: Any, indent: str = "") -> str:
    if isinstance(value, dict):
        if not value:
            return indent + "(empty)"
        width = max(len(str(k)) for k in value)
        lines = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{indent}{k}:")
                lines.append(_render(v, indent + "  "))
            else:
                lines.append(f"{indent}{str(k).ljust(width)}  {v}")
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return indent + "(none)"
        return "\n".join(
            _render(v, indent) + ("\n" if isinstance(v, dict) and i < len(value) - 1 else "")
            for i, v in enumerate(value)
        )
    return f"{indent}{value}"


def _hint(exc: BaseException) -> str:
    from ._errors import (
        AuthenticationError,
        CircuitOpenError,
        ConnectError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        RequestTimeoutError,
    )

    if isinstance(exc, AuthenticationError):
        return "sign in with `atriumn auth login` or check your credentials"
    if isinstance(exc, PermissionDeniedError):
        return "your credentials lack a scope this needs"
    if isinstance(exc, NotFoundError):
        return "check the id (and that it belongs to your tenant)"
    if isinstance(exc, RateLimitError):
        wait = f" {exc.retry_after:.0f}s" if exc.retry_after else ""
        return f"wait{wait} and try again"
    if isinstance(exc, ConnectError):
        return "check ATRIUMN_API_BASE_URL and that the server is running"
    if isinstance(exc, RequestTimeoutError):
        return "try again, or raise ATRIUMN_REQUEST_TIMEOUT"
    if isinstance(exc, CircuitOpenError):
        return f"the server kept failing; try again in {exc.retry_in:.0f}s"
    return "try again; if it persists, report the request id"


def _one_line(exc: BaseException) -> str:
    """The first line of an error, with what to do when the rest of it was an explanation."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    first = lines[0].rstrip(".:")
    if len(lines) == 1:
        return first
    if "credentials" in first:
        return f"{first} — sign in with `atriumn auth login`, or set ATRIUMN_API_KEY"
    return f"{first} (run with --debug for details)"


def build_parser() -> argparse.ArgumentParser:
    """The ``atriumn`` parser with every installed distribution's subcommands."""
    from importlib.metadata import entry_points

    parser = argparse.ArgumentParser(prog="atriumn", description="The Atriumn command line.")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--debug", action="store_true", help="show redacted request logs on stderr")
    parser.add_argument(
        "--profile",
        default=os.environ.get("ATRIUMN_PROFILE") or "default",
        help="the signed-in session to use (keyring profile; default: $ATRIUMN_PROFILE or 'default')",
    )
    sub = parser.add_subparsers(dest="command", title="commands")
    for ep in sorted(entry_points(group="atriumn.cli"), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            sys.stderr.write(f"atriumn: could not load the {ep.name!r} commands: {exc}\n")
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit code (``python -m atriumn.core.cli`` and ``atriumn``)."""
    from ._errors import APIError, AtriumnError, ConfigurationError, TransportError

    parser = build_parser()
    err = stderr or sys.stderr
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "handler", None) is None:
        parser.print_help(file=stdout or sys.stdout)
        return EXIT_USAGE
    if args.debug:
        from ._telemetry import enable_debug_logging

        enable_debug_logging(err)
    out = Output(json_mode=args.json, stdout=stdout, stderr=err)
    handler: Handler = args.handler
    try:
        code = handler(args, out)
    except (ConfigurationError, ValueError) as exc:
        err.write(f"atriumn: {_one_line(exc)}\n")
        return EXIT_USAGE
    except APIError as exc:
        rid = f" (request id {exc.request_id})" if exc.request_id else ""
        what = exc.description or exc.code
        err.write(f"atriumn: {exc.status_code} {exc.code}: {what} — {_hint(exc)}{rid}\n")
        return EXIT_API_ERROR
    except (TransportError, AtriumnError) as exc:
        err.write(f"atriumn: {exc} — {_hint(exc)}\n")
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        err.write("atriumn: interrupted\n")
        return 130
    return EXIT_OK if code is None else int(code)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
