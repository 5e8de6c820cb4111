"""``atriumn sandbox serve`` (registered through the ``atriumn.cli`` entry point; same as ``atriumn-sandbox``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``sandbox serve`` to the ``atriumn`` parser, with the options of ``atriumn-sandbox serve``."""
    from ._cli import add_serve_arguments

    sandbox = sub.add_parser("sandbox", help="run a local, offline Atriumn server")
    cmds = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = cmds.add_parser("serve", help="serve until interrupted")
    add_serve_arguments(serve)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, out: Any) -> int | None:
    from ._cli import serve

    serve(args)
    return None
