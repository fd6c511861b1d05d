"""People who log in, and the secrets they hold: refresh tokens, API tokens, invitation and reset tokens.

A user belongs to one organization; platform admins belong to none. Every token is stored only as a
SHA-256 hash; the clear value is shown once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base, TenantScoped

__all__ = ["ApiToken", "RefreshToken", "User", "UserToken"]


class User(Base):
    __tablename__ = "users"

    tenant_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    """Stored lowercased and trimmed (see ``normalize_email``); unique across the platform."""
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """``None`` until an invited user sets a password."""
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    role_id: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("roles.id", ondelete="RESTRICT"), nullable=True)
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped to end every session of the user at once."""
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class RefreshToken(Base):
    """One link of a rotating refresh-token family. Reusing a rotated link revokes the whole family."""

    __tablename__ = "refresh_tokens"

    tenant_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[UUID] = mapped_column(GUID, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ApiToken(TenantScoped, Base):
    """A token for integrations: scoped to permissions, shown once, revocable."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    """The first characters of the token, to recognise it in lists."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[list[str]] = mapped_column(JSONB, default=list)
    created_by: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class UserToken(Base):
    """A single-use, expiring token mailed to a user: an invitation or a password reset."""

    __tablename__ = "user_tokens"

    tenant_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    """``invite`` or ``reset``."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
