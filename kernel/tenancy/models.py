"""Organizations (tenants), plans, and which plugins each organization has enabled."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base, TenantScoped

__all__ = ["Organization", "OrganizationStatus", "Plan", "TenantPlugin"]


class OrganizationStatus:
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Plan(Base):
    """What a tenant may use: the plugins it may enable (``None``: all) and feature flags and quotas."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    allowed_plugins: Mapped[list[str] | None] = mapped_column(JSONB, nullable=True)
    features: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    def allows(self, plugin: str) -> bool:
        return self.allowed_plugins is None or plugin in self.allowed_plugins


class Organization(Base):
    """One customer of the platform. Its ``id`` is the tenant id every tenant table carries."""

    __tablename__ = "organizations"

    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=OrganizationStatus.ACTIVE)
    plan_id: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("plans.id", ondelete="SET NULL"), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Sao_Paulo")
    language: Mapped[str] = mapped_column(String(10), default="pt-BR")
    brand_primary: Mapped[str | None] = mapped_column(String(9), nullable=True)
    brand_accent: Mapped[str | None] = mapped_column(String(9), nullable=True)
    logo_path: Mapped[str | None] = mapped_column(String(500), nullable=True)

    @property
    def is_active(self) -> bool:
        return self.status == OrganizationStatus.ACTIVE


class TenantPlugin(TenantScoped, Base):
    """A plugin's state for one tenant: enabled or not, and its settings."""

    __tablename__ = "tenant_plugins"
    __table_args__ = (UniqueConstraint("tenant_id", "plugin", name="uq_tenant_plugins_tenant_plugin"),)

    plugin: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
