"""Password hashing, signed tokens and pre-signed URL signatures (stdlib only: hashlib, hmac, secrets)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

__all__ = ["Signer", "hash_password", "hash_secret", "verify_password"]

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$<salt>$<hash>`` of ``password`` (hex), with a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` result (constant-time comparison)."""
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=_N, r=_R, p=_P, dklen=32)
    return hmac.compare_digest(digest.hex(), digest_hex)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy random secret (client secrets, refresh tokens): no salt needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signatures for access tokens and pre-signed URLs, under one secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"atriumn-sandbox:" + secret.encode()).digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def token(self, claims: dict[str, Any]) -> str:
        """A compact ``payload.signature`` token carrying ``claims`` (base64url JSON)."""
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{_b64(self._mac(payload.encode()))}"

    def verify_token(self, token: str, *, now: float | None = None) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token, else ``None``."""
        try:
            payload, signature = token.split(".")
            if not hmac.compare_digest(_unb64(signature), self._mac(payload.encode())):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), (int, float)):
            return None
        if claims["exp"] <= (time.time() if now is None else now):
            return None
        return claims

    def url_signature(self, method: str, key: str, expires: int) -> str:
        """The hex signature of a pre-signed URL: HMAC over method, key and expiry."""
        return self._mac(f"{method.upper()}\n{key}\n{expires}".encode()).hex()

    def verify_url(self, method: str, key: str, expires: str, signature: str) -> bool:
        """Whether ``signature`` was made by :meth:`url_signature` for these values (expiry NOT checked)."""
        try:
            exp = int(expires)
        except ValueError:
            return False
        return hmac.compare_digest(self.url_signature(method, key, exp), signature)
