"""Redaction of secrets in headers, URLs, bodies and errors: the one place that decides what is secret.

Used by logging, spans and error messages alike, so a secret that is hidden from one is hidden from all.
Two rules work together:

- by name: credential-bearing headers are always replaced (azure-core's logging policy), and body fields and
  query parameters whose names say secret (password, secret, token, api key, signature, ...);
- by value: a :class:`Scrubber` knows the secrets a request carried (credential headers, secret query values,
  secret body fields) and replaces them wherever a server echoes them back — in an error's message,
  description, body and headers, and in log records. Values shorter than four characters are not searched
  for: they cannot be told apart from ordinary text.

A last, heuristic rule catches secrets nobody told us about: bearer tokens, ``key=value`` secrets and the
shapes of well-known API keys (``sk-…``, ``gsk_…``, ``AIza…``, JWTs) in free text. It only replaces values
that look like secrets, so "missing bearer token" stays readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "Scrubber",
    "body_shape",
    "redact_body",
    "redact_headers",
    "redact_text",
    "redact_url",
    "secret_header_value",
]

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
    r"confirmation|private[_-]?key|session)",
    re.IGNORECASE,
)
# A one-time code (``code``, ``confirmation_code``) is secret in a request; in a response, ``code`` is an
# error code (OpenAI's ``invalid_api_key``, Google's ``400``) and stays readable.
_CODE_KEY = re.compile(r"(^|_|-)code$", re.IGNORECASE)
_SAFE_KEYS = frozenset({"token_type", "tokentype", "expires_in", "max_tokens", "nexttoken", "next_token"})


def is_secret_key(name: str, *, response: bool = False) -> bool:
    """Whether a field or parameter called ``name`` carries a secret (``response``: in a server's answer)."""
    lowered = name.lower()
    if lowered in _SAFE_KEYS or lowered.endswith("_tokens") or lowered.endswith("tokens"):
        return False
    if _SECRET_KEY.search(name):
        return True
    return not response and bool(_CODE_KEY.search(name))


def is_secret_query_key(name: str) -> bool:
    """Whether a query parameter called ``name`` carries a secret: the body rules, plus Google's ``key`` and
    the ``X-Amz-*`` parameters of pre-signed URLs."""
    lowered = name.lower()
    return lowered == "key" or lowered.startswith("x-amz-") or is_secret_key(name)


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
        query = urlencode([(k, REDACTED if is_secret_query_key(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_value(value: Any, response: bool) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                REDACTED
                if isinstance(k, str) and is_secret_key(k, response=response) and v not in (None, "")
                else _redact_value(v, response)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(v, response) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_body(body: bytes | str, content_type: str = "", limit: int = 2048, *, response: bool = False) -> str:
    """A printable, redacted, truncated rendering of a request body (or, with ``response``, a response body)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.lstrip()
    if "json" in content_type or stripped.startswith(("{", "[")):
        try:
            text = json.dumps(_redact_value(json.loads(text), response), ensure_ascii=False)
        except (ValueError, RecursionError):
            text = redact_text(text)
    elif "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(text, keep_blank_values=True)
        text = urlencode([(k, REDACTED if is_secret_key(k, response=response) else v) for k, v in pairs])
    else:
        text = redact_text(text)
    return text[:limit] + ("…" if len(text) > limit else "")


def _looks_secret(value: str) -> bool:
    """Whether free text after "token:" or "Bearer" is a credential rather than a word ("token expired")."""
    if len(value) >= 20:
        return True
    return len(value) >= 8 and any(not c.isalpha() or c.isupper() for c in value)


_INLINE_SECRET = re.compile(
    r"""(?ix)
    ( (?:"|')? (?:password|secret|token|api[_-]?key|authorization|client_secret|refresh_token|access_token)
      (?:"|')? \s* [:=] \s* (?:"|')? (?:bearer\s+)? )
    ([^\s"'&,}]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]+)")
# The shapes of well-known keys: OpenAI / Anthropic (sk-…), Groq (gsk_…), Google (AIza…), xAI, and JWTs.
_KEY_SHAPE = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{16,}|gsk_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_-]{30,}|xai-[A-Za-z0-9]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
)


def _keep_words(match: re.Match[str]) -> str:
    return match.group(1) + (REDACTED if _looks_secret(match.group(2)) else match.group(2))


def redact_text(text: str) -> str:
    """Best-effort redaction of ``key=value`` / ``"key": "value"`` secrets, bearer tokens and well-known key
    shapes in free text (words such as "missing bearer token" are left alone)."""
    text = _INLINE_SECRET.sub(_keep_words, text)
    text = _BEARER.sub(_keep_words, text)
    return _KEY_SHAPE.sub(REDACTED, text)


_AUTH_SCHEMES = ("bearer ", "basic ", "token ", "apikey ")


def secret_header_value(value: str) -> str:
    """The secret inside a credential header's value (``Bearer abc`` → ``abc``)."""
    lowered = value[:7].lower()
    for scheme in _AUTH_SCHEMES:
        if lowered.startswith(scheme):
            return value[len(scheme) :].strip()
    return value


#: Secrets shorter than this are not searched for by value (they would match ordinary text).
MIN_SECRET_LENGTH = 4


class Scrubber:
    """Replaces known secret values in text: as sent, JSON-escaped and percent-encoded, as servers echo them.

    Built from the secrets one request carried; empty scrubbers cost nothing. The pattern is compiled on
    first use, so a call that succeeds never pays for it.
    """

    __slots__ = ("_pattern", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*values)

    def add(self, *values: str) -> None:
        """Learn more secret values (ignored when shorter than :data:`MIN_SECRET_LENGTH` characters)."""
        for value in values:
            if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
                self._values.add(value.strip())
                self._pattern = None

    def __bool__(self) -> bool:
        return bool(self._values)

    def _compiled(self) -> re.Pattern[str]:
        if self._pattern is None:
            forms: set[str] = set()
            for value in self._values:
                forms.update(
                    (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""))
                )
                forms.add(quote_plus(value))
            ordered = sorted(forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(f) for f in ordered))
        return self._pattern

    def scrub(self, text: str) -> str:
        """``text`` with every known secret replaced by ``REDACTED``."""
        if not self._values or not text:
            return text
        return self._compiled().sub(REDACTED, text)

    def scrub_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """A copy of ``headers`` with known secrets replaced in the values."""
        return {k: self.scrub(v) for k, v in headers.items()}

    def scrub_exception(self, exc: BaseException) -> None:
        """Scrub an error in place: its message and every text it keeps (description, body, headers, ...),
        and the errors it was raised from."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen and len(seen) < 8:
            seen.add(id(current))
            self._scrub_one(current)
            current = current.__cause__ or current.__context__

    def _scrub_one(self, exc: BaseException) -> None:
        if not self._values:
            return
        exc.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in exc.args)
        state = getattr(exc, "__dict__", None)
        if not state:
            return
        for name, value in list(state.items()):
            if isinstance(value, str):
                state[name] = self.scrub(value)
            elif isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
                state[name] = self.scrub_headers(value)

    def __repr__(self) -> str:
        return f"Scrubber(<{len(self._values)} secrets>)"


# Values kept in a body's shape: they say what a request is, not what it says.
_SHAPE_KEEP = frozenset({"model", "role", "type", "stream", "tool_choice", "encoding_format", "finish_reason"})


def _shape(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        head = [_shape(v) for v in value[:3]]
        return head + ([f"<{len(value) - 3} more>"] if len(value) > 3 else [])
    if isinstance(value, str):
        return value if key in _SHAPE_KEEP and len(value) <= 64 else f"<{len(value)} chars>"
    return value


def body_shape(body: bytes | str, content_type: str = "", limit: int = 2048) -> str:
    """The shape of a body without its content: keys, counts, numbers and the length of every text (for
    logging requests whose text is private, such as a conversation)."""
    raw = body.encode() if isinstance(body, str) else body
    try:
        doc = json.loads(raw)
        text = json.dumps(_shape(doc), ensure_ascii=False)
    except (ValueError, RecursionError):
        return f"<{len(raw)} bytes of {content_type or 'data'}>"
    return text[:limit] + ("…" if len(text) > limit else "")
