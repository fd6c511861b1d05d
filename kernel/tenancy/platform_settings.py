"""Platform-wide settings the platform administrator changes in the panel: one JSON value per key.

Keys in use (``Platform → Global defaults``):

* ``registration.open`` (bool): whether ``/auth/register`` accepts new organizations
  (``ATENDAI_REGISTRATION_OPEN`` until the administrator decides);
* ``registration.plan`` (str): the plan code self-registered organizations get (the default plan otherwise);
* ``ai.provider`` / ``ai.model`` (str): the model organizations use when they configure none;
* ``plugin.<name>`` (dict): defaults for a plugin's settings, under each organization's own values.

Values are read and written in the platform scope, whoever asks: they belong to no tenant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.db.session import set_session_scope
from kernel.tenancy.models import PlatformSetting

__all__ = ["get_platform_setting", "get_platform_settings", "registration_open", "set_platform_setting"]


async def get_platform_settings(session: AsyncSession, keys: list[str] | None = None) -> dict[str, Any]:
    """The stored values (of ``keys``, or all), by key. Leaves the session in the platform scope."""
    await set_session_scope(session, platform=True)
    statement = select(PlatformSetting.key, PlatformSetting.value)
    if keys is not None:
        statement = statement.where(PlatformSetting.key.in_(keys))
    return dict((await session.execute(statement)).tuples().all())


async def get_platform_setting(session: AsyncSession, key: str, default: Any = None) -> Any:
    return (await get_platform_settings(session, [key])).get(key, default)


async def set_platform_setting(session: AsyncSession, key: str, value: Any) -> tuple[Any, Any]:
    """Store ``value`` under ``key`` (``None`` removes it); returns ``(before, after)`` for the audit trail."""
    await set_session_scope(session, platform=True)
    row = (await session.execute(select(PlatformSetting).where(PlatformSetting.key == key))).scalar_one_or_none()
    before = row.value if row is not None else None
    if value is None:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(PlatformSetting(key=key, value=value))
    else:
        row.value = value
    await session.flush()
    return before, value


async def registration_open(kernel: Any, session: AsyncSession) -> bool:
    """Whether anyone may register an organization: the administrator's switch, else the setting."""
    stored = await get_platform_setting(session, "registration.open")
    return bool(kernel.settings.registration_open if stored is None else stored)
