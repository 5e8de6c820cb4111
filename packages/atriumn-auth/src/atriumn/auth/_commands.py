"""``atriumn auth login|logout|whoami|token`` (registered through the ``atriumn.cli`` entry point)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from atriumn.core.cli import Output, credentials_for

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``auth`` commands to the ``atriumn`` parser."""
    auth = sub.add_parser("auth", help="sign in and out; show the current user and token")
    cmds = auth.add_subparsers(dest="auth_command", required=True)

    login = cmds.add_parser("login", help="sign in and keep the session in the OS keyring (--profile)")
    login.add_argument("--username", "-u", help="email / username (prompted when omitted)")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin instead of prompting"
    )
    login.set_defaults(handler=_login)

    logout = cmds.add_parser("logout", help="revoke the session and forget it")
    logout.set_defaults(handler=_logout)

    whoami = cmds.add_parser("whoami", help="the signed-in user's profile")
    whoami.set_defaults(handler=_whoami)

    token = cmds.add_parser("token", help="print a valid access token (for scripts: keep it secret)")
    token.set_defaults(handler=_token)


def _login(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.auth import UserSession

    username = args.username or input("username: ").strip()
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = os.environ.get("ATRIUMN_PASSWORD") or getpass.getpass("password: ")
    session = UserSession.login(username=username, password=password, profile=args.profile)
    persistent = getattr(session.cache.store, "persistent", False)
    out.data(
        {"profile": args.profile, "username": username, "stored_in_keyring": bool(persistent)},
        human=f"signed in as {username} (profile {args.profile!r}"
        + (", kept in the OS keyring)" if persistent else "; no working keyring: this process only)"),
    )
    return None


def _logout(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.auth import UserSession

    session = UserSession.from_profile(args.profile)
    session.logout()
    out.data({"profile": args.profile, "signed_out": True}, human=f"signed out of profile {args.profile!r}")
    return None


def _whoami(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.auth import AuthClient

    with AuthClient(credentials=credentials_for(args)) as auth:
        profile = auth.me()
    out.data(profile)
    return None


def _token(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.core import Transport

    credential = credentials_for(args)
    with Transport(credentials=credential) as transport:
        token = credential.cache.get_token(transport.send)
    out.data({"access_token": token.value, "expires_at": token.expires_at}, human=token.value)
    return None
