"""Circuit breakers, one per (provider, base URL, model), so a dead endpoint is not called again and again.

Closed: calls go through. After ``failure_threshold`` consecutive failures within ``window`` seconds
it opens: calls are refused at once (the gateway goes to the fallback model, or fails fast) for
``cooldown`` seconds. Then it is half-open: exactly one trial call goes through; success closes it,
failure opens it for another cool-down.

Only failures that say the provider itself is unwell count (5xx, timeouts, connection errors). A 401
or a 429 is about one tenant's key, and the breaker is shared by every tenant using that endpoint.

The state lives in this process: each web worker and job worker learns on its own (within a few
calls) that an endpoint is down. That is deliberate: no shared store sits on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BreakerBoard", "BreakerPolicy", "BreakerState", "CircuitBreaker"]

Clock = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    window: float = 60.0
    """Failures older than this (seconds) no longer count."""
    cooldown: float = 30.0
    """Seconds an open breaker refuses calls before it lets one trial through."""


class CircuitBreaker:
    def __init__(self, policy: BreakerPolicy, clock: Clock = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._failures: list[float] = []
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self.policy.cooldown:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def allow(self) -> bool:
        """May a call go out now? In the half-open state this takes the single trial slot."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        self._failures.clear()
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        now = self._clock()
        if self._opened_at is not None:
            self._open(now)  # the half-open trial failed
            return
        self._failures = [at for at in self._failures if now - at <= self.policy.window]
        self._failures.append(now)
        if len(self._failures) >= self.policy.failure_threshold:
            self._open(now)

    def release(self) -> None:
        """Give the trial slot back without a verdict (the call was cancelled)."""
        self._trial_in_flight = False

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._failures.clear()
        self._trial_in_flight = False


class BreakerBoard:
    """The breakers of one gateway, created on first use."""

    def __init__(self, policy: BreakerPolicy | None = None, clock: Clock = time.monotonic) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._breakers: dict[tuple[str, str, str], CircuitBreaker] = {}

    def get(self, provider: str, base_url: str | None, model: str) -> CircuitBreaker:
        key = (provider, base_url or "", model)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(self.policy, self._clock)
        return breaker

    def states(self) -> dict[tuple[str, str, str], BreakerState]:
        """Every breaker's state, for health pages and tests."""
        return {key: breaker.state for key, breaker in self._breakers.items()}
