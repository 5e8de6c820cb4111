"""Cost per call from a dated price table.

The table ships as ``prices.json`` in this package (prices in USD per million tokens, with the date they
were checked). It is read on first use, not at import. Override it per client (``prices=``), process-wide
with :func:`set_prices`, or from a JSON file named by ``ATRIUMN_AI_PRICES``. A model is matched exactly
(``openai:gpt-4o``), else by the longest price key that prefixes it (``openai:gpt-4o-2024-08-06``).

Batch prices: each provider's published batch discount (``batch_discounts``: 50 % for OpenAI, Anthropic,
Gemini and Groq) applies to every token price of its models, unless a model gives its own ``batch_input``,
``batch_output``, ``batch_cache_read`` or ``batch_cache_write``. ``cost(..., batch=True)`` uses them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from ._types import Cost, Usage

__all__ = ["PriceTable", "default_prices", "set_prices"]


class PriceTable:
    """Prices per million tokens by ``provider:model``: ``input``, ``output``, ``cache_read``, ``cache_write``.

    Args:
        models: ``{"openai:gpt-4o": {"input": 2.5, "output": 10.0, "cache_read": 1.25}, ...}`` (a model may add
            ``batch_input``, ``batch_output``, ``batch_cache_read``, ``batch_cache_write``).
        as_of: the date the prices were checked.
        batch_discounts: per provider, the fraction of the price a batch request costs (``{"openai": 0.5}``).
    """

    def __init__(
        self,
        models: Mapping[str, Mapping[str, float]],
        *,
        as_of: str = "",
        batch_discounts: Mapping[str, float] | None = None,
    ) -> None:
        self.models = {k: dict(v) for k, v in models.items()}
        self.as_of = as_of
        self.batch_discounts = dict(batch_discounts or {})
        self._by_length = sorted(self.models, key=len, reverse=True)
        self._found: dict[str, Mapping[str, float] | None] = {}  # prefix lookups already made (the table is fixed)

    @classmethod
    def from_json(cls, text: str) -> PriceTable:
        """Load a table in the format of the bundled ``prices.json``."""
        doc = json.loads(text)
        return cls(doc["models"], as_of=str(doc.get("as_of", "")), batch_discounts=doc.get("batch_discounts"))

    def with_overrides(self, models: Mapping[str, Mapping[str, float]], *, as_of: str | None = None) -> PriceTable:
        """A copy with some models' prices replaced or added."""
        merged = {**self.models, **{k: dict(v) for k, v in models.items()}}
        return PriceTable(merged, as_of=self.as_of if as_of is None else as_of, batch_discounts=self.batch_discounts)

    def batch_price(self, model: str) -> Mapping[str, float] | None:
        """The batch prices of ``provider:model``: its own ``batch_*`` prices, else its prices times the
        provider's batch discount (the full prices when the provider has none), or None when unpriced."""
        prices = self.price(model)
        if prices is None:
            return None
        factor = self.batch_discounts.get(model.partition(":")[0], 1.0)
        input_price = prices.get("input", 0.0)
        out: dict[str, float] = {}
        for name, fallback in (("input", 0.0), ("output", 0.0), ("cache_read", input_price),
                               ("cache_write", input_price)):  # fmt: skip
            own = prices.get(f"batch_{name}")
            out[name] = own if own is not None else prices.get(name, fallback) * factor
        return out

    def price(self, model: str) -> Mapping[str, float] | None:
        """The prices of ``provider:model`` (exact, else longest matching prefix), or None."""
        found = self.models.get(model)
        if found is not None:
            return found
        try:
            return self._found[model]
        except KeyError:
            pass
        for key in self._by_length:
            if model.startswith(key) and model[len(key) : len(key) + 1] in ("-", "@", ":", "."):
                found = self.models[key]
                break
        if len(self._found) >= 1024:  # model names are few; a caller inventing them gets a bounded memo
            self._found.clear()
        self._found[model] = found
        return found

    def cost(self, model: str, usage: Usage, *, batch: bool = False) -> Cost | None:
        """The :class:`Cost` of ``usage`` on ``model`` (``batch``: at its batch prices), or None when the model
        has no price."""
        prices = self.batch_price(model) if batch else self.price(model)
        if prices is None:
            return None
        per = 1_000_000.0
        input_price = prices.get("input", 0.0)
        cin = usage.uncached_input_tokens * input_price / per
        cread = usage.cache_read_tokens * prices.get("cache_read", input_price) / per
        cwrite = usage.cache_write_tokens * prices.get("cache_write", input_price) / per
        cout = usage.output_tokens * prices.get("output", 0.0) / per
        return Cost(
            input=cin,
            output=cout,
            cache_read=cread,
            cache_write=cwrite,
            total=cin + cout + cread + cwrite,
            prices_as_of=self.as_of,
        )

    def worst_case(self, model: str, input_tokens: int, max_output_tokens: int) -> float | None:
        """The highest cost a call could have (every input token uncached, every output token used)."""
        prices = self.price(model)
        if prices is None:
            return None
        per = 1_000_000.0
        return (input_tokens * prices.get("input", 0.0) + max_output_tokens * prices.get("output", 0.0)) / per


_default: PriceTable | None = None
_lock = threading.Lock()


def default_prices() -> PriceTable:
    """The process-wide table (bundled, or ``ATRIUMN_AI_PRICES``), loaded on first use."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                path = os.environ.get("ATRIUMN_AI_PRICES")
                if path:
                    from atriumn.core import ConfigurationError

                    try:
                        with open(path, encoding="utf-8") as fh:
                            _default = PriceTable.from_json(fh.read())
                    except (OSError, ValueError, KeyError) as exc:
                        raise ConfigurationError(f"ATRIUMN_AI_PRICES: cannot load {path!r}: {exc}") from exc
                else:
                    from importlib.resources import files

                    _default = PriceTable.from_json(files("atriumn.ai").joinpath("prices.json").read_text("utf-8"))
    return _default


def set_prices(table: PriceTable | Mapping[str, Mapping[str, float]] | None) -> None:
    """Replace the process-wide table (a mapping overrides entries of the bundled one; None resets)."""
    global _default
    with _lock:
        _default = None
    if table is None:
        return
    new = table if isinstance(table, PriceTable) else default_prices().with_overrides(table)
    with _lock:
        _default = new


def resolve_prices(prices: Any) -> PriceTable:
    """A client's ``prices=`` argument as a table."""
    if prices is None:
        return default_prices()
    if isinstance(prices, PriceTable):
        return prices
    return default_prices().with_overrides(prices)
