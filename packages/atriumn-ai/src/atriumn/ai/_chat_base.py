"""What the sync and async chat clients share: their options, the fallback chain, embedding plans, health.

The clients themselves (:mod:`._chat_sync`, :mod:`._chat_async`) are I/O drivers only: they send the
operations an adapter builds through a core transport, read bodies, feed stream chunks, and yield events.
Every decision (model resolution, validation, caching, budget, breaker, fallback, parsing, telemetry) is in
:mod:`._engine` and the adapters, written once for both.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from atriumn.core import AtriumnError, CircuitBreakerPolicy, DecodeError, RawResponses, ValidationError, apply_options

from ._call import SHAPE_ERRORS, Call, unreadable
from ._engine import Budget, Engine, ProviderSpec, is_fallback_error
from ._errors import StreamInterruptedError
from ._params import check_params
from ._pricing import PriceTable
from ._request import ChatRequest, normalize_messages, normalize_tools
from ._tools import Conversation, LoopOptions
from ._types import Attempt, ChatResponse, Embeddings, Usage
from .providers._read import load_json

__all__ = ["BaseChatClient", "Chain", "EmbedPlan", "HealthStatus"]

_C = TypeVar("_C", bound="BaseChatClient")
_LOOP_KEYS = frozenset({"run_tools", "max_steps", "max_parse_retries"})
_CALL_OPTIONS = frozenset({"cache", "replay_unsafe", "extra_headers", "extra_query", "timeout"})


@attrs.frozen(kw_only=True)
class HealthStatus:
    """The result of :meth:`ChatClient.check`: whether the model answered, how fast, or the error."""

    model: str
    ok: bool
    latency: float
    error: BaseException | None = attrs.field(default=None, eq=False)


class Chain:
    """A fallback chain over the planned models (sans-IO): which call is next, what an error means."""

    def __init__(self, engine: Engine, plan: list[tuple[ChatRequest, Any]], *, stream: bool, use_cache: bool) -> None:
        self.engine = engine
        self.plan = plan
        self.stream = stream
        self.use_cache = use_cache
        self.attempts: list[Attempt] = []

    def __iter__(self) -> Iterator[Call]:
        for req, adapter in self.plan:
            yield Call(self.engine, req, adapter, stream=self.stream, use_cache=self.use_cache)

    def failed(self, call: Call, error: BaseException, cause: BaseException) -> None:
        """Record the failure; raise unless the next model should be tried."""
        if error is not cause and error.__cause__ is None:
            error.__cause__ = cause
        if not isinstance(error, Exception):
            raise error
        self.attempts.append(Attempt(model=call.req.full_model, error=error, partial_text=call.partial_text))
        if call.delivered:
            error.partial_text = call.partial_text  # type: ignore[attr-defined]
        if call.delivered and len(self.plan) > 1:
            raise StreamInterruptedError(
                f"{call.req.full_model} failed after streaming {len(call.partial_text)} characters: {error}",
                partial_text=call.partial_text,
                model=call.req.full_model,
                attempts=self.attempts,
            ) from error
        last = len(self.attempts) == len(self.plan)
        if last or not is_fallback_error(error):
            if len(self.plan) > 1:
                error.attempts = tuple(self.attempts)  # type: ignore[attr-defined]
            raise error

    def succeeded(self, call: Call, response: ChatResponse) -> ChatResponse:
        """The response, carrying every attempt when there was more than one."""
        if not self.attempts:
            return response
        done = Attempt(model=call.req.full_model, usage=response.usage, cost=response.cost)
        return attrs.evolve(response, attempts=(*self.attempts, done))


class BaseChatClient:
    """Options and helpers shared by :class:`ChatClient` and :class:`AsyncChatClient`."""

    _base: Any  # the client's core transport (sync or async: set by the subclass)
    _transports: dict[str, Any]  # one per provider, derived from it

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        providers: Sequence[ProviderSpec] = (),
        default_model: str | None = None,
        prices: PriceTable | Mapping[str, Mapping[str, float]] | None = None,
        cache: Any = None,
        budget: Budget | float | None = None,
        circuit_breaker: CircuitBreakerPolicy | None = None,
        record_content: bool = False,
        replay_unsafe: bool = True,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._engine = Engine(
            replay_unsafe=replay_unsafe,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            api_keys=api_keys,
            base_urls=base_urls,
            providers=providers,
            default_model=default_model,
            prices=prices,
            cache=cache,
            budget=budget,
            circuit_breaker=circuit_breaker,
            record_content=record_content,
            environ=environ,
        )

    @property
    def budget(self) -> Budget | None:
        """The client's :class:`Budget`, if any."""
        return self._engine.budget

    @property
    def cache(self) -> Any:
        """The client's response cache, if any."""
        return self._engine.cache

    def _chain(
        self,
        model: str | None,
        models: Sequence[str] | None,
        messages: Any,
        params: Mapping[str, Any],
        method: str,
        *,
        stream: bool,
    ) -> Chain:
        """The validated fallback chain of one call (every check raises before any request)."""
        check_params(params, method)
        if _CALL_OPTIONS.isdisjoint(params):  # the common call: request parameters only
            return Chain(
                self._engine, self._engine.plan(model, models, messages, params), stream=stream, use_cache=True
            )
        options = dict(params)
        use_cache = bool(options.pop("cache", True))
        replay_unsafe = options.pop("replay_unsafe", None)
        per_call: dict[str, Any] = {
            k: options.pop(k) for k in ("extra_headers", "extra_query", "timeout") if k in options
        }
        plan = self._engine.plan(model, models, messages, options, replay_unsafe, per_call)
        return Chain(self._engine, plan, stream=stream, use_cache=use_cache)

    def _conversation(
        self, messages: Any, params: Mapping[str, Any], method: str, *, allow_async: bool
    ) -> tuple[Conversation | None, dict[str, Any]]:
        """For a call with ``run_tools`` or ``max_parse_retries``: its :class:`Conversation` (checked before any
        request) and the parameters of each request; else None and the parameters as given."""
        if _LOOP_KEYS.isdisjoint(params):  # the common call: one request, checked by _chain
            return None, dict(params)
        check_params(params, method)
        rest = dict(params)
        options = LoopOptions.pop(rest)
        if not options.active:
            return None, rest
        tools, _ = normalize_tools(rest.get("tools"))
        return Conversation(normalize_messages(messages), tools, options, allow_async=allow_async), rest

    @property
    def with_raw_response(self) -> RawResponses:
        """``chat`` and ``embed`` returning a :class:`~atriumn.core.RawResponse` (status, headers, request id,
        elapsed, raw body; ``.parse()`` gives the usual result); for a fallback chain, the answering request's."""
        return RawResponses(self)

    def _transport(self, adapter: Any) -> Any:
        """The provider's transport: derived once from the base one (its pool, breakers, budget, stats)."""
        name = adapter.config.name
        transport = self._transports.get(name)
        if transport is None:
            transport = self._transports[name] = self._derive(self._base, adapter)
        return transport

    def _with_options(self: _C, options: Mapping[str, Any]) -> _C:
        """A copy sharing the engine's state (breakers, cache, budget, adapters) and the base transport's pool."""
        from atriumn.core._clients import _transport_changes

        options = dict(options)
        if "base_url" in options:
            raise TypeError("with_options(): a chat client has a base URL per provider (pass base_urls= to it)")
        replay = options.pop("replay_unsafe", None)
        clone = copy.copy(self)
        clone._base = self._base.with_options(**_transport_changes(self._base, options))
        clone._transports = {}
        clone._own_transport = False  # type: ignore[attr-defined]
        if replay is not None:
            clone._engine = copy.copy(self._engine)
            if not isinstance(replay, bool):
                raise ValidationError(f"replay_unsafe: expected True or False, got {replay!r}")
            clone._engine.replay_unsafe = replay
        return clone

    def _derive(self, base: Any, adapter: Any) -> Any:
        from atriumn.core import ApiKey

        key = adapter.config.api_key
        credentials = ApiKey(key, header_name=adapter.key_header, prefix=adapter.key_prefix) if key else None
        return base.with_options(
            base_url=adapter.config.base_url,
            credentials=credentials,
            headers={**base.extra_headers, **adapter.default_headers()},
        )

    def _embed_plan(
        self,
        model: str | None,
        texts: Sequence[str],
        batch_size: int | None,
        use_cache: bool,
        replay_unsafe: bool | None,
        options: Mapping[str, Any],
    ) -> EmbedPlan:
        if isinstance(texts, str):
            raise ValidationError("texts: expected a list of strings, got one string")
        items = list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str) or not t:
                raise ValidationError(f"texts[{i}]: expected a non-empty string")
        provider, name = self._engine.split(model)
        adapter = self._engine.adapter(provider)
        if not adapter.embed_batch_size:
            raise ValidationError(f"model: {provider} has no embeddings in this SDK (use openai or gemini)")
        if batch_size is not None and batch_size < 1:
            raise ValidationError("batch_size: must be >= 1")
        size = min(batch_size or adapter.embed_batch_size, adapter.embed_batch_size)
        replay = self._engine.replay_unsafe if replay_unsafe is None else replay_unsafe
        cache = self._engine.cache if use_cache else None
        return EmbedPlan(self._engine, adapter, name, items, size, cache, replay, options)


class EmbedPlan:
    """One embed call (sans-IO): cached vectors first, the rest in batches under the provider's limit."""

    def __init__(
        self,
        engine: Engine,
        adapter: Any,
        model: str,
        texts: list[str],
        size: int,
        cache: Any,
        replay_unsafe: bool,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.replay_unsafe = replay_unsafe
        self.options = dict(options or {})
        self.adapter = adapter
        self.model = model
        self.texts = texts
        self.cache = cache
        self.vectors: list[tuple[float, ...] | None] = [None] * len(texts)
        self.usage = Usage()
        self.keys: list[str] = []
        if cache is not None:
            import hashlib

            prefix = f"embed\0{adapter.config.name}\0{adapter.config.base_url}\0{model}\0"
            self.keys = [hashlib.sha256((prefix + t).encode()).hexdigest() for t in texts]
            self.vectors = [cache.get_vector(k) for k in self.keys]
        missing = [i for i, v in enumerate(self.vectors) if v is None]
        self.batches = [missing[i : i + size] for i in range(0, len(missing), size)]

    def operation(self, batch: list[int]) -> Any:
        op = self.adapter.embed_operation(self.model, [self.texts[i] for i in batch], replay_unsafe=self.replay_unsafe)
        return apply_options(op, self.options) if self.options else op

    def absorb(self, batch: list[int], content: bytes) -> None:
        doc = load_json(content, self.adapter.name)
        try:
            got, usage = self.adapter.parse_embed(doc, len(batch))
        except AtriumnError:
            raise
        except SHAPE_ERRORS as exc:
            raise unreadable(self.adapter.name, exc) from None
        if len(got) != len(batch):
            raise DecodeError(f"{self.adapter.name} returned {len(got)} embeddings for {len(batch)} texts")
        for i, vector in zip(batch, got, strict=True):
            self.vectors[i] = vector
            if self.cache is not None:
                self.cache.put_vector(self.keys[i], vector)
        self.usage = self.usage + usage

    def result(self) -> Embeddings:
        full = f"{self.adapter.config.name}:{self.model}"
        return Embeddings(
            vectors=tuple(v for v in self.vectors if v is not None),
            model=self.model,
            provider=self.adapter.config.name,
            usage=self.usage,
            cost=self.engine.prices.cost(full, self.usage),
        )
