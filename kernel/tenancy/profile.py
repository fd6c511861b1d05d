"""The company profile: who the organization is, how it looks, when it opens and what it promises.

Everything the panel ``/app/-/company`` and ``/api/v1/organization`` change goes through here, with no
HTTP in sight: :func:`update_profile` validates and saves any subset of the fields (every change
audited as ``organization.updated``), :func:`change_logo` and :func:`remove_logo` handle the logo in the
file storage, and :func:`is_open`, :func:`next_opening` and :func:`agent_context` read the profile for
the code that serves customers (business hours in the organization's own time zone, and the plain-text
block AI agents put in their prompts).

Business hours are ``{"mon": [["09:00", "12:00"], ["13:00", "18:00"]], ..., "sun": []}``: every
weekday, each with up to three ``[opening, closing]`` pairs in the organization's time zone, in order
and not overlapping; a closing time of ``24:00`` (or ``00:00``, read as midnight) runs to the end of the
day. An empty mapping means the organization publishes no hours, which counts as always open.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import anyio
import phonenumbers
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.service import record
from kernel.errors import NotFound, ProviderError, ValidationFailed
from kernel.i18n.catalogs import N_, SUPPORTED_LANGUAGES
from kernel.storage import StorageError, current_storage, tenant_key
from kernel.storage.images import IMAGE_FORMATS, clean_image
from kernel.tenancy.models import Organization
from kernel.tenancy.services import time_zones
from kernel.web.theme import normalize_hex

__all__ = [
    "DAYS",
    "LOGO_MAX_BYTES",
    "LOGO_MAX_SIZE",
    "MAX_INTERVALS",
    "PROFILE_FIELDS",
    "TEXT_MAX_LENGTH",
    "FieldProblem",
    "ProfileInvalid",
    "agent_context",
    "change_logo",
    "format_phone",
    "get_organization",
    "hours_in_words",
    "is_open",
    "next_opening",
    "prepare_logo",
    "profile_snapshot",
    "remove_logo",
    "update_profile",
]

log = structlog.get_logger("kernel.tenancy.profile")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys of the business hours, Monday first (``date.weekday()`` order)."""
MAX_INTERVALS = 3
NAME_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 5000
WEBSITE_MAX_LENGTH = 300
EMAIL_MAX_LENGTH = 254
DEFAULT_REGION = "BR"
"""Phone numbers without a ``+`` country code are read as Brazilian."""

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIZE = 512
"""Logos are fitted within this many pixels on each side."""
LOGO_MAX_PIXELS = 4000 * 4000
"""Larger images are refused before decoding: a small file can unpack into gigabytes (a decompression bomb)."""
LOGO_FORMATS = IMAGE_FORMATS

TEXT_FIELDS = ("about", "refund_policy", "privacy_policy")
PROFILE_FIELDS = (
    "name",
    "brand_primary",
    "brand_accent",
    "timezone",
    "language",
    "website",
    "contact_email",
    "contact_phone",
    "business_hours",
    *TEXT_FIELDS,
)
"""The fields :func:`update_profile` accepts (the logo has its own functions)."""

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_MIDNIGHT = 24 * 60
# -- Errors ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field: a machine code, and an English sentence (msgid) to show."""

    field: str
    code: str
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)


class ProfileInvalid(ValidationFailed):
    """One or more fields of the profile are invalid; ``problems`` says what is wrong with each.

    The problem document lists every field in ``errors`` (``{"field", "message": code}``); pages show
    each field its own sentence.
    """

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        errors = [{"field": p.field, "message": p.code} for p in self.problems]
        if len(self.problems) == 1:
            only = self.problems[0]
            super().__init__(only.message, errors=errors, **only.params)
        else:
            names = ", ".join(p.field for p in self.problems)
            super().__init__("Some fields need attention: %(fields)s.", errors=errors, fields=names)


class _Problems:
    """Collects every problem of a submission, so a form can show them all at once."""

    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, name: str, code: str, message: str, **params: Any) -> None:
        self.items.append(FieldProblem(name, code, message, params))

    def raise_any(self) -> None:
        if self.items:
            raise ProfileInvalid(self.items)


# -- Reading -----------------------------------------------------------------------------------------


async def get_organization(session: AsyncSession, tenant_id: UUID | None, *, lock: bool = False) -> Organization:
    """The organization of ``tenant_id`` (the caller's own: never an id taken from the request).

    ``lock`` holds its row until the transaction ends, so two changes of the logo take turns.
    """
    if tenant_id is None:
        raise NotFound("Platform administrators belong to no organization.")
    org = await session.get(Organization, tenant_id, with_for_update=lock or None, populate_existing=lock)
    if org is None:
        raise NotFound("Organization not found.")
    return org


def profile_snapshot(org: Organization) -> dict[str, Any]:
    """The profile's fields as plain values (for the audit trail and for comparisons)."""
    values = {name: getattr(org, name) for name in PROFILE_FIELDS}
    values["business_hours"] = _copy_hours(org.business_hours)
    values["logo_path"] = org.logo_path
    return values


# -- Validation --------------------------------------------------------------------------------------


def _clean_text(value: Any) -> str:
    # Browsers post line breaks as CRLF; counting them as one character keeps the limit the form shows.
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _name(value: Any, problems: _Problems) -> str | None:
    name = " ".join(_clean_text(value or "").split())
    if not name:
        problems.add("name", "required", N_("The organization needs a name."))
        return None
    if len(name) > NAME_MAX_LENGTH:
        problems.add("name", "too long", N_("The name can have at most %(limit)d characters."), limit=NAME_MAX_LENGTH)
        return None
    return name


def _colour(name: str, value: Any, problems: _Problems) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None  # back to the default theme
    try:
        return normalize_hex(text)
    except ValueError:
        problems.add(name, "invalid", N_("Use a colour in hex, like #7c3aed."))
        return None


def _timezone(value: Any, problems: _Problems) -> str | None:
    text = str(value or "").strip()
    if text not in time_zones():
        problems.add("timezone", "unknown", N_("Choose a time zone from the list, like America/Sao_Paulo."))
        return None
    return text


def _language(value: Any, problems: _Problems) -> str | None:
    text = str(value or "").strip()
    if text not in SUPPORTED_LANGUAGES:
        problems.add(
            "language",
            "unknown",
            N_("The language must be one of %(languages)s."),
            languages=", ".join(SUPPORTED_LANGUAGES),
        )
        return None
    return text


def _website(value: Any, problems: _Problems) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if "://" not in text:
        text = "https://" + text  # people type "padaria.com.br"
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host, parts = "", None
    valid = (
        parts is not None
        and parts.scheme in ("http", "https")
        and "." in host
        and not parts.username
        and not parts.password
        and not any(c.isspace() for c in text)
    )
    if not valid:
        problems.add("website", "invalid", N_("Enter a web address like https://www.example.com.br."))
        return None
    if len(text) > WEBSITE_MAX_LENGTH:
        problems.add(
            "website", "too long", N_("The address can have at most %(limit)d characters."), limit=WEBSITE_MAX_LENGTH
        )
        return None
    return text


def _email(value: Any, problems: _Problems) -> str | None:
    from kernel.tenancy.services import validate_email

    text = str(value or "").strip()
    if not text:
        return None
    try:
        email = validate_email(text)
    except ValidationFailed:
        email = ""
    if not email or len(email) > EMAIL_MAX_LENGTH:
        problems.add("contact_email", "invalid", N_("Enter an email address like contato@example.com.br."))
        return None
    return email


def _phone(value: Any, problems: _Problems) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        problems.add(
            "contact_phone",
            "invalid",
            N_("Enter a phone number with its area code, like (11) 98765-4321, or + and the country code."),
        )
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str | None) -> str:
    """A stored (E.164) phone number as people write it: ``+55 11 98765-4321``."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _text(name: str, value: Any, problems: _Problems) -> str | None:
    text = _clean_text(value or "")
    if len(text) > TEXT_MAX_LENGTH:
        problems.add(name, "too long", N_("This text can have at most %(limit)d characters."), limit=TEXT_MAX_LENGTH)
        return None
    return text


def _minutes(value: Any, *, closing: bool) -> int | None:
    """``"09:30"`` as 570; ``None`` when it is not a time of day (``24:00`` only as a closing time)."""
    match = _TIME.match(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not closing)):
        return None
    total = hours * 60 + minutes
    # A time picker cannot say 24:00: closing "at 00:00" means at midnight, the end of the day.
    return _MIDNIGHT if closing and total == 0 else total


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _hours(value: Any, problems: _Problems) -> dict[str, list[list[str]]] | None:
    """Validate and normalise business hours: every weekday present, intervals sorted, times ``HH:MM``."""
    if value is None or value == {}:
        return {}
    if not isinstance(value, Mapping):
        problems.add(
            "business_hours",
            "invalid",
            N_("Business hours map each weekday (mon to sun) to a list of [opening, closing] times."),
        )
        return None
    unknown = sorted(str(key) for key in value if key not in DAYS)
    if unknown:
        problems.add(
            "business_hours",
            "unknown",
            N_("Unknown weekday %(days)s: use mon, tue, wed, thu, fri, sat and sun."),
            days=", ".join(unknown),
        )
        return None
    result: dict[str, list[list[str]]] = {}
    valid = True
    for day in DAYS:
        intervals = _day_intervals(day, value.get(day) or [], problems)
        if intervals is None:
            valid = False
            continue
        result[day] = [[_clock(start), _clock(end)] for start, end in intervals]
    return result if valid else None


def _day_intervals(day: str, raw: Any, problems: _Problems) -> list[tuple[int, int]] | None:
    name = f"business_hours.{day}"
    if not isinstance(raw, list | tuple):
        problems.add(name, "invalid", N_("A day's hours are a list of [opening, closing] times."))
        return None
    if len(raw) > MAX_INTERVALS:
        problems.add(name, "too long", N_("A day can have at most %(limit)d intervals."), limit=MAX_INTERVALS)
        return None
    intervals: list[tuple[int, int]] = []
    for pair in raw:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            problems.add(name, "invalid", N_("A day's hours are a list of [opening, closing] times."))
            return None
        start, end = _minutes(pair[0], closing=False), _minutes(pair[1], closing=True)
        if start is None or end is None:
            problems.add(
                name, "invalid", N_("Use times like 09:00. A closing time of 00:00 (or 24:00) means midnight.")
            )
            return None
        if start >= end:
            problems.add(name, "invalid", N_("Each interval must close after it opens."))
            return None
        intervals.append((start, end))
    intervals.sort()
    for (_, previous_end), (start, _) in itertools.pairwise(intervals):
        if start < previous_end:
            problems.add(name, "invalid", N_("The intervals of a day must not overlap."))
            return None
    return intervals


_VALIDATORS: dict[str, Callable[[Any, _Problems], Any]] = {
    "name": _name,
    "brand_primary": lambda value, problems: _colour("brand_primary", value, problems),
    "brand_accent": lambda value, problems: _colour("brand_accent", value, problems),
    "timezone": _timezone,
    "language": _language,
    "website": _website,
    "contact_email": _email,
    "contact_phone": _phone,
    "business_hours": _hours,
    **{
        name: (lambda value, problems, name=name: _text(name, value, problems))  # type: ignore[misc]
        for name in TEXT_FIELDS
    },
}


def _validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(PROFILE_FIELDS))
    if unknown:
        # The API's schema refuses unknown fields first; reaching this is a programming error.
        raise ValueError(f"not profile fields: {', '.join(unknown)}")
    problems = _Problems()
    cleaned: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        if name not in changes:
            continue
        known = len(problems.items)
        value = _VALIDATORS[name](changes[name], problems)
        if len(problems.items) == known:
            cleaned[name] = value
    problems.raise_any()
    return cleaned


# -- Changing ----------------------------------------------------------------------------------------


def _who(actor: Any) -> dict[str, Any]:
    return {"actor_type": actor.kind, "actor_id": actor.user_id, "actor_label": actor.audit_label}


async def update_profile(session: AsyncSession, actor: Any, changes: Mapping[str, Any]) -> Organization:
    """Validate and save ``changes`` (any of :data:`PROFILE_FIELDS`) to the actor's organization.

    Nothing is saved unless every given field is valid (:class:`ProfileInvalid` lists each problem).
    Fields left out keep their value; an empty colour, website, email or phone clears it; empty
    business hours (``{}``) mean no published hours. The change is audited as ``organization.updated``
    with the fields that changed, in the caller's transaction.
    """
    org = await get_organization(session, actor.tenant_id)
    cleaned = _validate(changes)
    before = profile_snapshot(org)
    changed = {name: value for name, value in cleaned.items() if before[name] != value}
    if not changed:
        return org
    for name, value in changed.items():
        setattr(org, name, value)
    await session.flush()
    after = profile_snapshot(org)
    await record(
        session,
        action="organization.updated",
        target_type="organization",
        target_id=org.id,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
        **_who(actor),
    )
    return org


# -- The logo ----------------------------------------------------------------------------------------


def _refuse_logo(message: str, **params: Any) -> ProfileInvalid:
    return ProfileInvalid([FieldProblem("logo", "invalid", message, params)])


_LOGO_REFUSALS = {
    "empty": (N_("Choose an image file to upload."), {}),
    "too_large": (N_("The logo can be at most %(size)s."), {"size": "2 MB"}),
    "svg": (N_("SVG images are not accepted: upload the logo as PNG, JPEG, WebP or GIF."), {}),
    "too_many_pixels": (N_("This image is too large: use one of at most 4000 by 4000 pixels."), {}),
    "unreadable": (N_("This file is not an image we can read: upload a PNG, JPEG, WebP or GIF."), {}),
}


def prepare_logo(data: bytes, filename: str | None = None, content_type: str | None = None) -> bytes:
    """An uploaded image made safe to show: decoded, without metadata, within 512x512, as PNG.

    Refuses (with :class:`ProfileInvalid` on the field ``logo``) empty or over-large files, SVG
    (a script container, not a picture), anything Pillow cannot open as PNG, JPEG, WebP or GIF, and
    images with more than :data:`LOGO_MAX_PIXELS` pixels (see :func:`kernel.storage.images.clean_image`).
    CPU-bound: call it in a worker thread.
    """

    def refuse(reason: str) -> ProfileInvalid:
        message, params = _LOGO_REFUSALS[reason]
        return _refuse_logo(message, **params)

    return clean_image(
        data,
        max_bytes=LOGO_MAX_BYTES,
        max_side=LOGO_MAX_SIZE,
        max_pixels=LOGO_MAX_PIXELS,
        filename=filename,
        content_type=content_type,
        refuse=refuse,
    )


async def change_logo(
    kernel: Any,
    session: AsyncSession,
    actor: Any,
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
) -> Organization:
    """Replace the organization's logo with the uploaded image (see :func:`prepare_logo`).

    Stores the new file, points the organization at it, audits ``organization.logo_changed`` and
    **commits**, and only then deletes the previous file: a failed save never leaves the organization
    pointing at a file that is gone.
    """
    png = await anyio.to_thread.run_sync(prepare_logo, data, filename, content_type)
    org = await get_organization(session, actor.tenant_id, lock=True)
    key = tenant_key(org.id, "logo.png", png, visibility="public")
    previous = org.logo_path
    if key == previous:
        return org  # the very same picture again
    storage = current_storage(kernel)
    try:
        await storage.put(key, png, content_type="image/png")
    except StorageError as exc:
        log.error("logo_store_failed", tenant_id=str(org.id), error=str(exc))
        raise ProviderError("The file could not be stored. Try again in a moment.") from exc
    org.logo_path = key
    try:
        await session.flush()
        await record(
            session,
            action="organization.logo_changed",
            target_type="organization",
            target_id=org.id,
            before={"logo_path": previous},
            after={"logo_path": key},
            **_who(actor),
        )
        await session.commit()
    except BaseException:
        await _discard(kernel, key)
        raise
    if previous:
        await _discard(kernel, previous)
    return org


async def remove_logo(kernel: Any, session: AsyncSession, actor: Any) -> Organization:
    """Take the logo off (the shell shows the default mark again); audited, committed, file deleted."""
    org = await get_organization(session, actor.tenant_id, lock=True)
    previous = org.logo_path
    if previous is None:
        return org
    org.logo_path = None
    await session.flush()
    await record(
        session,
        action="organization.logo_removed",
        target_type="organization",
        target_id=org.id,
        before={"logo_path": previous},
        after={"logo_path": None},
        **_who(actor),
    )
    await session.commit()
    await _discard(kernel, previous)
    return org


async def _discard(kernel: Any, key: str) -> None:
    """Delete a file no row points at any more. A failure leaves an orphan, which harms no one: log it."""
    try:
        await current_storage(kernel).delete(key)
    except StorageError as exc:
        log.warning("logo_delete_failed", key=key, error=str(exc))


# -- Business hours ----------------------------------------------------------------------------------


def _copy_hours(hours: Any) -> dict[str, list[list[str]]]:
    if not isinstance(hours, Mapping):
        return {}
    return {day: [list(pair) for pair in hours.get(day) or []] for day in DAYS if day in hours}


def _zone(org: Any) -> ZoneInfo:
    name = getattr(org, "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return ZoneInfo("UTC")


def _intervals(org: Any) -> dict[str, list[tuple[int, int]]] | None:
    """Each weekday's intervals in minutes; ``None`` when the organization publishes no hours."""
    hours = getattr(org, "business_hours", None)
    if not hours:
        return None
    result: dict[str, list[tuple[int, int]]] = {}
    for day in DAYS:
        pairs = []
        for pair in hours.get(day) or []:
            start, end = _minutes(pair[0], closing=False), _minutes(pair[1], closing=True)
            if start is not None and end is not None and start < end:
                pairs.append((start, end))
        result[day] = sorted(pairs)
    return result


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("pass a timezone-aware datetime (datetime.now(UTC))")
    return at


def is_open(org: Any, at: datetime) -> bool:
    """Whether the organization is open at ``at`` (aware), by the wall clock of its own time zone.

    No published hours count as always open.
    """
    intervals = _intervals(org)
    if intervals is None:
        return True
    local = _aware(at).astimezone(_zone(org))
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in intervals[DAYS[local.weekday()]])


def next_opening(org: Any, at: datetime) -> datetime | None:
    """When the organization is next open, at or after ``at``: ``at`` itself when it is open then.

    The answer is in the organization's time zone; ``None`` when every day is closed.
    """
    if is_open(org, at):
        return _aware(at).astimezone(_zone(org))
    intervals = _intervals(org)
    assert intervals is not None  # no hours means always open, answered above
    zone = _zone(org)
    local = at.astimezone(zone)
    for offset in range(8):  # a week ahead, and the same weekday again for a later interval
        day: date = local.date() + timedelta(days=offset)
        for start, _ in intervals[DAYS[day.weekday()]]:
            opening = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone)
            # Compare instants, not wall clocks: around a daylight-saving change they differ.
            if opening.astimezone(UTC) > at.astimezone(UTC):
                return opening
    return None


# -- Words for people and AI agents -------------------------------------------------------------------

_ENGLISH_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _day_names(language: str | None) -> tuple[str, ...]:
    """Weekday names, Monday first, in ``language`` (from Babel's locale data; English without one)."""
    if not language:
        return _ENGLISH_DAYS
    from kernel.i18n.formatting import babel_locale

    names = babel_locale(language).days["stand-alone"]["wide"]
    return tuple(names[i][:1].upper() + names[i][1:] for i in range(7))


def hours_in_words(org: Any, gettext: Callable[..., str] | None = None, language: str | None = None) -> str:
    """Business hours as a sentence: ``Monday to Friday: 09:00-12:00, 13:00-18:00; Sunday: closed``.

    Consecutive days with the same hours are grouped. ``gettext`` (a translator's) and ``language``
    put it in a person's language; without them it is English.
    """
    say = gettext or (lambda text, **params: text % params if params else text)
    intervals = _intervals(org)
    if intervals is None:
        return say(N_("not set"))
    names = _day_names(language)
    groups: list[tuple[int, int, list[tuple[int, int]]]] = []
    for index, day in enumerate(DAYS):
        if groups and groups[-1][2] == intervals[day]:
            first, _, same = groups[-1]
            groups[-1] = (first, index, same)
        else:
            groups.append((index, index, intervals[day]))
    parts = []
    for first, last, pairs in groups:
        if first == last:
            days = names[first]
        elif last == first + 1:
            days = say(N_("%(first)s and %(last)s"), first=names[first], last=names[last])
        else:
            days = say(N_("%(first)s to %(last)s"), first=names[first], last=names[last])
        times = ", ".join(f"{_clock(start)}-{_clock(end)}" for start, end in pairs) if pairs else say(N_("closed"))
        parts.append(f"{days}: {times}")
    return "; ".join(parts)


def agent_context(org: Any, gettext: Callable[..., str] | None = None, language: str | None = None) -> str:
    """What AI agents should know about the company, as short plain text for their prompts.

    Name, about, business hours in words (with the time zone), website, email and phone, and the
    refund and privacy policies; empty fields are left out. English labels unless ``gettext`` and
    ``language`` say otherwise.
    """
    say = gettext or (lambda text, **params: text % params if params else text)
    lines = [f"{say(N_('Company'))}: {org.name}"]
    if (org.about or "").strip():
        lines.append(f"{say(N_('About'))}: {org.about.strip()}")
    hours = hours_in_words(org, gettext, language)
    lines.append(f"{say(N_('Business hours'))} ({org.timezone}): {hours}")
    if org.website:
        lines.append(f"{say(N_('Website'))}: {org.website}")
    if org.contact_email:
        lines.append(f"{say(N_('Email'))}: {org.contact_email}")
    if org.contact_phone:
        lines.append(f"{say(N_('Phone'))}: {format_phone(org.contact_phone)}")
    if (org.refund_policy or "").strip():
        lines.append(f"{say(N_('Refund policy'))}:\n{org.refund_policy.strip()}")
    if (org.privacy_policy or "").strip():
        lines.append(f"{say(N_('Privacy policy'))}:\n{org.privacy_policy.strip()}")
    return "\n".join(lines)
