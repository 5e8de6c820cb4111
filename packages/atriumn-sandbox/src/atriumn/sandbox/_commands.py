"""``atriumn sandbox serve|health|outbox`` (registered through the ``atriumn.cli`` entry point).

``serve`` is ``atriumn-sandbox serve``. ``health`` and ``outbox`` talk to a running sandbox — the one at
``ATRIUMN_API_BASE_URL`` unless ``--url`` says otherwise — with the standard library only (the sandbox does
not depend on the SDK): ``health --wait`` waits until it answers, ``outbox`` shows the confirmation and reset
codes it "sent" by e-mail.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``sandbox`` commands to the ``atriumn`` parser."""
    from ._cli import add_serve_arguments

    sandbox = sub.add_parser("sandbox", help="run a local, offline Atriumn server, and look into it")
    cmds = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = cmds.add_parser("serve", help="serve until interrupted (Ctrl-C or SIGTERM)")
    add_serve_arguments(serve)
    serve.set_defaults(handler=_serve)

    health = cmds.add_parser("health", help="whether the sandbox answers (--wait: until it does)")
    _url_option(health)
    health.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="keep trying this long")
    health.set_defaults(handler=_health)

    outbox = cmds.add_parser("outbox", help="the confirmation and reset codes the sandbox sent by e-mail")
    _url_option(outbox)
    outbox.add_argument("--to", help="only messages to this e-mail address")
    outbox.add_argument("--last-code", action="store_true", help="print only the newest code (for scripts)")
    outbox.set_defaults(handler=_outbox)


def _url_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the sandbox's URL (default: $ATRIUMN_API_BASE_URL)")


def _base_url(args: argparse.Namespace) -> str:
    url = args.url or os.environ.get("ATRIUMN_API_BASE_URL", "").strip()
    if not url:
        raise ValueError("--url: no sandbox URL (pass --url or set ATRIUMN_API_BASE_URL to what serve printed)")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--url: {url!r} is not an http(s) URL")
    return url.rstrip("/")


def _get(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) checked above
        return json.loads(response.read())


def _serve(args: argparse.Namespace, out: Any) -> int | None:
    from ._cli import serve

    out.stop_progress()  # a server is not a wait: no spinner
    serve(args)
    return None


def _health(args: argparse.Namespace, out: Any) -> int | None:
    base = _base_url(args)
    deadline = time.monotonic() + max(0.0, args.wait)
    while True:
        try:
            doc = _get(f"{base}/health", timeout=2.0)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if time.monotonic() >= deadline:
                reason = getattr(exc, "reason", exc)
                raise ConnectionError(
                    f"no sandbox answers at {base} ({reason}); start one: atriumn sandbox serve"
                ) from None
            time.sleep(0.1)
            continue
        out.data({"url": base, **(doc if isinstance(doc, dict) else {})}, human=f"the sandbox at {base} is up")
        return None


def _outbox(args: argparse.Namespace, out: Any) -> int | None:
    base = _base_url(args)
    query = f"?{urllib.parse.urlencode({'to': args.to})}" if args.to else ""
    messages = _get(f"{base}/_sandbox/outbox{query}").get("messages", [])
    if args.last_code:
        if not messages:
            out.note(f"atriumn: no message was sent{' to ' + args.to if args.to else ''} yet")
            return 1
        out.data({"code": messages[-1]["code"]}, human=str(messages[-1]["code"]))
        return None

    def table(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "(no messages)"
        return "\n".join(f"{m['sentAt']}  {m['to']:32}  {m['purpose']:16}  {m['code']}" for m in rows)

    out.data(messages, human=table)
    return None
