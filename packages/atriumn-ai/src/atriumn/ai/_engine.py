"""The sans-IO configuration of the chat clients: providers, model resolution, budgets, request plans.

:class:`Engine` resolves ``provider:model`` names, provider settings (arguments, then environment, then
defaults) and adapters (imported on first use), and validates a call into one :class:`ChatRequest` per
model of its fallback chain. One attempt's bookkeeping is :class:`~atriumn.ai._call.Call`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.core import (
    APIError,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConfigurationError,
    TransportError,
    ValidationError,
)

from . import _capabilities as capabilities
from ._capabilities import check_parameters
from ._errors import BudgetExceededError
from ._parts import Reasoning
from ._pricing import PriceTable, resolve_prices
from ._request import ChatRequest, normalize_messages, normalize_response_format, normalize_system, normalize_tools

if TYPE_CHECKING:
    from ._cache import ResponseCache
    from .providers._base import Adapter

__all__ = ["PROVIDERS", "Budget", "Engine", "ProviderSpec", "is_fallback_error", "openai_compatible", "otel_provider"]


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """How to reach one provider.

    Attributes:
        name: the prefix in ``name:model``.
        kind: the wire format: ``openai``, ``anthropic``, ``gemini``, ``groq`` or ``openai_compatible``.
        base_url: the API root (``https://api.openai.com/v1``; Anthropic, Gemini and Groq without version).
        api_key: the key (None: from the environment, or none for open compatible servers).
        headers: extra headers on every request.
    """

    name: str
    kind: str
    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict)


def openai_compatible(
    base_url: str,
    *,
    name: str = "openai_compatible",
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderSpec:
    """A provider speaking OpenAI's Chat Completions at ``base_url`` (vLLM, Ollama, LM Studio, ...).

    Pass it to a client (``ChatClient(providers=[openai_compatible("http://localhost:11434/v1", name="ollama")])``)
    and name models ``ollama:llama3.2``.
    """
    if not base_url or "://" not in base_url:
        raise ValidationError(f"base_url: expected an absolute URL, got {base_url!r}")
    return ProviderSpec(name=name, kind="openai_compatible", base_url=base_url, api_key=api_key, headers=headers or {})


# kind -> (key variables, base URL variables, default base URL, path suffix added to the base URL)
PROVIDERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None, str]] = {
    "openai": (("OPENAI_API_KEY",), ("OPENAI_BASE_URL",), "https://api.openai.com/v1", ""),
    "anthropic": (("ANTHROPIC_API_KEY",), ("ANTHROPIC_BASE_URL",), "https://api.anthropic.com", ""),
    "gemini": (
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        ("GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"),
        "https://generativelanguage.googleapis.com",
        "",
    ),
    "groq": (("GROQ_API_KEY",), ("GROQ_BASE_URL",), "https://api.groq.com", "/openai/v1"),
    "openai_compatible": (("OPENAI_COMPATIBLE_API_KEY",), ("OPENAI_COMPATIBLE_BASE_URL",), None, ""),
}

#: OpenTelemetry ``gen_ai.provider.name`` values.
_OTEL_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini", "groq": "groq"}


class Budget:
    """A spending limit in USD shared by calls; a call whose worst-case cost exceeds what is left raises
    :class:`BudgetExceededError` before sending. Thread-safe.

    Args:
        limit: the amount available.
    """

    def __init__(self, limit: float) -> None:
        if limit < 0:
            raise ValidationError("limit: must be >= 0")
        self.limit = float(limit)
        self._spent = 0.0
        self._lock = threading.Lock()

    @property
    def spent(self) -> float:
        """What calls have cost so far."""
        return self._spent

    @property
    def remaining(self) -> float:
        """What is left."""
        return max(0.0, self.limit - self._spent)

    def check(self, estimate: float, model: str) -> None:
        """Raise when ``estimate`` exceeds what is left."""
        with self._lock:
            left = self.limit - self._spent
        if estimate > left:
            raise BudgetExceededError(estimate, max(0.0, left), model)

    def spend(self, amount: float) -> None:
        """Record a call's cost."""
        with self._lock:
            self._spent += amount

    def __repr__(self) -> str:
        return f"Budget(limit={self.limit}, spent={self._spent:.6f})"


def is_fallback_error(exc: BaseException) -> bool:
    """Errors worth trying the next model for: retryable statuses (408, 429, 5xx, 529), transport failures
    and an open circuit. Not 4xx errors about the request itself (they would fail on every model)."""
    if isinstance(exc, (CircuitOpenError, TransportError)):
        return True
    if isinstance(exc, APIError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


class Engine:
    """Configuration shared by the sync and async chat clients."""

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        providers: Sequence[ProviderSpec] = (),
        default_model: str | None = None,
        prices: PriceTable | Mapping[str, Mapping[str, float]] | None = None,
        cache: ResponseCache | None = None,
        budget: Budget | float | None = None,
        circuit_breaker: CircuitBreakerPolicy | None = None,
        record_content: bool = False,
        replay_unsafe: bool = True,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from atriumn.core._breaker import BreakerRegistry

        if not isinstance(replay_unsafe, bool):
            raise ValidationError(f"replay_unsafe: expected True or False, got {replay_unsafe!r}")
        self.replay_unsafe = replay_unsafe

        self._otel = (tracer_provider, meter_provider)
        self.environ = os.environ if environ is None else environ
        self.api_keys = dict(api_keys or {})
        self.base_urls = dict(base_urls or {})
        self.specs: dict[str, ProviderSpec] = {s.name: s for s in providers}
        self.default_model = default_model or self.environ.get("ATRIUMN_AI_MODEL") or None
        self.default_provider = self.environ.get("LLM_PROVIDER") or None
        self._prices_arg = prices
        self._prices: PriceTable | None = None
        self.cache = cache
        self.budget = Budget(budget) if isinstance(budget, (int, float)) else budget
        self.breakers = BreakerRegistry(circuit_breaker or CircuitBreakerPolicy())
        self.record_content = record_content
        self._adapters: dict[str, Adapter] = {}
        self._lock = threading.Lock()
        self._telemetry: Any = None
        self.shared_state: Any = None
        self._plans: dict[Any, list[tuple[ChatRequest, Adapter]]] = {}

    def use_shared_state(self, state: Any) -> None:
        """Share rate limits and the per-model breakers through ``state`` (a ``RedisState``, or None)."""
        self.shared_state = state
        for adapter in list(self._adapters.values()):
            self._share(adapter)

    def _share(self, adapter: Adapter) -> None:
        adapter.shared = self.shared_state is not None
        adapter.shared_breaker = self.breakers.policy

    def settle(self, req: ChatRequest, adapter: Adapter, usage: Any) -> None:
        """Tell the shared rate limiter what a call really used (nothing without a shared state)."""
        if self.shared_state is not None and adapter.shared:
            from ._shared import settle

            settle(self.shared_state, adapter, req, usage)

    # --- configuration --------------------------------------------------------------------------------

    @property
    def prices(self) -> PriceTable:
        """The price table (loaded on first use)."""
        if self._prices is None:
            self._prices = resolve_prices(self._prices_arg)
        return self._prices

    def provider_names(self) -> set[str]:
        """Every provider name a model may start with."""
        return set(PROVIDERS) | set(self.specs)

    def split(self, model: str | None) -> tuple[str, str]:
        """``(provider, model)`` from ``provider:model`` (a bare name uses ``LLM_PROVIDER``)."""
        name = model or self.default_model
        if not name:
            raise ConfigurationError("model: none given and ATRIUMN_AI_MODEL is not set")
        provider, sep, rest = name.partition(":")
        if sep and rest and (provider in PROVIDERS or provider in self.specs):
            return provider, rest
        if self.default_provider:
            if self.default_provider not in self.provider_names():
                raise ConfigurationError(f"LLM_PROVIDER: unknown provider {self.default_provider!r}")
            return self.default_provider, name
        raise ValidationError(
            f"model: {name!r} does not name a provider; use 'provider:model' with one of "
            f"{', '.join(sorted(self.provider_names()))} (or set LLM_PROVIDER)"
        )

    def kind_of(self, provider: str) -> str:
        """The wire format of a provider name."""
        spec = self.specs.get(provider)
        return spec.kind if spec is not None else provider

    def adapter(self, provider: str) -> Adapter:
        """The adapter of ``provider`` (its module imported on first use)."""
        adapter = self._adapters.get(provider)
        if adapter is not None:
            return adapter
        with self._lock:
            adapter = self._adapters.get(provider)
            if adapter is None:
                adapter = self._adapters[provider] = self._make_adapter(provider)
                self._share(adapter)
        return adapter

    def _make_adapter(self, provider: str) -> Adapter:
        from .providers._base import ProviderConfig

        spec = self.specs.get(provider) or ProviderSpec(name=provider, kind=provider)
        key_vars, url_vars, default_url, suffix = PROVIDERS[spec.kind]
        base = spec.base_url or self.base_urls.get(provider)
        if not base:
            base = next((self.environ[v] for v in url_vars if self.environ.get(v)), None)
        if base:
            base = base.rstrip("/")
            if suffix and not base.endswith(suffix):
                base += suffix
        elif default_url:
            base = default_url + suffix
        else:
            raise ConfigurationError(f"{provider}: no base URL (pass base_url or set {url_vars[0]})")
        key = spec.api_key or self.api_keys.get(provider)
        if not key:
            key = next((self.environ[v] for v in key_vars if self.environ.get(v)), None)
        if not key and spec.kind != "openai_compatible":
            raise ConfigurationError(
                f"{provider}: no API key (pass api_keys={{{provider!r}: ...}} or set {' or '.join(key_vars)})"
            )
        config = ProviderConfig(provider, base, key, spec.headers)
        if spec.kind == "anthropic":
            from .providers.anthropic import AnthropicAdapter

            return AnthropicAdapter(config)
        if spec.kind == "gemini":
            from .providers.gemini import GeminiAdapter

            return GeminiAdapter(config)
        from .providers.openai import OpenAIAdapter

        return OpenAIAdapter(config)

    # --- requests -------------------------------------------------------------------------------------

    def plan(
        self,
        model: str | None,
        models: Sequence[str] | None,
        messages: Any,
        params: Mapping[str, Any],
        replay_unsafe: bool | None = None,
        request_options: Mapping[str, Any] | None = None,
    ) -> list[tuple[ChatRequest, Adapter]]:
        """One validated request per model of the chain (validation raises before any request).

        ``replay_unsafe`` overrides the client's setting for this call (see :class:`ChatClient`). What does not
        depend on the messages (the models, the parameters and their checks) is planned once per model and
        parameter values, when those are plain values (strings, numbers, booleans, None), and reused."""
        if models is not None:
            if model is not None:
                raise ValidationError("model, models: give one or the other")
            models = tuple(models)  # read once (an iterator too), for the key and the plan alike
        replay = self.replay_unsafe if replay_unsafe is None else replay_unsafe
        key = None
        if not request_options:  # the capability rules' generation too: a rule registered since applies
            key = _plan_key(model, models, params, (replay, self.record_content, capabilities.generation()))
        templates = self._plans.get(key) if key is not None else None
        if templates is None:
            templates = self._templates(model, models, params, replay, request_options)
            if key is not None:
                if len(self._plans) >= _PLAN_CACHE_SIZE:  # many distinct values (a temperature sweep): start over
                    self._plans.clear()
                self._plans[key] = templates
        if messages is None:
            raise ValidationError("messages: required")
        normalized = normalize_messages(messages)
        plan: list[tuple[ChatRequest, Adapter]] = []
        for template, adapter in templates:
            req = template.with_messages(normalized)
            adapter.check(req)
            plan.append((req, adapter))
        return plan

    def _templates(
        self,
        model: str | None,
        models: Sequence[str] | None,
        params: Mapping[str, Any],
        replay_unsafe: bool,
        request_options: Mapping[str, Any] | None,
    ) -> list[tuple[ChatRequest, Adapter]]:
        """One checked request without messages per model of the chain (``model`` and ``models`` not both)."""
        names: list[str | None] = list(models) if models is not None else [model]
        if not names:
            raise ValidationError("models: must not be empty")
        fields = request_fields(params)
        fields["record_content"] = self.record_content
        fields["replay_unsafe"] = replay_unsafe
        fields["request_options"] = {k: v for k, v in (request_options or {}).items() if v is not None} or None
        templates: list[tuple[ChatRequest, Adapter]] = []
        for name in names:
            provider, model_name = self.split(name)
            req = ChatRequest(provider=provider, model=model_name, messages=(), **fields)
            req.full_model  # noqa: B018 - computed once here, carried by every request made from the template
            check_parameters(self.kind_of(provider), model_name, req.sampling())
            _check_cache_model(params.get("cached_content"), req)
            templates.append((req, self.adapter(provider)))
        return templates

    def telemetry(self) -> Any:
        """The GenAI instruments (created on first use)."""
        if self._telemetry is None:
            from ._telemetry import GenAITelemetry

            self._telemetry = GenAITelemetry(*self._otel)
        return self._telemetry


def otel_provider(provider: str) -> str:
    """The ``gen_ai.provider.name`` of a provider."""
    return _OTEL_PROVIDER.get(provider, provider)


def _number(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValidationError(f"{name}: expected a number, got {value!r}")
    return value


def request_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """The model-independent fields of a :class:`ChatRequest`, each checked (the error names the parameter)."""
    tools, tool_cache_points = normalize_tools(params.get("tools"))
    response_format = normalize_response_format(params.get("response_format"))
    system, system_parts = normalize_system(params.get("system"))
    tool_choice = params.get("tool_choice")
    if tool_choice is not None:
        if not isinstance(tool_choice, str):
            raise ValidationError("tool_choice: expected 'auto', 'none', 'required' or a tool name")
        if tool_choice not in ("auto", "none", "required") and tool_choice not in {t.name for t in tools}:
            raise ValidationError(f"tool_choice: {tool_choice!r} is not one of the tools")
    max_tokens = params.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValidationError(f"max_tokens: expected a positive integer, got {max_tokens!r}")
    reasoning = params.get("reasoning")
    if isinstance(reasoning, str):
        reasoning = Reasoning(effort=reasoning)
    if reasoning is not None and not isinstance(reasoning, Reasoning):
        raise ValidationError(f"reasoning: expected a Reasoning (or an effort name), got {type(reasoning).__name__}")
    cached = params.get("cached_content")
    cached_name = getattr(cached, "name", cached)
    if cached_name is not None and (not isinstance(cached_name, str) or not cached_name):
        raise ValidationError("cached_content: expected a CachedContent or its name ('cachedContents/...')")
    key = params.get("prompt_cache_key")
    if key is not None and (not isinstance(key, str) or not key):
        raise ValidationError("prompt_cache_key: expected a non-empty string")
    options = params.get("prompt_cache_options")
    if options is not None and not isinstance(options, Mapping):
        raise ValidationError("prompt_cache_options: expected a dict ({'mode': ..., 'ttl': ...})")
    stop = params.get("stop")
    return {
        "system": system,
        "system_parts": system_parts,
        "temperature": _number(params, "temperature"),
        "max_tokens": max_tokens,
        "top_p": _number(params, "top_p"),
        "top_k": params.get("top_k"),
        "stop": (stop,) if isinstance(stop, str) else tuple(stop) if stop else None,
        "seed": params.get("seed"),
        "tools": tools,
        "tool_cache_points": tool_cache_points,
        "tool_choice": tool_choice,
        "response_schema": response_format.schema,
        "response_name": response_format.name,
        "response_type": response_format.type,
        "response_strict": response_format.strict,
        "response_description": response_format.description,
        "response_json": response_format.json_mode,
        "reasoning": reasoning,
        "cached_content": cached_name,
        "prompt_cache_key": key,
        "prompt_cache_options": options,
        "extra_body": params.get("extra_body"),
    }


_PLAN_CACHE_SIZE = 256
_PLAIN_VALUES = (str, int, float, bool, type(None))


def _plan_key(
    model: str | None, models: Sequence[str] | None, params: Mapping[str, Any], options: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """The plan cache's key of a call whose parameters are plain values (None for any other call). Each value's
    type is part of the key: 1, 1.0 and True are equal keys but not equal request bodies."""
    values = []
    for name, value in params.items():
        kind = type(value)
        if kind not in _PLAIN_VALUES:
            return None
        values.append((name, kind, value))
    if models is not None:
        if not all(type(m) is str for m in models):
            return None
        return (None, tuple(models), options, *values)
    if model is not None and type(model) is not str:
        return None
    return (model, None, options, *values)


def _check_cache_model(cache: Any, req: ChatRequest) -> None:
    """A Gemini cache serves only the model it was made for (known when the :class:`CachedContent` is given)."""
    made_for = getattr(cache, "model", None)
    if isinstance(made_for, str) and made_for and made_for.split(":", 1)[-1] != req.model:
        raise ValidationError(
            f"cached_content: {cache.name} was made for {made_for}, not {req.full_model} (a cache serves one model)"
        )
