"""What a model call costs: public list prices per million tokens, and the cost of one call in micro-dollars.

A price per million tokens in dollars is, conveniently, the price of one token in micro-dollars; the
cost of a call is ``uncached_input * input + cached_input * cached + output * output``, rounded to a
whole micro-dollar. Prices change: operators override or add entries with :meth:`PriceTable.set`
(a self-hosted model, a negotiated rate). A model missing from the table costs 0 and logs one
warning, so the ledger still counts its tokens.

Prices are the vendors' standard (non-batch, short-context) list prices in US dollars as of 2025-11.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import structlog

from kernel.llm.providers.base import TokenUsage

__all__ = ["DEFAULT_PRICES", "Price", "PriceTable"]

log = structlog.get_logger("kernel.llm")


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens. ``cached_input`` ``None``: cached tokens cost the same as input."""

    input: Decimal
    output: Decimal = Decimal(0)
    cached_input: Decimal | None = None

    @classmethod
    def of(cls, input: str, output: str = "0", cached_input: str | None = None) -> Price:
        return cls(Decimal(input), Decimal(output), Decimal(cached_input) if cached_input is not None else None)

    def cost_micros(self, usage: TokenUsage) -> int:
        cached = min(usage.cached, usage.prompt)
        cached_price = self.input if self.cached_input is None else self.cached_input
        total = (usage.prompt - cached) * self.input + cached * cached_price + usage.completion * self.output
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


DEFAULT_PRICES: Mapping[str, Price] = {
    # OpenAI chat
    "gpt-4o": Price.of("2.50", "10.00", "1.25"),
    "gpt-4o-mini": Price.of("0.15", "0.60", "0.075"),
    "gpt-4.1": Price.of("2.00", "8.00", "0.50"),
    "gpt-4.1-mini": Price.of("0.40", "1.60", "0.10"),
    "gpt-4.1-nano": Price.of("0.10", "0.40", "0.025"),
    "gpt-5": Price.of("1.25", "10.00", "0.125"),
    "gpt-5-mini": Price.of("0.25", "2.00", "0.025"),
    "gpt-5-nano": Price.of("0.05", "0.40", "0.005"),
    "o3": Price.of("2.00", "8.00", "0.50"),
    "o4-mini": Price.of("1.10", "4.40", "0.275"),
    # OpenAI embeddings
    "text-embedding-3-small": Price.of("0.02"),
    "text-embedding-3-large": Price.of("0.13"),
    "text-embedding-ada-002": Price.of("0.10"),
    # Gemini chat
    "gemini-2.5-pro": Price.of("1.25", "10.00", "0.125"),
    "gemini-2.5-flash": Price.of("0.30", "2.50", "0.03"),
    "gemini-2.5-flash-lite": Price.of("0.10", "0.40", "0.01"),
    "gemini-2.0-flash": Price.of("0.10", "0.40", "0.025"),
    "gemini-2.0-flash-lite": Price.of("0.075", "0.30"),
    # Gemini embeddings
    "gemini-embedding-001": Price.of("0.15"),
    "text-embedding-004": Price.of("0"),
    # No model behind it
    "offline": Price.of("0"),
}


class PriceTable:
    """Prices by model name. ``gpt-4o-2024-08-06`` finds ``gpt-4o``: the longest known prefix wins."""

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices: dict[str, Price] = dict(DEFAULT_PRICES if prices is None else prices)
        self._warned: set[str] = set()

    def set(self, model: str, price: Price) -> None:
        self._prices[model] = price

    def lookup(self, model: str) -> Price | None:
        name = model.removeprefix("models/")
        if name in self._prices:
            return self._prices[name]
        prefixes = [known for known in self._prices if name.startswith(known + "-")]
        return self._prices[max(prefixes, key=len)] if prefixes else None

    def cost_micros(self, model: str, usage: TokenUsage) -> int:
        price = self.lookup(model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("llm_price_unknown", model=model, hint="cost recorded as 0; add it with PriceTable.set")
            return 0
        return price.cost_micros(usage)
