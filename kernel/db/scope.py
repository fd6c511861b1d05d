"""Which tenant the current code works for.

A request, a job, a WebSocket and a CLI command each set the tenant explicitly; the database session
reads it when a transaction begins (``app.tenant_id`` for row-level security) and when it builds an ORM
query (the tenant filter). The platform scope is the super-admin's view across tenants: it is a separate,
explicit switch, never the absence of a tenant. With neither set, tenant tables show nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

__all__ = [
    "TenantScopeMissing",
    "current_tenant_id",
    "in_platform_scope",
    "isolated_scope",
    "platform_scope",
    "require_tenant_id",
    "set_current_scope",
    "tenant_scope",
]

_tenant: ContextVar[UUID | None] = ContextVar("atendai_tenant", default=None)
_platform: ContextVar[bool] = ContextVar("atendai_platform_scope", default=False)


class TenantScopeMissing(RuntimeError):
    """Tenant data was touched with no tenant set and outside the platform scope."""


def current_tenant_id() -> UUID | None:
    return _tenant.get()


def require_tenant_id() -> UUID:
    tenant_id = _tenant.get()
    if tenant_id is None:
        raise TenantScopeMissing("no tenant is set for this unit of work")
    return tenant_id


def in_platform_scope() -> bool:
    return _platform.get()


def set_current_scope(tenant_id: UUID | None, *, platform: bool = False) -> None:
    """Set the scope for the rest of the current task (a request: its middleware resets it at the end)."""
    _tenant.set(tenant_id)
    _platform.set(platform)


@contextmanager
def isolated_scope() -> Iterator[None]:
    """Start with no tenant and restore whatever was set before when the block ends."""
    tenant_token = _tenant.set(None)
    platform_token = _platform.set(False)
    try:
        yield
    finally:
        _platform.reset(platform_token)
        _tenant.reset(tenant_token)


@contextmanager
def tenant_scope(tenant_id: UUID | str | None) -> Iterator[UUID | None]:
    """Run the block for one tenant (``None`` clears it). Leaves the platform scope for the block."""
    value = UUID(str(tenant_id)) if tenant_id is not None else None
    tenant_token = _tenant.set(value)
    platform_token = _platform.set(False)
    try:
        yield value
    finally:
        _platform.reset(platform_token)
        _tenant.reset(tenant_token)


@contextmanager
def platform_scope() -> Iterator[None]:
    """Run the block with the platform (super-admin) view across all tenants."""
    tenant_token = _tenant.set(None)
    platform_token = _platform.set(True)
    try:
        yield
    finally:
        _platform.reset(platform_token)
        _tenant.reset(tenant_token)
