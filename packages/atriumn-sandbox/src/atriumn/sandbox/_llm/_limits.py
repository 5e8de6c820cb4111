"""Provider rate limits for the LLM emulation: requests and tokens per window, per provider and API key.

Off unless ``SandboxConfig.llm_rpm`` / ``llm_tpm`` (``--llm-rpm`` / ``--llm-tpm``) is set. Then every chat request
(OpenAI and Groq Chat Completions, Anthropic Messages, Gemini ``generateContent`` / ``streamGenerateContent``)
spends one request and its tokens from the budget of its provider and key (by a fingerprint of the key), and
every answer carries the provider's own rate-limit headers with the real figures; a request the budget cannot
cover is answered 429 in the provider's shape, before anything else happens.

The budget: two token buckets per (provider, key), one for requests and one for tokens. Each holds at most its
limit (a full bucket is the burst: a whole window's allowance may go at once) and refills continuously at
``limit / window`` per second (``--llm-window``, default 60: per minute; tests use a few seconds), so after a
burst requests are admitted at the steady rate. A request is admitted when the requests bucket holds one
request and the tokens bucket holds its tokens, and then takes both. Its tokens are what the sandbox reports as
its usage: the prompt's tokens plus the answer's (words, see :mod:`._turn`), known before answering because the
answers are deterministic. A request larger than the whole token budget is never admitted.

Headers, as each provider sends them:

- OpenAI, Groq: ``x-ratelimit-limit-requests``, ``-remaining-requests``, ``-reset-requests`` (the time until the
  bucket is full again, as a Go duration: ``20ms``, ``1.5s``, ``6m0s``), the same for ``tokens``; a 429's body
  is ``rate_limit_exceeded`` of type ``requests`` or ``tokens`` naming the limit, used and requested counts;
  Groq's 429 also has ``retry-after`` (whole seconds, rounded up).
- Anthropic: ``anthropic-ratelimit-requests-limit``, ``-remaining``, ``-reset`` (RFC 3339, when full again), the
  same for ``tokens``, ``input-tokens`` and ``output-tokens`` (one shared token budget); a 429 is a
  ``rate_limit_error`` with ``retry-after`` (whole seconds, rounded up).
- Gemini: no rate-limit headers; a 429 is ``RESOURCE_EXHAUSTED`` with a ``QuotaFailure`` and a
  ``google.rpc.RetryInfo`` whose ``retryDelay`` is the wait (``"0.250s"``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._behaviour import behaviour_of
from ._turn import answer, usage_of
from ._wire import RequestBodyError, bad_key, bearer, go_duration, read_json

__all__ = ["Budgets", "Verdict", "limit_routes"]

Endpoint = Callable[[Request], Awaitable[Response]]

#: Chat paths and their provider (Gemini's are matched by prefix and method suffix).
_CHAT_PATHS = {
    "/v1/chat/completions": "openai",
    "/openai/v1/chat/completions": "groq",
    "/v1/messages": "anthropic",
    "/anthropic/v1/messages": "anthropic",
}
_GEMINI_PREFIXES = ("/v1beta/models/", "/v1/models/")
_GEMINI_METHODS = (":generateContent", ":streamGenerateContent")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The budget's answer to one request: admitted or not, and the figures the headers show."""

    admitted: bool
    exhausted: str  # "requests", "tokens" or "" (admitted)
    requests: tuple[int, int, float]  # limit, remaining, seconds until full
    tokens: tuple[int, int, float]
    retry_after: float  # seconds until the request could be admitted (0 when admitted)
    used: int  # of the exhausted dimension
    requested: int


class _Bucket:
    def __init__(self, limit: int, window: float, now: float) -> None:
        self.limit = limit
        self.rate = limit / window
        self.level = float(limit)
        self.updated = now

    def refill(self, now: float) -> None:
        self.level = min(float(self.limit), self.level + (now - self.updated) * self.rate)
        self.updated = now

    def figures(self) -> tuple[int, int, float]:
        return self.limit, max(0, math.floor(self.level)), (self.limit - self.level) / self.rate

    def wait_for(self, amount: float) -> float:
        return max(0.0, (amount - self.level) / self.rate) if amount <= self.limit else float("inf")


class Budgets:
    """The buckets of every (provider, key). Thread-safe; the clock is injectable."""

    def __init__(
        self, rpm: int | None, tpm: int | None, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def _bucket(self, provider: str, key: str, dim: str, limit: int, now: float) -> _Bucket:
        bucket = self._buckets.get((provider, key, dim))
        if bucket is None:
            if len(self._buckets) >= 100_000:
                self._buckets.clear()
            bucket = self._buckets[(provider, key, dim)] = _Bucket(limit, self.window, now)
        bucket.refill(now)
        return bucket

    def take(self, provider: str, key: str, tokens: int) -> Verdict:
        """Admit one request of ``tokens`` tokens from ``key``'s budget at ``provider`` (or say why not)."""
        fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
        with self._lock:
            now = self._clock()
            req = self._bucket(provider, fingerprint, "r", self.rpm, now) if self.rpm else None
            tok = self._bucket(provider, fingerprint, "t", self.tpm, now) if self.tpm else None
            wait_r = req.wait_for(1) if req is not None else 0.0
            wait_t = tok.wait_for(tokens) if tok is not None else 0.0
            admitted = wait_r == 0 and wait_t == 0
            if admitted:
                if req is not None:
                    req.level -= 1
                if tok is not None:
                    tok.level -= tokens
            exhausted = "" if admitted else ("requests" if wait_r >= wait_t else "tokens")
            shown = req if exhausted == "requests" else tok
            used = 0 if shown is None else shown.limit - max(0, math.floor(shown.level))
            return Verdict(
                admitted=admitted,
                exhausted=exhausted,
                requests=req.figures() if req is not None else (0, 0, 0.0),
                tokens=tok.figures() if tok is not None else (0, 0, 0.0),
                retry_after=0.0 if admitted else max(wait_r, wait_t),
                used=used,
                requested=1 if exhausted == "requests" else tokens,
            )


# --- what a request is -------------------------------------------------------------------------------------


def _provider_of(path: str) -> str | None:
    provider = _CHAT_PATHS.get(path)
    if provider is None and path.startswith(_GEMINI_PREFIXES) and path.endswith(_GEMINI_METHODS):
        provider = "gemini"
    return provider


def _key_of(provider: str, request: Request) -> str | None:
    if provider == "anthropic":
        return request.headers.get("x-api-key") or bearer(request)
    if provider == "gemini":
        return request.headers.get("x-goog-api-key") or request.query_params.get("key")
    return bearer(request)


def _model_and_tokens(provider: str, request: Request, body: dict[str, Any]) -> tuple[str, int]:
    """The model and the tokens the sandbox will report for this request (0 when it cannot be read)."""
    try:
        if provider == "gemini":
            from ._gemini_request import field, parse_turn

            model = str(request.url.path).rsplit("/", 1)[-1].rsplit(":", 1)[0]
            turn = parse_turn({**body, "contents": field(body, "contents", "contents")})
        elif provider == "anthropic":
            from ._anthropic_request import parse_turn as anthropic_turn

            model, turn = str(body.get("model", "")), anthropic_turn(body)
        else:
            from ._openai_request import parse_turn as openai_turn

            model, turn = str(body.get("model", "")), openai_turn(body)
        behaviour = behaviour_of(model)
        usage = usage_of(turn, behaviour, answer(turn, behaviour))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return str(body.get("model", "")), 0
    return model, usage.prompt + usage.output


# --- headers and 429s, per provider ------------------------------------------------------------------------


def _whole_seconds(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def _rfc3339(seconds_from_now: float) -> str:
    """The moment ``seconds_from_now`` ahead, RFC 3339 in whole seconds (rounded up: never too early)."""
    when = dt.datetime.fromtimestamp(math.ceil(time.time() + seconds_from_now), dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _headers(provider: str, verdict: Verdict, budgets: Budgets) -> dict[str, str]:
    headers: dict[str, str] = {}
    dims = [("requests", verdict.requests, budgets.rpm), ("tokens", verdict.tokens, budgets.tpm)]
    if provider in ("openai", "groq"):
        for name, (limit, remaining, reset), configured in dims:
            if configured:
                headers[f"x-ratelimit-limit-{name}"] = str(limit)
                headers[f"x-ratelimit-remaining-{name}"] = str(remaining)
                headers[f"x-ratelimit-reset-{name}"] = go_duration(reset)
    elif provider == "anthropic":
        for name, (limit, remaining, reset), configured in dims:
            if not configured:
                continue
            for kind in (name,) if name == "requests" else ("tokens", "input-tokens", "output-tokens"):
                headers[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
                headers[f"anthropic-ratelimit-{kind}-remaining"] = str(remaining)
                headers[f"anthropic-ratelimit-{kind}-reset"] = _rfc3339(reset)
    return headers


def _rejection(provider: str, model: str, verdict: Verdict, budgets: Budgets) -> Response:
    """The provider's 429 for a request the budget cannot cover."""
    wait = verdict.retry_after if math.isfinite(verdict.retry_after) else budgets.window
    dim = verdict.exhausted
    limit = budgets.rpm if dim == "requests" else budgets.tpm
    per = "min" if budgets.window == 60 else f"{budgets.window:g}s"
    headers = _headers(provider, verdict, budgets)
    if provider in ("openai", "groq"):
        from ._openai import error_response as openai_error

        short = "RPM" if dim == "requests" else "TPM"
        message = (
            f"Rate limit reached for {model} in organization org-sandbox on {dim} per {per} ({short}): "
            f"Limit {limit}, Used {verdict.used}, Requested {verdict.requested}. Please try again in "
            f"{go_duration(wait)}. (emulated by the Atriumn sandbox)"
        )
        if provider == "groq":
            headers["retry-after"] = _whole_seconds(wait)
        return openai_error(429, message, type_=dim, code="rate_limit_exceeded", headers=headers)
    if provider == "anthropic":
        from ._anthropic import error_response as anthropic_error

        message = (
            f"This request would exceed the rate limit for your organization of {limit} {dim} per {per}. "
            "(emulated by the Atriumn sandbox)"
        )
        headers["retry-after"] = _whole_seconds(wait)
        return anthropic_error(429, message, headers=headers)
    from ._gemini import error_response as gemini_error

    quota = (
        "GenerateRequestsPerMinutePerProjectPerModel"
        if dim == "requests"
        else "GenerateContentInputTokensPerModelPerMinute"
    )
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": f"generativelanguage.googleapis.com/generate_content_{dim}",
                    "quotaId": quota,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": str(limit),
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{wait:.3f}s"},
    ]
    message = (
        "You exceeded your current quota, please check your plan and billing details. "
        f"Please retry in {wait:.3f}s. (emulated by the Atriumn sandbox)"
    )
    return gemini_error(429, message, details)


# --- the wrapper ------------------------------------------------------------------------------------------


def _limited(endpoint: Endpoint, budgets: Budgets) -> Endpoint:
    async def limited(request: Request) -> Response:
        provider = _provider_of(request.url.path)
        key = _key_of(provider, request) if provider is not None else None
        if provider is None or not key or bad_key(key):
            return await endpoint(request)  # not a chat request, or refused anyway: the endpoint answers
        try:
            body = await read_json(request)
        except RequestBodyError:
            return await endpoint(request)
        model, tokens = _model_and_tokens(provider, request, body)
        verdict = budgets.take(provider, key, tokens)
        if not verdict.admitted:
            return _rejection(provider, model, verdict, budgets)
        response = await endpoint(request)
        for name, value in _headers(provider, verdict, budgets).items():
            response.headers[name] = value
        return response

    return limited


def limit_routes(routes: list[BaseRoute], config: Any) -> list[BaseRoute]:
    """``routes`` with the chat endpoints under the budget of ``config`` (``llm_rpm``, ``llm_tpm``,
    ``llm_window``); unchanged when neither limit is set."""
    rpm, tpm = getattr(config, "llm_rpm", None), getattr(config, "llm_tpm", None)
    if not rpm and not tpm:
        return routes
    budgets = Budgets(rpm, tpm, float(getattr(config, "llm_window", 60.0)))
    out: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            chat = route.path in _CHAT_PATHS or route.path.startswith(_GEMINI_PREFIXES)
            if chat:
                route = Route(route.path, _limited(route.endpoint, budgets), methods=sorted(route.methods or ()))
        out.append(route)
    return out
