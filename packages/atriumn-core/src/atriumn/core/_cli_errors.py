"""How the ``atriumn`` command reports a failure: one line that names what failed and what to do (JSON on
stderr with ``--json``), and an exit code — 1 for API and network errors, 2 for usage and configuration
errors, 130 for an interrupt. Only a bug in the SDK prints a traceback, and then says so.

A subcommand that knows better what failed — which provider, which file, which tenant — gives a ``hint``
function ``(error, args) -> str | None`` with ``set_defaults(hint=...)``; it is asked first, then the general
rules below apply.
"""

from __future__ import annotations

import argparse
import json
import traceback
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import urlsplit

from ._errors import (
    APIError,
    AtriumnError,
    AuthenticationError,
    CircuitOpenError,
    ConnectError,
    NoCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
    ValidationError,
)

__all__ = ["EXIT_API_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageError", "installed_versions", "report"]

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

Hint = Callable[[BaseException, argparse.Namespace], "str | None"]


class UsageError(Exception):
    """A bad command line (argparse's complaints, turned into one line)."""

    def __init__(self, message: str, *, command: str = "atriumn") -> None:
        self.command = command
        super().__init__(message)


def installed_versions() -> dict[str, str]:
    """Every installed Atriumn distribution and its version (``atriumn-core``, ``atriumn-auth``, ...)."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in ("core", "auth", "storage", "ai", "ingest", "sandbox"):
        try:
            found[f"atriumn-{name}"] = version(f"atriumn-{name}")
        except PackageNotFoundError:
            continue
    return found


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _general_hint(exc: BaseException) -> str:
    """What to do, when the subcommand had nothing more specific to say."""
    if isinstance(exc, AuthenticationError):
        return "your credentials were refused: run `atriumn auth login` again, or check ATRIUMN_API_KEY"
    if isinstance(exc, PermissionDeniedError):
        return "your credentials lack a permission this needs (an admin scope, or access to this tenant)"
    if isinstance(exc, NotFoundError):
        return "check the id (and that it belongs to your tenant)"
    if isinstance(exc, APIError) and exc.status_code == 413:
        return "the request is larger than the server's size limit; send a smaller file or split it"
    if isinstance(exc, RateLimitError):
        wait = f" {exc.retry_after:.0f}s" if exc.retry_after else " a moment"
        return f"the server asks you to slow down: wait{wait} and try again"
    if isinstance(exc, ConnectError):
        return f"nothing answered at {_host(exc.url)}: check ATRIUMN_API_BASE_URL and that the server is running"
    if isinstance(exc, RequestTimeoutError):
        return (
            f"{_host(exc.url) or 'the server'} did not answer in time: check that it is up and reachable "
            "(raise ATRIUMN_REQUEST_TIMEOUT only if it is merely slow)"
        )
    if isinstance(exc, TransportError):
        return f"the connection to {_host(exc.url)} broke: check the network and try again"
    if isinstance(exc, CircuitOpenError):
        return f"{exc.host} kept failing; the SDK will try it again in {exc.retry_in:.0f}s"
    return "try again; if it persists, report the request id"


def _cli_fix() -> str:
    return (
        "Fix: run `atriumn auth login` (or `atriumn auth signup` first), or set ATRIUMN_API_KEY, or set "
        "ATRIUMN_CLIENT_ID and ATRIUMN_CLIENT_SECRET."
    )


def _summary(exc: BaseException, hint: str | None) -> tuple[int, dict[str, Any], str]:
    """The exit code, the JSON error object, and the human text (possibly several lines) of a failure."""
    if isinstance(exc, UsageError):
        text = f"{exc.command}: {exc} — see `{exc.command} --help`"
        return EXIT_USAGE, {"type": "usage", "message": str(exc)}, text
    if isinstance(exc, NoCredentialsError):
        # Python arguments do not apply on the command line.
        tried = "\n".join(f"  - {t}" for t in exc.tried if not t.startswith("arguments:"))
        text = f"no Atriumn credentials found. Tried, in order:\n{tried}\n{_cli_fix()}"
        return EXIT_USAGE, {"type": type(exc).__name__, "message": "no Atriumn credentials found",
                            "tried": list(exc.tried), "hint": _cli_fix()}, text  # fmt: skip
    if isinstance(exc, ValidationError | ValueError):  # a plain ValueError: an argument check of a plugin
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return EXIT_USAGE, {"type": type(exc).__name__, "message": first}, first
    if isinstance(exc, APIError):
        what = exc.description or exc.code
        hint = hint or _general_hint(exc)
        rid = f" (request id {exc.request_id})" if exc.request_id else ""
        doc = {"type": type(exc).__name__, "status": exc.status_code, "code": exc.code, "message": what,
               "request_id": exc.request_id, "hint": hint}  # fmt: skip
        return EXIT_API_ERROR, doc, f"{exc.status_code} {exc.code}: {what} — {hint}{rid}"
    if isinstance(exc, AtriumnError):
        hint = hint or _general_hint(exc)
        first = str(exc).strip().splitlines()[0]
        return EXIT_API_ERROR, {"type": type(exc).__name__, "message": first, "hint": hint}, f"{first} — {hint}"
    if isinstance(exc, EOFError):
        message = "the input ended before it was complete (stdin is closed or empty)"
        return EXIT_USAGE, {"type": "EOFError", "message": message, "hint": hint}, hint or message
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        message = f"{exc.strerror or str(exc) or type(exc).__name__}{where}"
        return EXIT_API_ERROR, {"type": type(exc).__name__, "message": message}, hint or message
    raise exc  # not ours to describe: a bug (see report)


def report(exc: BaseException, args: argparse.Namespace | None, *, json_mode: bool, stderr: TextIO) -> int:
    """Write a failure to ``stderr`` and return the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        stderr.write(json.dumps({"error": {"type": "interrupted"}}) + "\n" if json_mode else "atriumn: interrupted\n")
        return EXIT_INTERRUPTED
    hint_for: Hint | None = getattr(args, "hint", None)
    hint = hint_for(exc, args) if hint_for is not None and args is not None else None
    try:
        code, doc, text = _summary(exc, hint)
    except BaseException:  # an unexpected error: a bug in the SDK, the one case for a traceback
        versions = ", ".join(f"{k} {v}" for k, v in installed_versions().items())
        if json_mode:
            doc = {"type": type(exc).__name__, "message": str(exc), "bug": True, "versions": installed_versions()}
            stderr.write(json.dumps({"error": doc}) + "\n")
        else:
            stderr.write("".join(traceback.format_exception(exc)))
            stderr.write(
                f"atriumn: internal error ({type(exc).__name__}). This is a bug in the Atriumn SDK ({versions}); "
                "please report it with the traceback above.\n"
            )
        return EXIT_API_ERROR
    if json_mode:
        stderr.write(json.dumps({"error": doc}, ensure_ascii=False) + "\n")
    else:
        prefix = "" if isinstance(exc, UsageError) else "atriumn: "
        stderr.write(f"{prefix}{text}\n")
    return code
