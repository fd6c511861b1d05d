"""The usage ledger and the monthly token quota.

Every provider call leaves one ``llm_usage`` row, written in a short transaction of its own: the
caller's transaction may still roll back (a failed reply, a crashed job), but the tokens were spent
and must be counted. A ledger write that fails is logged, not raised; the customer's answer matters
more than one meter reading.

The quota is the plan's ``kernel.llm_tokens_per_month`` feature (prompt + completion tokens per
calendar month, UTC); a plan without it is unlimited. It is checked before each provider call
against this month's ledger, so a conversation can overshoot by at most the call in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import QuotaExceeded
from kernel.llm.models import LlmUsage
from kernel.llm.pricing import PriceTable
from kernel.llm.providers.base import TokenUsage
from kernel.tenancy.models import Organization, Plan
from kernel.web.context import current_request

__all__ = ["QUOTA_FEATURE", "MonthUsage", "UsageEntry", "UsageLedger", "UsageStatus", "month_start"]

log = structlog.get_logger("kernel.llm")

QUOTA_FEATURE = "kernel.llm_tokens_per_month"
UsageStatus = Literal["ok", "error", "fallback", "quota_exceeded"]
Operation = Literal["chat", "embedding"]


@dataclass(frozen=True)
class UsageEntry:
    """One provider call as the ledger records it."""

    tenant_id: UUID
    provider: str
    model: str
    operation: Operation
    status: UsageStatus
    usage: TokenUsage = field(default_factory=TokenUsage)
    latency_ms: int = 0
    error: str | None = None
    agent_id: UUID | None = None
    conversation_id: UUID | None = None


@dataclass(frozen=True)
class MonthUsage:
    """A tenant's consumption this calendar month (UTC) and its plan's quota (``None``: unlimited)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micros: int
    calls: int
    quota: int | None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def remaining(self) -> int | None:
        return None if self.quota is None else max(0, self.quota - self.tokens)

    @property
    def exhausted(self) -> bool:
        return self.quota is not None and self.tokens >= self.quota


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _quota_value(features: dict[str, Any] | None) -> int | None:
    value = (features or {}).get(QUOTA_FEATURE)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(0, value)


def _tenant_session(tenant_id: UUID) -> Any:
    # Imported here: kernel.sdk may re-export the gateway, and must be importable before it.
    from kernel.sdk import tenant_session

    return tenant_session(tenant_id)


class UsageLedger:
    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices

    async def record(self, entry: UsageEntry) -> int:
        """Write one row in its own transaction (and count the call in ``/metrics``); returns the cost in micro-dollars."""
        _observe(entry)
        cost = self.prices.cost_micros(entry.model, entry.usage) if entry.status in ("ok", "fallback") else 0
        request = current_request()
        row = LlmUsage(
            tenant_id=entry.tenant_id,
            agent_id=entry.agent_id,
            conversation_id=entry.conversation_id,
            provider=entry.provider,
            model=entry.model[:120],
            operation=entry.operation,
            prompt_tokens=entry.usage.prompt,
            completion_tokens=entry.usage.completion,
            cached_tokens=entry.usage.cached,
            latency_ms=entry.latency_ms,
            cost_micros=cost,
            status=entry.status,
            error=entry.error,
            request_id=request.request_id[:64] if request else None,
        )
        try:
            async with _tenant_session(entry.tenant_id) as session:
                session.add(row)
                await session.commit()
        except Exception:
            log.exception("llm_usage_not_recorded", tenant_id=str(entry.tenant_id), model=entry.model)
        return cost

    async def month_usage(self, tenant_id: UUID, *, now: datetime | None = None) -> MonthUsage:
        async with _tenant_session(tenant_id) as session:
            totals = await _month_totals(session, month_start(now))
            quota = await _plan_quota(session, tenant_id)
        prompt, completion, cached, cost, calls = totals
        return MonthUsage(prompt, completion, cached, cost, calls, quota)

    async def check_quota(self, entry: UsageEntry) -> None:
        """Raise :class:`QuotaExceeded` (after recording a ``quota_exceeded`` row) when the month is used up.

        ``entry`` describes the call that was about to be made; only its status is replaced.
        """
        usage = await self.month_usage(entry.tenant_id)
        if not usage.exhausted:
            return
        await self.record(
            UsageEntry(
                tenant_id=entry.tenant_id,
                provider=entry.provider,
                model=entry.model,
                operation=entry.operation,
                status="quota_exceeded",
                error=f"monthly quota of {usage.quota} tokens reached ({usage.tokens} used)",
                agent_id=entry.agent_id,
                conversation_id=entry.conversation_id,
            )
        )
        raise QuotaExceeded("The monthly AI quota of this organization is used up.")


def _observe(entry: UsageEntry) -> None:
    # Imported here: the metrics module pulls in the web stack, which kernel.llm must not need at import.
    from kernel.metrics import observe_llm_call

    observe_llm_call(entry.provider, entry.operation, entry.status, entry.latency_ms / 1000)


async def _month_totals(session: AsyncSession, since: datetime) -> tuple[int, int, int, int, int]:
    statement = select(
        func.coalesce(func.sum(LlmUsage.prompt_tokens), 0),
        func.coalesce(func.sum(LlmUsage.completion_tokens), 0),
        func.coalesce(func.sum(LlmUsage.cached_tokens), 0),
        func.coalesce(func.sum(LlmUsage.cost_micros), 0),
        func.count(LlmUsage.id),
    ).where(LlmUsage.created_at >= since)
    row = (await session.execute(statement)).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])


async def _plan_quota(session: AsyncSession, tenant_id: UUID) -> int | None:
    statement = (
        select(Plan.features).join(Organization, Organization.plan_id == Plan.id).where(Organization.id == tenant_id)
    )
    features = (await session.execute(statement)).scalar_one_or_none()
    return _quota_value(features)
