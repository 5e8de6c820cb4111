"""The ``atriumn`` command line: one command whose subcommands come from the installed distributions.

Each distribution that has commands declares an entry point in the ``atriumn.cli`` group pointing at a
function ``register(subparsers: argparse._SubParsersAction) -> None``; installing only ``atriumn-storage``
gives only ``atriumn storage ...``. A subcommand sets ``handler=`` (``set_defaults``) to a function
``(args: argparse.Namespace, out: Output) -> int | None``, and may set ``hint=`` to a function
``(error, args) -> str | None`` that says what to do about a failure in its own terms.

Conventions every subcommand follows (enforced here, once):
    - ``--json``, ``--debug`` and ``--profile`` are accepted anywhere on the line;
    - ``--json`` prints machine-readable output (``Output.data``), and errors as JSON on stderr;
    - exit codes: 0 success, 1 API or network error, 2 usage error (bad arguments or configuration),
      130 interrupted;
    - errors are one line on stderr that names what failed and what to do, with the request id when there is
      one; only a bug in the SDK prints a traceback (and says so);
    - ``--debug`` turns on the SDK's redacted DEBUG logs; without it, no Python warning is ever printed;
    - a wait longer than about a second shows progress on a terminal (never on a pipe or with ``--json``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from ._cli_errors import EXIT_API_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, installed_versions, report
from ._cli_output import Output, format_money

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Output",
    "credentials_for",
    "format_money",
    "main",
]

#: The commands each distribution brings, for the message when one is not installed.
_DISTRIBUTIONS = {"auth": "atriumn-auth", "storage": "atriumn-storage", "ai": "atriumn-ai",
                  "ingest": "atriumn-ingest", "sandbox": "atriumn-sandbox"}  # fmt: skip
_FLAGS = ("--json", "--debug")


def credentials_for(args: argparse.Namespace) -> Any:
    """The credential a subcommand should use: the default chain (``atriumn.core.default_credentials``) for the
    ``--profile`` in use — ``ATRIUMN_API_KEY``, client credentials from the environment, then the session saved
    by ``atriumn auth login``."""
    from ._credentials import default_credentials

    return default_credentials(profile=args.profile)


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints raised as one-line :class:`UsageError` s instead of usage dumps."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, command=self.prog)


def build_parser() -> argparse.ArgumentParser:
    """The ``atriumn`` parser with every installed distribution's subcommands."""
    from importlib.metadata import entry_points

    parser = _Parser(prog="atriumn", description="The Atriumn command line.")
    parser.add_argument("--version", action="store_true", help="print the installed Atriumn distributions' versions")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON (errors too, on stderr)")
    parser.add_argument("--debug", action="store_true", help="show redacted request logs on stderr")
    parser.add_argument(
        "--profile",
        default=os.environ.get("ATRIUMN_PROFILE") or "default",
        help="the signed-in session to use (default: $ATRIUMN_PROFILE, else 'default')",
    )
    sub = parser.add_subparsers(dest="command", title="commands", parser_class=_Parser)
    for ep in sorted(entry_points(group="atriumn.cli"), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            sys.stderr.write(f"atriumn: could not load the {ep.name!r} commands: {exc}\n")
            continue
        register(sub)
    return parser


def _global_options(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """``--json``, ``--debug`` and ``--profile NAME`` taken from anywhere on the line (before ``--``)."""
    found: dict[str, Any] = {}
    rest: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            rest.append(token)
            rest.extend(tokens)
            break
        if token in _FLAGS:
            found[token[2:]] = True
        elif token == "--profile":
            found["profile"] = next(tokens, None)
            if found["profile"] is None:
                raise UsageError("argument --profile: expected one argument")
        elif token.startswith("--profile="):
            found["profile"] = token.partition("=")[2]
        else:
            rest.append(token)
    return found, rest


def _missing_distribution(argv: Sequence[str], parser: argparse.ArgumentParser) -> str | None:
    """The distribution to install when the command names one that is not installed."""
    command = next((t for t in argv if not t.startswith("-")), None)
    if command not in _DISTRIBUTIONS:
        return None
    choices = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
    return None if command in (choices or {}) else _DISTRIBUTIONS[command]


def _quiet_warnings(debug: bool) -> None:
    """Python warnings go to logging (shown with ``--debug``), never as raw warning text with a source line."""
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    if not debug and not any(isinstance(h, logging.NullHandler) for h in warnings_logger.handlers):
        warnings_logger.addHandler(logging.NullHandler())
        warnings_logger.propagate = False
    warnings.simplefilter("default")


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit code (``python -m atriumn.core.cli`` and ``atriumn``)."""
    err = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    json_mode = "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv
    args: argparse.Namespace | None = None
    try:
        found, rest = _global_options(argv)
        _quiet_warnings(bool(found.get("debug")))
        parser = build_parser()
        missing = _missing_distribution(rest, parser)
        if missing is not None:
            raise UsageError(
                f"the `{rest[0]}` commands come with {missing}, which is not installed: pip install {missing}"
            )
        try:
            args = parser.parse_args(rest)
        except SystemExit as exc:  # --help
            return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
        args.json = args.json or bool(found.get("json"))
        args.debug = args.debug or bool(found.get("debug"))
        if found.get("profile"):
            args.profile = found["profile"]
        out = Output(json_mode=args.json, stdout=stdout, stderr=err)
        if args.version:
            versions = installed_versions()
            out.data(versions, human="\n".join(f"{name} {version}" for name, version in versions.items()))
            return EXIT_OK
        if getattr(args, "handler", None) is None:
            parser.print_help(file=stdout or sys.stdout)
            return EXIT_USAGE
        if args.debug:
            from ._telemetry import enable_debug_logging

            enable_debug_logging(err)
        with out.busy(f"waiting for {_service_host()}…"):
            code = args.handler(args, out)
        return EXIT_OK if code is None else int(code)
    except BrokenPipeError:  # the reader went away (`atriumn ... | head`): nothing more to say
        return EXIT_OK
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        return report(exc, args, json_mode=json_mode, stderr=err)


def _service_host() -> str:
    from urllib.parse import urlsplit

    from ._config import resolve_base_url

    try:
        return urlsplit(resolve_base_url(None, None)).netloc
    except Exception:  # a bad ATRIUMN_API_BASE_URL is reported by the call itself
        return "the server"


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
