"""The Auth API: health, tokens, signup / login / logout, password reset, profile, admin client credentials.

The auth wire is snake_case. There is no email: confirmation and reset codes go to the outbox
(``GET /_sandbox/outbox``).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import ApiError
from ._http import (
    authenticate,
    decode_token,
    encode_token,
    opt_bool,
    opt_str,
    opt_str_dict,
    opt_str_list,
    query_int,
    read_json,
    req_str,
    state_of,
)
from ._security import hash_password, hash_secret, verify_password
from ._state import State
from ._store import now_iso

__all__ = ["auth_routes"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE_TTL = 24 * 3600
_USER_SCOPES = ["openid", "profile", "email"]


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    name, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{name[:1]}***.{tld}"


def _delivery(email: str) -> dict[str, Any]:
    return {"destination": _mask(email), "delivery_medium": "EMAIL", "attribute_name": "email"}


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ApiError(400, "password must be at least 8 characters long")


def _send_code(state: State, user: dict[str, Any], purpose: str) -> str:
    code = f"{secrets.randbelow(10**6):06d}"
    user.setdefault("codes", {})[purpose] = {"hash": hash_secret(code), "expires": time.time() + _CODE_TTL}
    state.store.put("user", user["id"], user, tenant_id=user["tenant_id"])
    state.store.send_message(
        {"to": user["email"], "username": user["username"], "purpose": purpose, "code": code, "sentAt": now_iso()}
    )
    return code


def _take_code(state: State, user: dict[str, Any], purpose: str, code: str) -> None:
    entry = user.get("codes", {}).get(purpose)
    if entry is None or entry["expires"] < time.time() or entry["hash"] != hash_secret(code):
        raise ApiError(400, "invalid or expired code")
    del user["codes"][purpose]


def _user_by_name(state: State, name: str) -> dict[str, Any] | None:
    return state.store.find("user", "username", name.lower())


async def health(request: Request) -> Response:
    """``GET /health``."""
    return JSONResponse({"status": "ok", "version": _version(), "time": now_iso()})


def _version() -> str:
    from ._version import __version__

    return __version__


async def token(request: Request) -> Response:
    """``POST /auth/token``: ``client_credentials`` and ``refresh_token`` grants (JSON or form body)."""
    state = state_of(request)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body: dict[str, Any] = dict((await request.form()).items())
    else:
        body = await read_json(request)
    grant = req_str(body, "grant_type")
    if grant == "client_credentials":
        client_id = req_str(body, "client_id")
        client_secret = req_str(body, "client_secret")
        cred = state.store.find("credential", "client_id", client_id)
        if cred is None or not secrets.compare_digest(cred["secret_hash"], hash_secret(client_secret)):
            raise ApiError(401, "invalid client credentials", code="unauthorized")
        if not cred.get("active", False):
            raise ApiError(401, "this client credential is inactive")
        allowed = list(cred.get("scopes", []))
        requested = opt_str(body, "scope")
        scopes = allowed if not requested else requested.split()
        if not set(scopes) <= set(allowed):
            raise ApiError(400, f"scope not allowed for this client: {' '.join(sorted(set(scopes) - set(allowed)))}")
        return JSONResponse(
            state.issue_tokens(kind="client", subject=client_id, tenant_id=cred["tenant_id"], scopes=scopes)
        )
    if grant == "refresh_token":
        refresh = req_str(body, "refresh_token")
        record = state.store.get("refresh", hash_secret(refresh))
        if record is None or record["revoked"] or record["expires"] < time.time():
            raise ApiError(401, "the refresh token is invalid, expired or revoked")
        if record.get("session_id") and state.store.get("revoked-session", record["session_id"]):
            raise ApiError(401, "the session was logged out")
        return JSONResponse(
            state.issue_tokens(
                kind=record["kind"],
                subject=record["subject"],
                tenant_id=record["tenant_id"],
                scopes=record["scopes"],
                session_id=record.get("session_id"),
                username=record.get("username"),
                with_refresh=True,
                refresh_token=refresh,
            )
        )
    raise ApiError(400, f"unsupported grant_type {grant!r}; use client_credentials or refresh_token")


async def signup(request: Request) -> Response:
    """``POST /auth/signup``: create an unconfirmed user and send a confirmation code to the outbox."""
    state = state_of(request)
    body = await read_json(request)
    email = req_str(body, "email").strip().lower()
    password = req_str(body, "password")
    attributes = opt_str_dict(body, "attributes") or {}
    if not _EMAIL.match(email):
        raise ApiError(400, "email is not a valid email address")
    _check_password(password)
    if _user_by_name(state, email) is not None:
        raise ApiError(409, "a user with this email already exists", code="conflict")
    user_id = str(uuid.uuid4())
    tenant = attributes.get("tenant_id") or attributes.get("custom:tenant_id") or f"tenant-{user_id[:8]}"
    user = {
        "id": user_id,
        "username": email,
        "email": email,
        "tenant_id": tenant,
        "password_hash": await asyncio.to_thread(hash_password, password),
        "attributes": {**attributes, "email": email, "sub": user_id, "tenant_id": tenant},
        "confirmed": False,
        "created_at": now_iso(),
    }
    _send_code(state, user, "signup")
    return JSONResponse({"user_id": user_id, "user_confirmed": False})


async def confirm_signup(request: Request) -> Response:
    """``POST /auth/signup/confirm``."""
    state = state_of(request)
    body = await read_json(request)
    user = _user_by_name(state, req_str(body, "username"))
    code = req_str(body, "confirmation_code")
    if user is None:
        raise ApiError(404, "no such user")
    if user["confirmed"]:
        raise ApiError(400, "the user is already confirmed")
    _take_code(state, user, "signup", code)
    user["confirmed"] = True
    state.store.put("user", user["id"], user, tenant_id=user["tenant_id"])
    return JSONResponse({"confirmed": True, "username": user["username"]})


async def resend(request: Request) -> Response:
    """``POST /auth/signup/resend``."""
    state = state_of(request)
    body = await read_json(request)
    user = _user_by_name(state, req_str(body, "username"))
    if user is None:
        raise ApiError(404, "no such user")
    if user["confirmed"]:
        raise ApiError(400, "the user is already confirmed")
    _send_code(state, user, "signup")
    return JSONResponse({"code_delivery_details": _delivery(user["email"])})


async def login(request: Request) -> Response:
    """``POST /auth/login``: a token response with a refresh token (a new session)."""
    state = state_of(request)
    body = await read_json(request)
    username = req_str(body, "username")
    password = req_str(body, "password")
    user = _user_by_name(state, username)
    if user is None or not await asyncio.to_thread(verify_password, password, user["password_hash"]):
        raise ApiError(401, "incorrect username or password")
    if not user["confirmed"]:
        raise ApiError(403, "the user is not confirmed; confirm the signup code first")
    return JSONResponse(
        state.issue_tokens(
            kind="user",
            subject=user["id"],
            tenant_id=user["tenant_id"],
            scopes=_USER_SCOPES,
            session_id=uuid.uuid4().hex,
            username=user["username"],
            with_refresh=True,
        )
    )


async def logout(request: Request) -> Response:
    """``POST /auth/logout``: revoke the access token and its session's refresh tokens."""
    state = state_of(request)
    body = await read_json(request)
    access = req_str(body, "access_token")
    claims = state.signer.verify_token(access)
    if claims is None or claims.get("typ") != "access":
        raise ApiError(401, "the access token is invalid or expired")
    state.store.put("revoked", str(claims["jti"]), {"exp": claims["exp"]})
    if claims.get("sid"):
        state.store.put("revoked-session", str(claims["sid"]), {"at": now_iso()})
    return JSONResponse({"revoked": True})


async def password_reset(request: Request) -> Response:
    """``POST /auth/password/reset``: send a reset code to the outbox."""
    state = state_of(request)
    body = await read_json(request)
    user = _user_by_name(state, req_str(body, "email"))
    if user is None:
        raise ApiError(404, "no such user")
    _send_code(state, user, "password_reset")
    return JSONResponse({"code_delivery_details": _delivery(user["email"])})


async def password_confirm(request: Request) -> Response:
    """``POST /auth/password/confirm``."""
    state = state_of(request)
    body = await read_json(request)
    user = _user_by_name(state, req_str(body, "email"))
    code = req_str(body, "code")
    new_password = req_str(body, "new_password")
    if user is None:
        raise ApiError(404, "no such user")
    _check_password(new_password)
    _take_code(state, user, "password_reset", code)
    user["password_hash"] = await asyncio.to_thread(hash_password, new_password)
    state.store.put("user", user["id"], user, tenant_id=user["tenant_id"])
    return JSONResponse({"reset": True})


async def me(request: Request) -> Response:
    """``GET /auth/me``."""
    state = state_of(request)
    principal = authenticate(request)
    if principal.kind == "user":
        user = state.store.get("user", principal.subject)
        assert user is not None
        return JSONResponse({"username": user["username"], "attributes": user["attributes"]})
    return JSONResponse(
        {
            "username": principal.subject,
            "attributes": {"client_id": principal.subject, "tenant_id": principal.tenant_id},
        }
    )


# -- admin credentials ------------------------------------------------------------------------------


def _public(cred: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cred.items() if k != "secret_hash"}


def _admin(request: Request) -> State:
    authenticate(request).require("admin")
    return state_of(request)


async def create_credential(request: Request) -> Response:
    """``POST /admin/credentials`` (201, the secret shown once)."""
    state = _admin(request)
    body = await read_json(request)
    issued_to = req_str(body, "issued_to")
    scopes = opt_str_list(body, "scopes")
    if scopes is None:
        raise ApiError(400, "missing required field 'scopes'")
    description = opt_str(body, "description") or ""
    tenant = opt_str(body, "tenant_id") or state.config.admin_tenant_id
    secret = secrets.token_urlsafe(32)
    now = now_iso()
    cred: dict[str, Any] = {
        "id": f"cred_{uuid.uuid4().hex[:16]}",
        "client_id": f"client_{uuid.uuid4().hex[:20]}",
        "issued_to": issued_to,
        "scopes": scopes,
        "description": description,
        "tenant_id": tenant,
        "active": True,
        "created_at": now,
        "updated_at": now,
        "secret_hash": hash_secret(secret),
    }
    state.store.put("credential", cred["id"], cred, tenant_id=tenant)
    return JSONResponse({**_public(cred), "client_secret": secret}, status_code=201)


def _bool_query(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise ApiError(400, f"query parameter '{name}' must be true or false")


async def list_credentials(request: Request) -> Response:
    """``GET /admin/credentials`` with filters ``issuedTo``, ``tenantId``, ``scope``, ``active``."""
    state = _admin(request)
    q = request.query_params
    active = _bool_query(q.get("active"), "active")
    limit = query_int(request, "limit", default=50, low=1, high=100)
    after = decode_token(q.get("nextToken"))
    items: list[dict[str, Any]] = []
    next_token = None
    last = after
    for seq, cred in state.store.scan("credential", after=after):
        if q.get("issuedTo") and cred["issued_to"] != q["issuedTo"]:
            continue
        if q.get("tenantId") and cred["tenant_id"] != q["tenantId"]:
            continue
        if q.get("scope") and q["scope"] not in cred["scopes"]:
            continue
        if active is not None and cred["active"] != active:
            continue
        if len(items) == limit:
            next_token = encode_token(last)
            break
        items.append(_public(cred))
        last = seq
    return JSONResponse({"credentials": items, "next_token": next_token})


def _credential(state: State, request: Request) -> dict[str, Any]:
    cred = state.store.get("credential", request.path_params["id"])
    if cred is None:
        raise ApiError(404, "no such credential")
    return cred


async def get_credential(request: Request) -> Response:
    """``GET /admin/credentials/{id}``."""
    state = _admin(request)
    return JSONResponse(_public(_credential(state, request)))


async def update_credential(request: Request) -> Response:
    """``PATCH /admin/credentials/{id}``: change ``active``, ``scopes``, ``description``."""
    state = _admin(request)
    body = await read_json(request)
    cred = _credential(state, request)
    active = opt_bool(body, "active")
    scopes = opt_str_list(body, "scopes")
    description = opt_str(body, "description")
    if active is not None:
        cred["active"] = active
    if scopes is not None:
        cred["scopes"] = scopes
    if description is not None:
        cred["description"] = description
    cred["updated_at"] = now_iso()
    state.store.put("credential", cred["id"], cred, tenant_id=cred["tenant_id"])
    return JSONResponse(_public(cred))


async def delete_credential(request: Request) -> Response:
    """``DELETE /admin/credentials/{id}`` (204; its tokens stop working)."""
    state = _admin(request)
    cred = _credential(state, request)
    state.store.delete("credential", cred["id"])
    return Response(status_code=204)


def auth_routes() -> list[BaseRoute]:
    """The Auth API's routes."""
    return [
        Route("/health", health, methods=["GET"]),
        Route("/auth/token", token, methods=["POST"]),
        Route("/auth/signup", signup, methods=["POST"]),
        Route("/auth/signup/confirm", confirm_signup, methods=["POST"]),
        Route("/auth/signup/resend", resend, methods=["POST"]),
        Route("/auth/login", login, methods=["POST"]),
        Route("/auth/logout", logout, methods=["POST"]),
        Route("/auth/password/reset", password_reset, methods=["POST"]),
        Route("/auth/password/confirm", password_confirm, methods=["POST"]),
        Route("/auth/me", me, methods=["GET"]),
        Route("/admin/credentials", create_credential, methods=["POST"]),
        Route("/admin/credentials", list_credentials, methods=["GET"]),
        Route("/admin/credentials/{id}", get_credential, methods=["GET"]),
        Route("/admin/credentials/{id}", update_credential, methods=["PATCH"]),
        Route("/admin/credentials/{id}", delete_credential, methods=["DELETE"]),
    ]
