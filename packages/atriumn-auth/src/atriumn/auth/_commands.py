"""``atriumn auth signup|confirm|resend-code|login|status|whoami|token|logout|reset-password|confirm-reset``
(registered through the ``atriumn.cli`` entry point)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from atriumn.core import AuthenticationError, ValidationError
from atriumn.core.cli import Output, credentials_for

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``auth`` commands to the ``atriumn`` parser."""
    auth = sub.add_parser("auth", help="create an account, sign in and out, show the current user")
    cmds = auth.add_subparsers(dest="auth_command", required=True)

    signup = cmds.add_parser("signup", help="create an account (a confirmation code is sent to the email)")
    _user_options(signup, "the email address to sign up with (prompted when omitted)")
    signup.set_defaults(handler=_signup, hint=_hint)

    confirm = cmds.add_parser("confirm", help="confirm a new account with the code it was sent")
    confirm.add_argument("--username", "-u", help="the email address signed up with (prompted when omitted)")
    confirm.add_argument("--code", help="the confirmation code (prompted when omitted)")
    confirm.set_defaults(handler=_confirm, hint=_hint)

    resend = cmds.add_parser("resend-code", help="send the account confirmation code again")
    resend.add_argument("--username", "-u", help="the email address signed up with (prompted when omitted)")
    resend.set_defaults(handler=_resend, hint=_hint)

    login = cmds.add_parser("login", help="sign in and keep the session (OS keyring, else a private file)")
    _user_options(login, "email / username (prompted when omitted)")
    login.set_defaults(handler=_login, hint=_hint)

    status = cmds.add_parser("status", help="whether the profile is signed in, and where its session is kept")
    status.set_defaults(handler=_status, hint=_hint)

    logout = cmds.add_parser("logout", help="revoke the session and forget it where it is kept")
    logout.set_defaults(handler=_logout, hint=_hint)

    whoami = cmds.add_parser("whoami", help="the signed-in user's profile")
    whoami.set_defaults(handler=_whoami, hint=_hint)

    token = cmds.add_parser("token", help="print a valid access token (for scripts: keep it secret)")
    token.set_defaults(handler=_token, hint=_hint)

    reset = cmds.add_parser("reset-password", help="ask for a password reset code (sent to the email)")
    reset.add_argument("--email", "-u", help="the account's email address (prompted when omitted)")
    reset.set_defaults(handler=_reset, hint=_hint)

    confirm_reset = cmds.add_parser("confirm-reset", help="set a new password with the reset code")
    confirm_reset.add_argument("--email", "-u", help="the account's email address (prompted when omitted)")
    confirm_reset.add_argument("--code", help="the reset code (prompted when omitted)")
    confirm_reset.add_argument(
        "--password-stdin", action="store_true", help="read the new password from stdin instead of prompting"
    )
    confirm_reset.set_defaults(handler=_confirm_reset, hint=_hint)


def _user_options(parser: argparse.ArgumentParser, username_help: str) -> None:
    parser.add_argument("--username", "-u", help=username_help)
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin instead of prompting (or set ATRIUMN_PASSWORD)",
    )


def _hint(exc: BaseException, args: argparse.Namespace) -> str | None:
    """What to do, in the terms of the auth commands."""
    if isinstance(exc, AuthenticationError):
        if "password" in (exc.description or "").lower():
            return "wrong username or password: check them, or reset it with `atriumn auth reset-password`"
        return "the session is signed out or expired: run `atriumn auth login`"
    if isinstance(exc, EOFError):
        return (
            "no input to read (stdin is closed): pass --username and pipe the password with --password-stdin, "
            "or set ATRIUMN_PASSWORD"
        )
    return None


def _ask(out: Output, prompt: str, given: str | None, *, secret: bool = False) -> str:
    """An argument, else a prompt (EOF on a closed stdin is reported in one line by the command line)."""
    if given:
        return given.strip()
    out.stop_progress()
    if secret and sys.stdin.isatty():
        value = getpass.getpass(prompt)
    else:  # the prompt goes to stderr: stdout is for the command's output (JSON with --json)
        out.stderr.write(prompt)
        out.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        value = line.rstrip("\n")
    if not value.strip():
        raise ValidationError(f"{prompt.rstrip(': ')}: must not be empty")
    return value.strip() if not secret else value


def _password(out: Output, args: argparse.Namespace, prompt: str = "password: ") -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")
    return os.environ.get("ATRIUMN_PASSWORD") or _ask(out, prompt, None, secret=True)


def _auth_client() -> Any:
    from atriumn.auth import AuthClient

    return AuthClient()


def _signup(args: argparse.Namespace, out: Output) -> int | None:
    email = _ask(out, "email: ", args.username)
    password = _password(out, args)
    with _auth_client() as auth:
        result = auth.signup(email=email, password=password)
    out.data(
        {"user_id": result.user_id, "email": email, "confirmed": False},
        human=f"signed up as {email}; confirm with the code sent to it: atriumn auth confirm -u {email} --code CODE",
    )
    return None


def _confirm(args: argparse.Namespace, out: Output) -> int | None:
    username = _ask(out, "email: ", args.username)
    code = _ask(out, "confirmation code: ", args.code)
    with _auth_client() as auth:
        auth.confirm_signup(username=username, confirmation_code=code)
    out.data({"username": username, "confirmed": True}, human=f"{username} is confirmed; sign in: atriumn auth login")
    return None


def _resend(args: argparse.Namespace, out: Output) -> int | None:
    username = _ask(out, "email: ", args.username)
    with _auth_client() as auth:
        details = auth.resend_confirmation_code(username=username)
    out.data(details, human=f"a new code was sent to {details.destination or username}")
    return None


def _login(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.auth import UserSession, session_store

    username = _ask(out, "username: ", args.username)
    password = _password(out, args)
    store = session_store()
    session = UserSession.login(username=username, password=password, profile=args.profile, store=store)
    where = store.location
    keyring = where.startswith("OS keyring")
    kept = f"kept in the {where}" if keyring else f"no desktop keyring here, so the session is kept in {where}"
    out.data(
        {"profile": args.profile, "username": username, "stored_in": where, "stored_in_keyring": keyring},
        human=f"signed in as {username} (profile {args.profile!r}); {kept}",
    )
    del session
    return None


def _status(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.auth import UserSession, session_store
    from atriumn.core import ConfigurationError

    store = session_store()
    try:
        session = UserSession.from_profile(args.profile, store=store)
    except ConfigurationError:
        out.data(
            {"profile": args.profile, "signed_in": False, "stored_in": store.location},
            human=f"profile {args.profile!r}: not signed in (sessions are kept in {store.location})",
        )
        return 1
    token = session.cache.peek()
    expires = token.expires_at if token is not None else None
    out.data(
        {"profile": args.profile, "signed_in": session.signed_in, "stored_in": store.location, "expires_at": expires},
        human=f"profile {args.profile!r}: signed in; the session is kept in {store.location}",
    )
    return None


def _logout(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.auth import UserSession, session_store
    from atriumn.core import ConfigurationError

    store = session_store()
    try:
        session = UserSession.from_profile(args.profile, store=store)
    except ConfigurationError:
        out.data({"profile": args.profile, "signed_out": True}, human=f"profile {args.profile!r} was not signed in")
        return None
    session.logout()
    out.data(
        {"profile": args.profile, "signed_out": True, "removed_from": store.location},
        human=f"signed out of profile {args.profile!r} (removed from {store.location})",
    )
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


def _reset(args: argparse.Namespace, out: Output) -> int | None:
    email = _ask(out, "email: ", args.email)
    with _auth_client() as auth:
        details = auth.request_password_reset(email=email)
    out.data(
        details,
        human=f"a reset code was sent to {details.destination or email}; then: atriumn auth confirm-reset -u {email}",
    )
    return None


def _confirm_reset(args: argparse.Namespace, out: Output) -> int | None:
    email = _ask(out, "email: ", args.email)
    code = _ask(out, "reset code: ", args.code)
    password = _password(out, args, "new password: ")
    with _auth_client() as auth:
        auth.confirm_password_reset(email=email, code=code, new_password=password)
    out.data({"email": email, "reset": True}, human="the password is changed; sign in: atriumn auth login")
    return None
