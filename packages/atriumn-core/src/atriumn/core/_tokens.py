"""Tokens and where they are kept: :class:`AccessToken` and the :class:`TokenStore` protocol."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Protocol

__all__ = ["AccessToken", "TokenStore"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccessToken:
    """A credential value with its expiry.

    The value (and refresh token) never appear in ``repr``, logs or spans.

    Attributes:
        value: the token or key.
        expires_at: expiry as a Unix timestamp (wall clock, so it survives persistence); None = never.
        refresh_token: a refresh token issued with it, if any.
        scope: the granted scope, if the server said.
    """

    value: str = dataclasses.field(repr=False)
    expires_at: float | None = None
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    scope: str | None = None

    def expires_in(self, now: float | None = None) -> float:
        """Seconds until expiry (infinite when the token does not expire)."""
        if self.expires_at is None:
            return float("inf")
        return self.expires_at - (time.time() if now is None else now)

    def to_json(self) -> str:
        """Serialise for a :class:`TokenStore`."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AccessToken:
        """The inverse of :meth:`to_json`."""
        doc = json.loads(text)
        return cls(**{k: doc.get(k) for k in ("value", "expires_at", "refresh_token", "scope")})


class TokenStore(Protocol):
    """Where tokens survive between calls (and, for the keyring, between processes)."""

    def load(self, key: str) -> AccessToken | None:
        """The stored token for ``key``, or None."""

    def save(self, key: str, token: AccessToken) -> None:
        """Store ``token`` under ``key``."""

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
