"""The first-steps checklist on the home page, and what the home page shows around it.

Each step says where it is done (a link to its panel) and how to tell that it is done, so it ticks
itself: nobody marks a step by hand. The kernel contributes the company profile, the AI model and the
team; plugins add theirs with ``register_onboarding_steps`` (the agents plugin "create an agent", the
knowledge plugin "add knowledge", the WhatsApp plugin "connect a channel"). The checklist shows until
every step is done or an administrator hides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.i18n.catalogs import KERNEL_DOMAIN, N_
from kernel.sdk import OnboardingStep

__all__ = ["KERNEL_STEPS", "StepState", "dismiss_checklist", "home_context", "onboarding_state"]


async def _profile_done(session: AsyncSession) -> bool:
    from kernel.tenancy.models import Organization

    org = (await session.execute(select(Organization))).scalars().first()
    return org is not None and bool(org.logo_path or org.about.strip())


async def _ai_done(session: AsyncSession) -> bool:
    from kernel.tenancy.models import Organization

    org = (await session.execute(select(Organization))).scalars().first()
    return org is not None and org.ai_provider is not None


async def _team_done(session: AsyncSession) -> bool:
    from kernel.auth.models import User

    return (await session.execute(select(func.count(User.id)))).scalar_one() > 1


KERNEL_STEPS = (
    OnboardingStep(
        "kernel.company",
        N_("Complete your company profile"),
        "/app/-/company",
        _profile_done,
        N_("Logo, colours, opening hours and the policies your AI agents may quote."),
        icon="building-2",
        order=10,
        permission="kernel.organization.write",
    ),
    OnboardingStep(
        "kernel.ai",
        N_("Connect your AI model"),
        "/app/-/ai",
        _ai_done,
        N_("Choose OpenAI or Gemini and paste your API key, or keep the offline mode."),
        icon="sparkles",
        order=20,
        permission="kernel.organization.write",
    ),
    OnboardingStep(
        "kernel.team",
        N_("Invite a colleague"),
        "/app/-/users",
        _team_done,
        N_("Serve customers together: each person with their own login and role."),
        icon="user-plus",
        order=90,
        permission="kernel.user.write",
    ),
)


@dataclass(frozen=True)
class StepState:
    id: str
    title: str
    description: str
    href: str
    icon: str
    done: bool


async def onboarding_state(
    kernel: Any, session: AsyncSession, actor: Any, catalogs: Any, language: str
) -> list[StepState]:
    """The steps this person may do (enabled plugins, permissions), translated, each with whether it is done."""
    from kernel.rbac.permissions import KERNEL

    steps = []
    for plugin, step in sorted(kernel.registry.onboarding_steps, key=lambda pair: (pair[1].order, pair[1].id)):
        if plugin != KERNEL and plugin not in actor.enabled_plugins:
            continue
        if step.permission is not None and not actor.can(step.permission):
            continue
        domains = (KERNEL_DOMAIN,) if plugin == KERNEL else (plugin, KERNEL_DOMAIN)
        steps.append(
            StepState(
                id=step.id,
                title=catalogs.gettext(domains, language, step.title),
                description=catalogs.gettext(domains, language, step.description) if step.description else "",
                href=step.href,
                icon=step.icon,
                done=bool(await step.is_done(session)),
            )
        )
    return steps


async def dismiss_checklist(session: AsyncSession, tenant_id: UUID) -> None:
    from kernel.audit.service import record
    from kernel.tenancy.models import Organization

    org = await session.get(Organization, tenant_id)
    if org is None or org.onboarding_dismissed_at is not None:
        return
    org.onboarding_dismissed_at = datetime.now(UTC)
    await session.flush()
    await record(session, action="onboarding.dismissed", target_type="organization", target_id=tenant_id)


async def home_context(kernel: Any, request: Any, actor: Any) -> dict[str, Any]:
    """What the home page shows: the checklist (unless hidden or finished) and the plugins' cards."""
    from kernel.db.session import set_session_scope
    from kernel.i18n.catalogs import current_translator
    from kernel.tenancy.models import Organization
    from kernel.web.slots import render_slot

    language = current_translator().language
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=actor.tenant_id)
        org = await session.get(Organization, actor.tenant_id)
        steps = await onboarding_state(kernel, session, actor, request.app.state.catalogs, language)
    done = sum(step.done for step in steps)
    show = bool(steps) and org is not None and org.onboarding_dismissed_at is None and done < len(steps)
    return {
        "steps": steps if show else [],
        "steps_done": done,
        "steps_total": len(steps),
        "can_dismiss": actor.can("kernel.organization.write"),
        "cards": await render_slot(request, "dashboard.cards"),
    }
