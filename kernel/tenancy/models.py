"""Organizations (tenants), plans, and which plugins each organization has enabled."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base, TenantScoped

__all__ = ["Organization", "OrganizationStatus", "Plan", "PlatformSetting", "TenantPlugin"]


class OrganizationStatus:
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Plan(Base):
    """What a tenant may use: the plugins it may enable (``None``: all) and feature flags and quotas."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
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
    """Storage key of the logo (``kernel.storage``), served at ``/media/<key>``."""
    website: Mapped[str | None] = mapped_column(String(300), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    """E.164, e.g. ``+5511987654321``."""
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    """Weekly opening hours: ``{"mon": [["09:00", "18:00"]], ...}`` in the organization's time zone."""
    about: Mapped[str] = mapped_column(Text, default="", server_default="")
    refund_policy: Mapped[str] = mapped_column(Text, default="", server_default="")
    privacy_policy: Mapped[str] = mapped_column(Text, default="", server_default="")
    ai_provider: Mapped[str | None] = mapped_column(String(20), nullable=True)
    """The organization's default model provider (``openai``, ``gemini``, ``offline``); ``None``: the platform's."""
    ai_model: Mapped[str | None] = mapped_column(String(120), nullable=True)
    onboarding_dismissed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)

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


class PlatformSetting(Base):
    """One platform-wide setting (registration, AI and integration defaults), a JSON value under a key.

    Not a tenant table: only the platform scope's services read and write it. Secrets never go here;
    they are stored encrypted with ``kernel.secrets`` (without a tenant).
    """

    __tablename__ = "platform_settings"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    value: Mapped[Any] = mapped_column(JSONB)
