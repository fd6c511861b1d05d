"""The company profile page, ``/app/-/company``: one card per part of the profile, each its own form.

Every form posts with htmx to its own address and answers with its card again: with the typed values
and an error under each wrong field (422), or saved with a toast. A change the whole shell shows (the
name and logo in the sidebar, the organization's language) reloads the page instead, with the toast on
arrival. The handlers call :mod:`kernel.tenancy.profile`, like the API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import ValidationFailed
from kernel.i18n.catalogs import N_, SUPPORTED_LANGUAGES, current_translator
from kernel.i18n.formatting import format_datetime
from kernel.rbac.guard import PERMISSION
from kernel.storage import media_url
from kernel.tenancy import profile
from kernel.tenancy.models import Organization
from kernel.tenancy.profile_api import LOGO_BODY_LIMIT
from kernel.tenancy.services import time_zones
from kernel.web.nav import KERNEL_PAGES
from kernel.web.shell import LANGUAGE_NAMES, field_errors, form_values, fragment, hx_redirect, page
from kernel.web.theme import DEFAULT_ACCENT, DEFAULT_PRIMARY, SURFACE

__all__ = ["ROUTES", "timezone_groups"]

PAGE = f"{KERNEL_PAGES}/company"
OPT = {PERMISSION: "kernel.organization.write"}

BRAZIL_ZONES = {
    "America/Sao_Paulo": "São Paulo, Rio de Janeiro, Brasília",
    "America/Bahia": "Salvador (Bahia)",
    "America/Fortaleza": "Fortaleza",
    "America/Recife": "Recife",
    "America/Belem": "Belém",
    "America/Maceio": "Maceió",
    "America/Araguaina": "Araguaína (Tocantins)",
    "America/Santarem": "Santarém",
    "America/Manaus": "Manaus",
    "America/Cuiaba": "Cuiabá",
    "America/Campo_Grande": "Campo Grande",
    "America/Porto_Velho": "Porto Velho",
    "America/Boa_Vista": "Boa Vista",
    "America/Rio_Branco": "Rio Branco",
    "America/Eirunepe": "Eirunepé",
    "America/Noronha": "Fernando de Noronha",
}
"""Brazil's zones, listed first with the places people know them by."""
REGIONS = {
    "America": N_("Americas"),
    "Europe": N_("Europe"),
    "Africa": N_("Africa"),
    "Asia": N_("Asia"),
    "Australia": N_("Australia"),
    "Pacific": N_("Pacific"),
    "Atlantic": N_("Atlantic"),
    "Indian": N_("Indian Ocean"),
    "Antarctica": N_("Antarctica"),
    "Arctic": N_("Arctic"),
}
"""The other zones, grouped by their region; older aliases (``Brazil/East``, ``US/Eastern``) are left out."""

SECTION_FIELDS = {
    "name": ("name",),
    "brand": ("brand_primary", "brand_accent"),
    "region": ("timezone", "language"),
    "contact": ("website", "contact_email", "contact_phone"),
    "hours": ("business_hours",),
    "policies": profile.TEXT_FIELDS,
}
TEMPLATES = {section: f"company/_{section}.html" for section in (*SECTION_FIELDS, "logo")}


# -- Context -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _zone_names() -> tuple[tuple[str, tuple[str, ...]], ...]:
    valid = time_zones()
    groups = []
    for region in REGIONS:
        names = sorted(name for name in valid if name.startswith(region + "/") and name not in BRAZIL_ZONES)
        groups.append((region, tuple(names)))
    return tuple(groups)


def _offset(name: str, now: datetime) -> str:
    offset = now.astimezone(ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "\u2212"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@lru_cache(maxsize=4)
def _labelled_zones(quarter_hour: datetime) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Each region's ``(name, "Place (UTC-03:00)")`` options at ``quarter_hour``, Brazil's first.

    Offsets change only on quarter-hour boundaries in the IANA database, so one computation serves every
    render until the next boundary (about 40 ms saved per page: the lists hold some 500 zones).
    """
    brazil = tuple((name, f"{place} ({_offset(name, quarter_hour)})") for name, place in BRAZIL_ZONES.items())
    regions = [brazil]
    for region, names in _zone_names():
        options = []
        for name in names:
            place = name.removeprefix(region + "/").replace("_", " ").replace("/", " / ")
            options.append((name, f"{place} ({_offset(name, quarter_hour)})"))
        regions.append(tuple(options))
    return tuple(regions)


def timezone_groups(current: str | None, now: datetime | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Options of the time zone select: Brazil's first, then each region's alphabetically, with offsets.

    ``current`` is always among them, even when it is an alias the lists leave out.
    """
    t = current_translator()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    quarter_hour = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    brazil, *regions = _labelled_zones(quarter_hour)
    groups = [(t.gettext(N_("Brazil")), list(brazil))]
    groups += [(t.gettext(label), list(options)) for label, options in zip(REGIONS.values(), regions, strict=True)]
    others = [("UTC", "UTC")]
    listed = {name for _, options in groups for name, _ in options} | {"UTC"}
    if current and current not in listed and current in time_zones():
        others.append((current, f"{current} ({_offset(current, moment)})"))
    groups.append((t.gettext(N_("Other")), others))
    return groups


def _day_names() -> list[tuple[str, str]]:
    from kernel.i18n.formatting import babel_locale

    names = babel_locale(current_translator().language).days["stand-alone"]["wide"]
    return [(day, names[index][:1].upper() + names[index][1:]) for index, day in enumerate(profile.DAYS)]


def _hours_editor(hours: Any) -> dict[str, Any]:
    """What the hours editor starts from: whether hours are published, and each day's intervals."""
    days = hours if isinstance(hours, dict) else {}

    def pairs(value: Any) -> list[list[Any]]:
        # Typed values come back as they were posted, whatever their shape: keep what looks like pairs.
        if not isinstance(value, list):
            return []
        return [list(pair) for pair in value if isinstance(pair, list) and len(pair) == 2]

    return {"enabled": bool(days), "days": {day: pairs(days.get(day)) for day in profile.DAYS}}


def _opening_status(org: Organization, now: datetime) -> dict[str, Any]:
    """Open now or not in the organization's time zone, and when it opens next, in words."""
    hours_set = bool(org.business_hours)
    status: dict[str, Any] = {
        "hours_set": hours_set,
        "open": profile.is_open(org, now),
        "local_time": format_datetime(now, "EEEE HH:mm", timezone=org.timezone),
        "timezone": org.timezone,
        "next": None,
    }
    if hours_set and not status["open"]:
        upcoming = profile.next_opening(org, now)
        status["next"] = format_datetime(upcoming, "EEEE HH:mm", timezone=org.timezone) if upcoming else None
    return status


def _values(org: Organization) -> dict[str, Any]:
    return {
        "name": org.name,
        "brand_primary": org.brand_primary or "",
        "brand_accent": org.brand_accent or "",
        "timezone": org.timezone,
        "language": org.language,
        "website": org.website or "",
        "contact_email": org.contact_email or "",
        "contact_phone": profile.format_phone(org.contact_phone),
        "business_hours": _hours_editor(org.business_hours),
        "about": org.about,
        "refund_policy": org.refund_policy,
        "privacy_policy": org.privacy_policy,
    }


def _context(
    org: Organization, *, typed: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    values = _values(org)
    values.update(typed or {})
    now = datetime.now(UTC)
    return {
        "org": org,
        "values": values,
        "errors": errors or {},
        "logo_url": media_url(org.logo_path) if org.logo_path else None,
        "status": _opening_status(org, now),
        "timezone_groups": timezone_groups(values["timezone"], now),
        "language_options": [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
        "day_names": _day_names(),
        "defaults": {"primary": DEFAULT_PRIMARY, "accent": DEFAULT_ACCENT, "surface": SURFACE},
        "limits": {
            "text": profile.TEXT_MAX_LENGTH,
            "intervals": profile.MAX_INTERVALS,
            "logo_bytes": profile.LOGO_MAX_BYTES,
        },
        "page_path": PAGE,
    }


def _errors(exc: ValidationFailed) -> dict[str, str]:
    """Each field's own sentence (the service names every wrong field at once)."""
    if not isinstance(exc, profile.ProfileInvalid):
        return field_errors(exc)
    t = current_translator()
    messages: dict[str, str] = {}
    for problem in exc.problems:
        messages.setdefault(problem.field, t.gettext(problem.message, **problem.params))
    return messages


# -- Handlers -------------------------------------------------------------------------------------------


async def _organization(request: Request[Any, Any, Any], db_session: AsyncSession) -> Organization:
    return await profile.get_organization(db_session, request.scope["user"].tenant_id)


@get(PAGE, opt=OPT, include_in_schema=False, name="company")
async def company_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    org = await _organization(request, db_session)
    return page(request, "company/page.html", **_context(org))


def _typed(section: str, form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a section's form posted: the changes for the service, and the values to show again."""
    if section != "hours":
        changes = {name: form.get(name, "") for name in SECTION_FIELDS[section]}
        return changes, dict(changes)
    raw = form.get("business_hours", "")
    try:
        hours: Any = json.loads(raw) if raw else {}
    except ValueError:
        hours = raw  # the service explains what is wrong with it
    return {"business_hours": hours}, {"business_hours": _hours_editor(hours)}


async def _save(request: Request[Any, Any, Any], db_session: AsyncSession, section: str) -> Response[Any]:
    org = await _organization(request, db_session)
    form = await form_values(request)
    changes, typed = _typed(section, form)
    before_language = org.language
    try:
        org = await profile.update_profile(db_session, request.scope["user"], changes)
    except ValidationFailed as exc:
        # Nothing was changed (the service checks every field first); show the card as it was typed.
        context = _context(org, typed=typed, errors=_errors(exc))
        return fragment(request, TEMPLATES[section], status_code=422, **context)
    t = current_translator()
    if section == "name" or org.language != before_language:
        # The sidebar, the window title and perhaps the page's language change: draw the page again.
        return hx_redirect(request, PAGE, message=t.gettext("Saved."))
    # A new time zone changes whether the organization is open now: the hours card's status follows.
    context = _context(org)
    return fragment(request, TEMPLATES[section], toast_message=t.gettext("Saved."), oob=section == "region", **context)


@post(f"{PAGE}/name", opt=OPT, include_in_schema=False, status_code=200)
async def save_name(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    return await _save(request, db_session, "name")


@post(f"{PAGE}/brand", opt=OPT, include_in_schema=False, status_code=200)
async def save_brand(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    return await _save(request, db_session, "brand")


@post(f"{PAGE}/region", opt=OPT, include_in_schema=False, status_code=200)
async def save_region(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    return await _save(request, db_session, "region")


@post(f"{PAGE}/contact", opt=OPT, include_in_schema=False, status_code=200)
async def save_contact(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    return await _save(request, db_session, "contact")


@post(f"{PAGE}/hours", opt=OPT, include_in_schema=False, status_code=200)
async def save_hours(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    return await _save(request, db_session, "hours")


@post(f"{PAGE}/policies", opt=OPT, include_in_schema=False, status_code=200)
async def save_policies(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    return await _save(request, db_session, "policies")


@post(f"{PAGE}/logo", opt=OPT, include_in_schema=False, status_code=200, request_max_body_size=LOGO_BODY_LIMIT)
async def upload_logo(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    form = await form_values(request)
    upload = form.get("logo")
    kernel = request.app.state.kernel
    try:
        if not isinstance(upload, UploadFile):
            raise profile.ProfileInvalid(
                [profile.FieldProblem("logo", "required", N_("Choose an image file to upload."))]
            )
        content = await upload.read()
        await profile.change_logo(
            kernel,
            db_session,
            request.scope["user"],
            content,
            filename=upload.filename,
            content_type=upload.content_type,
        )
    except ValidationFailed as exc:
        org = await _organization(request, db_session)
        return fragment(request, TEMPLATES["logo"], status_code=422, **_context(org, errors=_errors(exc)))
    return hx_redirect(request, PAGE, message=current_translator().gettext("Logo updated."))


@delete(f"{PAGE}/logo", opt=OPT, include_in_schema=False, status_code=200)
async def delete_logo(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    await profile.remove_logo(request.app.state.kernel, db_session, request.scope["user"])
    return hx_redirect(request, PAGE, message=current_translator().gettext("Logo removed."))


ROUTES = [
    company_page,
    save_name,
    save_brand,
    save_region,
    save_contact,
    save_hours,
    save_policies,
    upload_logo,
    delete_logo,
]
