"""The audit trail's one table: an append-only, per-tenant hash chain of who changed what.

``tenant_id`` is nullable on purpose: platform-level actions (a super-admin creating a plan) belong to
no tenant and are visible only in the platform scope. That is also why the model is not
:class:`~kernel.db.base.TenantScoped`; row-level security keeps each tenant to its own rows.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base

__all__ = ["AuditEntry"]


class AuditEntry(Base):
    """One recorded mutation. Rows are only ever inserted: the app role may not update or delete them."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # NULLS NOT DISTINCT: the platform's own chain (tenant_id NULL) needs unique numbers too.
        UniqueConstraint("tenant_id", "seq", name="uq_audit_log_tenant_seq", postgresql_nulls_not_distinct=True),
        Index("ix_audit_log_tenant_created", "tenant_id", "created_at"),
        # text_pattern_ops lets ``action LIKE 'user.%'`` use the index whatever the database collation.
        Index("ix_audit_log_tenant_action", "tenant_id", "action", postgresql_ops={"action": "text_pattern_ops"}),
        Index("ix_audit_log_tenant_target", "tenant_id", "target_type", "target_id"),
        Index("ix_audit_log_tenant_actor", "tenant_id", "actor_id"),
    )

    tenant_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    """Position in the tenant's chain, from 1 with no gaps."""
    actor_type: Mapped[str] = mapped_column(String(20))
    """``user``, ``api_token``, ``system`` or ``platform``."""
    actor_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    """Not a foreign key: the trail must outlive the user (or token) it names."""
    actor_label: Mapped[str | None] = mapped_column(String(254), nullable=True)
    action: Mapped[str] = mapped_column(String(100))
    """``<noun>.<past-tense verb>``, e.g. ``user.invited``."""
    target_type: Mapped[str] = mapped_column(String(100))
    target_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    """``{field: {"before": x, "after": y}}`` for changed fields only, secrets masked."""
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(500), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    """The ``hash`` of the tenant's previous entry (64 zeros for the first)."""
    hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of ``prev_hash`` and the canonical JSON of this entry's content."""
