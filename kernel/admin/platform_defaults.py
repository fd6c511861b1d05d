"""The platform's registration defaults: whether anyone may register an organization, and on which plan.

Stored as platform settings (``registration.open``, ``registration.plan``; see
:mod:`kernel.tenancy.platform_settings`). Until the administrator decides, ``registration.open``
follows ``ATENDAI_REGISTRATION_OPEN``, and new organizations get the default plan. The AI defaults
live in :mod:`kernel.llm.settings`, the plugins' defaults in :mod:`kernel.plugins.settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.service import record
from kernel.errors import ValidationFailed
from kernel.i18n.catalogs import N_, current_translator
from kernel.llm.settings import KEEP
from kernel.tenancy.models import Plan
from kernel.tenancy.platform_settings import get_platform_settings, set_platform_setting

__all__ = ["OPEN_KEY", "PLAN_KEY", "PlanChoice", "RegistrationDefaults", "registration_defaults", "save_registration"]

OPEN_KEY = "registration.open"
PLAN_KEY = "registration.plan"


@dataclass(frozen=True)
class PlanChoice:
    code: str
    name: str
    is_default: bool


@dataclass(frozen=True)
class RegistrationDefaults:
    open: bool
    plan: str | None
    """The plan code self-registered organizations get; ``None``: the default plan."""
    decided: bool
    """``False`` while ``open`` still comes from ``ATENDAI_REGISTRATION_OPEN``."""
    plans: list[PlanChoice]


async def _plans(session: AsyncSession) -> list[PlanChoice]:
    rows = (await session.execute(select(Plan).order_by(Plan.is_default.desc(), Plan.name))).scalars()
    return [PlanChoice(plan.code, plan.name, plan.is_default) for plan in rows]


async def registration_defaults(kernel: Any, session: AsyncSession) -> RegistrationDefaults:
    """The registration switch and plan (``session`` in the platform scope)."""
    stored = await get_platform_settings(session, [OPEN_KEY, PLAN_KEY])
    plans = await _plans(session)
    plan = stored.get(PLAN_KEY)
    if plan is not None and plan not in {choice.code for choice in plans}:
        plan = None  # the plan was removed since: the default plan takes over
    decided = stored.get(OPEN_KEY) is not None
    is_open = bool(stored[OPEN_KEY]) if decided else bool(kernel.settings.registration_open)
    return RegistrationDefaults(open=is_open, plan=plan, decided=decided, plans=plans)


async def save_registration(
    kernel: Any, session: AsyncSession, *, is_open: Any = KEEP, plan: Any = KEEP
) -> RegistrationDefaults:
    """Open or close registration and choose its plan (a plan code, or ``None`` for the default plan).

    ``KEEP`` leaves a value as it is. Audited as ``platform.registration_changed`` in the platform's chain.
    """
    before = await registration_defaults(kernel, session)
    if isinstance(plan, str):
        plan = plan.strip() or None
    if plan is not KEEP and plan is not None and plan not in {choice.code for choice in before.plans}:
        raise ValidationFailed(
            N_("There is no plan %(plan)s."),
            errors=[
                {
                    "field": "registration.plan",
                    "message": "unknown",
                    "detail": current_translator().gettext("There is no plan %(plan)s.", plan=plan),
                }
            ],
            plan=plan,
        )
    if is_open is not KEEP:
        await set_platform_setting(session, OPEN_KEY, bool(is_open))
    if plan is not KEEP:
        await set_platform_setting(session, PLAN_KEY, plan)
    after = await registration_defaults(kernel, session)
    old = {"open": before.open, "plan": before.plan}
    new = {"open": after.open, "plan": after.plan}
    if old != new or before.decided != after.decided:
        await record(
            session,
            action="platform.registration_changed",
            target_type="platform",
            target_id="registration",
            before=old,
            after=new,
            tenant_id=None,
        )
    return after
