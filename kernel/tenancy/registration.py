"""Self-service registration: a new customer creates their organization and its first administrator.

The wizard (``/auth/register``) and the API (``POST /api/v1/auth/register``) both come here. The
platform decides whether registration is open and which plan new organizations get
(``kernel.tenancy.platform_settings``); each client address may register a few organizations an hour.
Everything a step checks is checked again at the end, so a skipped or replayed step cannot slip past.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.service import record
from kernel.cache import cache_key, increment
from kernel.db.session import set_session_scope
from kernel.errors import Forbidden, KernelError, ValidationFailed
from kernel.i18n.catalogs import N_, SUPPORTED_LANGUAGES
from kernel.tenancy.models import Organization, Plan
from kernel.tenancy.platform_settings import get_platform_setting, registration_open
from kernel.tenancy.services import ProvisionedOrganization, provision_organization, time_zones, validate_slug

__all__ = [
    "RegistrationClosed",
    "RegistrationInput",
    "TooManyRegistrations",
    "check_organization_step",
    "register_organization",
    "slug_status",
    "suggest_slug",
]

RESERVED_SLUGS = frozenset({"admin", "api", "app", "auth", "www", "static", "media", "platform", "atendai", "demo"})
MAX_NAME = 200


class RegistrationClosed(Forbidden):
    slug, title = "registration-closed", N_("Registration is closed")


class TooManyRegistrations(KernelError):
    status, slug, title = 429, "too-many-registrations", N_("Too many requests")


@dataclass(frozen=True)
class RegistrationInput:
    organization_name: str
    slug: str
    name: str
    email: str
    password: str
    password_confirmation: str | None = None
    """Pages ask twice; the API may leave it out."""
    language: str | None = None
    timezone: str | None = None


def suggest_slug(name: str) -> str:
    """``Padaria Pão Quente`` -> ``padaria-pao-quente`` (the wizard's suggestion; the person may change it)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:40].strip("-")


async def slug_status(session: AsyncSession, slug: str) -> str:
    """``available``, ``taken`` or ``invalid`` (for the live check next to the field)."""
    try:
        slug = validate_slug(slug)
    except ValidationFailed:
        return "invalid"
    if slug in RESERVED_SLUGS:
        return "taken"
    await set_session_scope(session, platform=True)
    taken = (await session.execute(select(Organization.id).where(Organization.slug == slug))).first()
    return "taken" if taken else "available"


async def check_organization_step(session: AsyncSession, organization_name: str, slug: str) -> str:
    """Step one: a name and a free address. Returns the normalised slug; raises with every problem found."""
    errors: list[dict[str, Any]] = []
    if not organization_name.strip():
        errors.append(
            {"field": "organization_name", "message": "required", "detail": N_("The organization needs a name.")}
        )
    elif len(organization_name.strip()) > MAX_NAME:
        errors.append(
            {
                "field": "organization_name",
                "message": "too long",
                "detail": N_("The name is longer than %(count)d characters."),
                "params": {"count": MAX_NAME},
            }
        )
    status = await slug_status(session, slug)
    if status == "invalid":
        errors.append(
            {
                "field": "slug",
                "message": "invalid",
                "detail": N_("Use 1 to 40 lowercase letters, digits or hyphens, not starting or ending with a hyphen."),
            }
        )
    elif status == "taken":
        errors.append(
            {
                "field": "slug",
                "message": "taken",
                "detail": N_("The address %(slug)s is already taken."),
                "params": {"slug": slug.strip().lower()},
            }
        )
    if len(errors) == 1:
        only = errors[0]
        raise ValidationFailed(str(only["detail"]), errors=errors, **only.get("params", {}))
    if errors:
        raise ValidationFailed("Check the organization's name and address.", errors=errors)
    return validate_slug(slug)


def _check_account(data: RegistrationInput) -> None:
    from kernel.tenancy.services import MIN_PASSWORD_LENGTH, validate_email, validate_new_password

    errors: list[dict[str, Any]] = []
    if not data.name.strip():
        errors.append({"field": "name", "message": "required", "detail": N_("Tell us your name.")})
    try:
        validate_email(data.email)
    except ValidationFailed:
        errors.append({"field": "email", "message": "invalid", "detail": N_("The email address is not valid.")})
    try:
        validate_new_password(data.password)
    except ValidationFailed:
        errors.append(
            {
                "field": "password",
                "message": "too short",
                "detail": N_("The password must have at least %(count)d characters."),
                "params": {"count": MIN_PASSWORD_LENGTH},
            }
        )
    if data.password_confirmation is not None and data.password_confirmation != data.password:
        errors.append(
            {
                "field": "password_confirmation",
                "message": "mismatch",
                "detail": N_("The two passwords are not the same."),
            }
        )
    if len(errors) == 1:
        only = errors[0]
        raise ValidationFailed(str(only["detail"]), errors=errors, **only.get("params", {}))
    if errors:
        raise ValidationFailed("Check your name, email and password.", errors=errors)


async def _registration_plan(session: AsyncSession) -> str | None:
    code = await get_platform_setting(session, "registration.plan")
    if not code:
        return None
    exists = (await session.execute(select(Plan.id).where(Plan.code == code))).first()
    return code if exists else None  # a removed plan falls back to the default plan


async def register_organization(
    kernel: Any, session: AsyncSession, store: Any, data: RegistrationInput, *, client_ip: str | None
) -> ProvisionedOrganization:
    """Create the organization and its administrator, in the caller's transaction (commit after)."""
    if not await registration_open(kernel, session):
        raise RegistrationClosed("Registration of new organizations is closed on this installation.")
    slug = await check_organization_step(session, data.organization_name, data.slug)
    _check_account(data)
    if client_ip:
        key = cache_key(None, "registration", "ip", client_ip)
        if await increment(store, key, 3600) > kernel.settings.registration_per_hour:
            raise TooManyRegistrations("Too many organizations were registered from this address. Try again later.")
    language = data.language if data.language in SUPPORTED_LANGUAGES else None
    timezone = data.timezone if data.timezone and data.timezone in time_zones() else None
    result = await provision_organization(
        kernel,
        session,
        slug=slug,
        name=data.organization_name.strip(),
        admin_email=data.email,
        admin_password=data.password,
        admin_name=data.name.strip(),
        plan_code=await _registration_plan(session),
        timezone=timezone,
        language=language,
    )
    await record(
        session,
        action="organization.registered",
        target_type="organization",
        target_id=result.tenant_id,
        tenant_id=result.tenant_id,
        actor_type="user",
        actor_id=result.admin_user_id,
        actor_label=result.admin_email,
        after={"slug": slug, "name": data.organization_name.strip(), "language": language, "timezone": timezone},
    )
    return result
