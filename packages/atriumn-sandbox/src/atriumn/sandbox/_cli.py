"""``atriumn-sandbox serve``: run the sandbox in the foreground until interrupted."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._config import ENV_ADMIN_CLIENT_ID, ENV_ADMIN_CLIENT_SECRET, SandboxConfig

__all__ = ["add_serve_arguments", "main", "serve"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} — see `{self.prog} --help`\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="atriumn-sandbox", description="A local, offline Atriumn server.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_serve_arguments(sub.add_parser("serve", help="serve the sandbox until interrupted"))
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535; 0 picks a free one)")
    return port


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    """The options of ``serve`` (shared with ``atriumn sandbox serve``)."""
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port to bind (default 0: a free port)")
    serve.add_argument("--data-dir", type=Path, help="keep data here (default: a temporary directory)")
    serve.add_argument("--token-ttl", type=float, default=3600.0, help="access token lifetime, seconds")
    serve.add_argument("--refresh-token-ttl", type=float, default=30 * 24 * 3600.0, help="refresh token lifetime")
    serve.add_argument("--admin-client-id", help=f"bootstrap admin client id (or ${ENV_ADMIN_CLIENT_ID})")
    serve.add_argument("--admin-client-secret", help=f"bootstrap admin secret (or ${ENV_ADMIN_CLIENT_SECRET})")
    serve.add_argument("--max-body-size", type=int, default=1024 * 1024, help="largest JSON body, bytes")
    serve.add_argument("--max-upload-size", type=int, default=100 * 1024 * 1024, help="largest upload, bytes")
    serve.add_argument("--rate-limit", type=float, help="requests per second per credential (default: off)")
    serve.add_argument("--rate-limit-burst", type=float, help="token bucket size (default: the rate)")
    serve.add_argument("--processing-delay", type=float, default=0.05, help="seconds per ingestion step")
    serve.add_argument(
        "--batch-delay", type=float, default=0.2, help="seconds an emulated LLM batch job takes (0: done on next poll)"
    )
    serve.add_argument("--llm-rpm", type=int, help="LLM emulation: requests per window per provider and key")
    serve.add_argument("--llm-tpm", type=int, help="LLM emulation: tokens per window per provider and key")
    serve.add_argument("--llm-window", type=float, default=60.0, help="LLM emulation: the limits' window, seconds")
    serve.add_argument(
        "--signing-secret", default=os.environ.get("ATRIUMN_SANDBOX_SIGNING_SECRET"), help="HMAC key for tokens"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``atriumn-sandbox`` command."""
    serve(_parser().parse_args(argv))


def serve(args: argparse.Namespace) -> None:
    """Run the sandbox with parsed ``serve`` options until interrupted."""
    from ._server import Sandbox

    overrides = {
        "admin_client_id": args.admin_client_id,
        "admin_client_secret": args.admin_client_secret,
        "signing_secret": args.signing_secret,
    }
    try:
        config = SandboxConfig(
            data_dir=args.data_dir,
            token_ttl=args.token_ttl,
            refresh_token_ttl=args.refresh_token_ttl,
            max_body_size=args.max_body_size,
            max_upload_size=args.max_upload_size,
            rate_limit=args.rate_limit,
            rate_limit_burst=args.rate_limit_burst,
            processing_delay=args.processing_delay,
            batch_delay=args.batch_delay,
            llm_rpm=args.llm_rpm,
            llm_tpm=args.llm_tpm,
            llm_window=args.llm_window,
        )
        config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v})
        sandbox = Sandbox(config, host=args.host, port=args.port).start()
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"atriumn-sandbox: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    kept = args.data_dir is not None
    previous = _stop_on_signals()
    try:  # from here on, Ctrl-C or SIGTERM (even while the banner prints) stops the server cleanly
        print(f"Atriumn sandbox listening on {sandbox.url}", flush=True)
        print(f"ATRIUMN_API_BASE_URL={sandbox.url}", flush=True)
        print(f"admin client id:     {sandbox.admin_client_id}", flush=True)
        print(f"admin client secret: {sandbox.admin_client_secret}", flush=True)
        note = "" if kept else " (temporary: removed on exit)"
        print(f"data dir:            {sandbox.data_dir}{note}", flush=True)
        assert sandbox._thread is not None
        while sandbox._thread.is_alive():
            sandbox._thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        data_dir = sandbox.data_dir
        sandbox.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print(f"stopped; the data is kept in {data_dir}" if kept else "stopped; temporary data removed", flush=True)


def _stop_on_signals() -> dict[int, Any]:
    """SIGTERM (how CI, containers and process managers stop a server) and SIGINT (Ctrl-C, ``kill -INT``) end it
    cleanly, with the temporary data removed — SIGINT too when the shell started the server in the background
    with SIGINT ignored, as uvicorn does. Returns the previous handlers (none when not in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}


if __name__ == "__main__":
    main()
