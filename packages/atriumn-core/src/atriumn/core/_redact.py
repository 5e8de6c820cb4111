"""Redaction of secrets in headers, URLs and bodies: the one place that decides what is secret.

Used by logging, spans and error messages alike, so a secret that is hidden from one is hidden from all.
Header redaction is an allow-list in spirit (azure-core's logging policy): credential-bearing headers are
always replaced; bodies are redacted by key name (password, secret, token, api key, code, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_body", "redact_headers", "redact_text", "redact_url"]

REDACTED = "REDACTED"

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "x-amz-security-token",
        "x-atriumn-client-secret",
    }
)

# Key names whose values are secret, in bodies and query strings.
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|apikey|authorization|credential|signature|sig|"
    r"(^|_|-)code$|confirmation|private[_-]?key|session)",
    re.IGNORECASE,
)
_SAFE_KEYS = frozenset({"token_type", "tokentype", "expires_in", "max_tokens", "nexttoken", "next_token"})


def is_secret_key(name: str) -> bool:
    """Whether a field or parameter called ``name`` carries a secret."""
    lowered = name.lower()
    if lowered in _SAFE_KEYS or lowered.endswith("_tokens") or lowered.endswith("tokens"):
        return False
    return bool(_SECRET_KEY.search(name))


def redact_headers(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credential-bearing values replaced."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (REDACTED if k.lower() in SENSITIVE_HEADERS else v) for k, v in items}


def redact_url(url: str) -> str:
    """``url`` with secret query values replaced (pre-signed signatures, keys, tokens) and userinfo dropped."""
    if "?" not in url and "@" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if is_secret_key(k) or k.lower().startswith("x-amz-") else v) for k, v in pairs]
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) and v not in (None, "") else _redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def redact_body(body: bytes | str, content_type: str = "", limit: int = 2048) -> str:
    """A printable, redacted, truncated rendering of a request or response body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.lstrip()
    if "json" in content_type or stripped.startswith(("{", "[")):
        try:
            text = json.dumps(_redact_value(json.loads(text)), ensure_ascii=False)
        except ValueError:
            text = redact_text(text)
    elif "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(text, keep_blank_values=True)
        text = urlencode([(k, REDACTED if is_secret_key(k) else v) for k, v in pairs])
    else:
        text = redact_text(text)
    return text[:limit] + ("…" if len(text) > limit else "")


_INLINE_SECRET = re.compile(
    r"""(?ix)
    ( (?:"|')? (?:password|secret|token|api[_-]?key|authorization|client_secret|refresh_token|access_token)
      (?:"|')? \s* [:=] \s* (?:"|')? (?:bearer\s+)? )
    [^\s"'&,}]+
    """
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact_text(text: str) -> str:
    """Best-effort redaction of ``key=value`` / ``"key": "value"`` secrets and bearer tokens in free text."""
    return _BEARER.sub(r"\1" + REDACTED, _INLINE_SECRET.sub(r"\1" + REDACTED, text))
