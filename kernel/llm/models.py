"""The usage ledger: one row per model call, for cost, quotas and dashboards."""

from __future__ import annotations

from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base, TenantScoped

__all__ = ["LlmUsage"]


class LlmUsage(TenantScoped, Base):
    __tablename__ = "llm_usage"
    __table_args__ = (Index("ix_llm_usage_tenant_created", "tenant_id", "created_at"),)

    agent_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    conversation_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    provider: Mapped[str] = mapped_column(String(30))
    model: Mapped[str] = mapped_column(String(120))
    operation: Mapped[str] = mapped_column(String(20))
    """``chat`` or ``embedding``."""
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    """Cost in millionths of a US dollar, from the price table."""
    status: Mapped[str] = mapped_column(String(20))
    """``ok``, ``error``, ``fallback`` (answered by the fallback model) or ``quota_exceeded``."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
