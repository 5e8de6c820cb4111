"""The state one sandbox app holds: configuration, store, signer, faults, background work."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from ._config import SandboxConfig
from ._faults import FaultInjector
from ._http import Principal
from ._security import Signer, hash_secret
from ._store import Store, now_iso

__all__ = ["State"]


class State:
    """Everything the endpoints share. One per app."""

    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.signer = Signer(config.signing_secret)
        self.faults = FaultInjector()
        self._tasks: set[asyncio.Task[None]] = set()
        self.bootstrap_admin()

    # -- credentials and tokens --------------------------------------------------------------------

    def bootstrap_admin(self) -> None:
        """Create (or refresh) the bootstrap admin client credential from the configuration."""
        cfg = self.config
        existing = self.store.find("credential", "client_id", cfg.admin_client_id)
        now = now_iso()
        doc = existing or {
            "id": f"cred_{uuid.uuid4().hex[:16]}",
            "client_id": cfg.admin_client_id,
            "issued_to": "sandbox bootstrap admin",
            "description": "created at sandbox start",
            "created_at": now,
        }
        doc.update(
            secret_hash=hash_secret(cfg.admin_client_secret),
            scopes=["admin"],
            tenant_id=cfg.admin_tenant_id,
            active=True,
            updated_at=now,
        )
        self.store.put("credential", doc["id"], doc, tenant_id=cfg.admin_tenant_id)

    def issue_tokens(
        self,
        *,
        kind: str,
        subject: str,
        tenant_id: str,
        scopes: list[str],
        session_id: str | None = None,
        username: str | None = None,
        with_refresh: bool = False,
        refresh_token: str | None = None,
    ) -> dict[str, Any]:
        """A token response (snake_case, as the auth API writes it)."""
        ttl = self.config.token_ttl
        exp = time.time() + ttl
        claims: dict[str, Any] = {
            "typ": "access",
            "kind": kind,
            "sub": subject,
            "tid": tenant_id,
            "scope": " ".join(scopes),
            "exp": exp,
            "iat": time.time(),
            "jti": uuid.uuid4().hex,
        }
        if session_id:
            claims["sid"] = session_id
        response: dict[str, Any] = {
            "access_token": self.signer.token(claims),
            "token_type": "Bearer",
            "expires_in": max(1, round(ttl)),
            "scope": " ".join(scopes),
        }
        if kind == "user":
            response["id_token"] = self.signer.token(
                {"typ": "id", "sub": subject, "tid": tenant_id, "username": username, "exp": exp}
            )
        if with_refresh:
            if refresh_token is None:
                refresh_token = secrets.token_urlsafe(32)
                self.store.put(
                    "refresh",
                    hash_secret(refresh_token),
                    {
                        "kind": kind,
                        "subject": subject,
                        "tenant_id": tenant_id,
                        "scopes": scopes,
                        "session_id": session_id,
                        "username": username,
                        "expires": time.time() + self.config.refresh_token_ttl,
                        "revoked": False,
                    },
                )
            response["refresh_token"] = refresh_token
        return response

    def principal_of(self, token: str) -> Principal | None:
        """The principal of a valid, unexpired, unrevoked access token."""
        claims = self.signer.verify_token(token)
        if claims is None or claims.get("typ") != "access":
            return None
        if self.store.get("revoked", str(claims.get("jti"))) is not None:
            return None
        sid = claims.get("sid")
        if sid and self.store.get("revoked-session", str(sid)) is not None:
            return None
        kind = str(claims.get("kind"))
        subject = str(claims.get("sub"))
        if kind == "client":
            cred = self.store.find("credential", "client_id", subject)
            if cred is None or not cred.get("active", False):
                return None
        elif kind == "user":
            if self.store.get("user", subject) is None:
                return None
        else:
            return None
        scopes = frozenset(str(claims.get("scope", "")).split())
        return Principal(kind=kind, subject=subject, tenant_id=str(claims.get("tid")), scopes=scopes, claims=claims)

    def scope_key(self, token: str | None) -> str:
        """A stable identity for rate limiting and idempotency: the token's subject, without DB lookups."""
        if token:
            claims = self.signer.verify_token(token)
            if claims is not None:
                return f"{claims.get('kind')}:{claims.get('sub')}:{claims.get('tid')}"
            return "token:" + hash_secret(token)[:16]
        return "anonymous"

    # -- background work ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background on the running loop, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """Cancel background work (it resumes on the next start: items stay pending/processing)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
