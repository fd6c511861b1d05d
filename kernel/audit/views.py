"""The audit viewer: an organization's trail (``/app/-/audit``) and the platform's (``/app/-/platform/audit``).

Filters by who, action (exact or ``prefix*``), target and dates (days in the organization's time
zone), newest first, 50 at a time with "older entries" loading the next page in place. The export
buttons download the same selection through the API (CSV or JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.api import decode_cursor, encode_cursor
from kernel.audit.labels import action_label, field_label, target_label
from kernel.audit.models import AuditEntry
from kernel.audit.service import AuditFilter, list_entries
from kernel.errors import ValidationFailed
from kernel.i18n.catalogs import N_, current_translator
from kernel.rbac.guard import PERMISSION
from kernel.web.nav import KERNEL_PAGES, PLATFORM_PAGES
from kernel.web.shell import page

__all__ = ["ROUTES"]

PAGE_SIZE = 50
OPTION_LIMIT = 300
VALUE_PREVIEW = 160


@dataclass
class Selection:
    """The filters as typed (to show them again) and as a query (for the list and the export)."""

    values: dict[str, str] = field(default_factory=dict)
    filters: AuditFilter = field(default_factory=AuditFilter)
    errors: dict[str, str] = field(default_factory=dict)
    cursor: str | None = None


def _local_day_start(day: str, zone: ZoneInfo) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.min, tzinfo=zone)


def read_selection(request: Request[Any, Any, Any], *, platform: bool) -> Selection:
    """The query string's filters, each checked; a bad one is reported on its field, not as a crash."""
    query = request.query_params
    names = ("actor_id", "action", "target_type", "target_id", "since", "until", *(("tenant",) if platform else ()))
    values = {name: (query.get(name) or "").strip()[:200] for name in names}
    actor = request.scope["user"]
    zone = ZoneInfo(actor.tenant_timezone or request.app.state.kernel.settings.default_timezone)
    t = current_translator()
    errors: dict[str, str] = {}
    filters: dict[str, Any] = {}
    if values["actor_id"]:
        try:
            filters["actor_id"] = UUID(values["actor_id"])
        except ValueError:
            errors["actor_id"] = t.gettext(N_("This value is not valid."))
    if values["action"]:
        if "*" in values["action"][:-1]:
            errors["action"] = t.gettext(N_("A * may only end the action, as in user.*"))
        else:
            filters["action"] = values["action"]
    for name in ("target_type", "target_id"):
        if values[name]:
            filters[name] = values[name]
    for name in ("since", "until"):
        if values[name]:
            try:
                start = _local_day_start(values[name], zone)
            except ValueError:
                errors[name] = t.gettext(N_("Use a date like 2026-12-31."))
                continue
            # "until" names the last day shown: the window ends when the next day starts.
            filters[name] = start if name == "since" else start + timedelta(days=1)
    if filters.get("since") and filters.get("until") and filters["since"] >= filters["until"]:
        errors["until"] = t.gettext(N_("The last day must not be before the first."))
    if platform and values.get("tenant"):
        if values["tenant"] == "platform":
            filters["platform_only"] = True
        else:
            try:
                filters["tenant_id"] = UUID(values["tenant"])
            except ValueError:
                errors["tenant"] = t.gettext(N_("This value is not valid."))
    cursor = query.get("cursor") or None
    return Selection(values=values, filters=AuditFilter(**filters), errors=errors, cursor=cursor)


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_PREVIEW else text[: VALUE_PREVIEW - 1] + "…"


def _row(entry: AuditEntry, tenant_names: dict[UUID, str]) -> dict[str, Any]:
    changes = [
        {"field": field_label(name), "before": _preview(change.get("before")), "after": _preview(change.get("after"))}
        for name, change in (entry.changes or {}).items()
        if isinstance(change, dict)
    ]
    return {
        "id": entry.id,
        "created_at": entry.created_at,
        "actor_type": entry.actor_type,
        "actor_label": entry.actor_label or "",
        "actor_id": entry.actor_id,
        "action": entry.action,
        "action_label": action_label(entry.action),
        "target_type": entry.target_type,
        "target_label": target_label(entry.target_type),
        "target_id": entry.target_id,
        "changes": changes,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "request_id": entry.request_id,
        "seq": entry.seq,
        "tenant_id": entry.tenant_id,
        "tenant_name": tenant_names.get(entry.tenant_id) if entry.tenant_id else None,
    }


async def _distinct(session: AsyncSession, column: Any, tenant_id: UUID | None) -> list[str]:
    statement = select(column).distinct().order_by(column).limit(OPTION_LIMIT)
    if tenant_id is not None:
        statement = statement.where(AuditEntry.tenant_id == tenant_id)
    return [value for value in (await session.execute(statement)).scalars() if value]


def _export_links(api_path: str, selection: Selection) -> dict[str, str]:
    params: dict[str, str] = {}
    f = selection.filters
    for name in ("actor_id", "action", "target_type", "target_id"):
        value = getattr(f, name)
        if value:
            params[name] = str(value)
    if f.since:
        params["since"] = f.since.isoformat()
    if f.until:
        params["until"] = f.until.isoformat()
    if f.platform_only:
        params["tenant"] = "platform"
    elif f.tenant_id:
        params["tenant"] = str(f.tenant_id)
    return {kind: f"{api_path}/export?{urlencode({**params, 'format': kind})}" for kind in ("csv", "json")}


async def _render(request: Request[Any, Any, Any], session: AsyncSession, *, platform: bool) -> Template:
    from kernel.auth.models import User
    from kernel.tenancy.models import Organization

    actor = request.scope["user"]
    selection = read_selection(request, platform=platform)
    entries: list[AuditEntry] = []
    next_cursor = None
    if not selection.errors:
        try:
            after = decode_cursor(selection.cursor) if selection.cursor else None
        except ValidationFailed:
            after = None
        entries = await list_entries(session, selection.filters, limit=PAGE_SIZE + 1, after=after)
        if len(entries) > PAGE_SIZE:
            entries = entries[:PAGE_SIZE]
            next_cursor = encode_cursor(entries[-1])
    tenant_id = None if platform else actor.tenant_id
    tenant_names: dict[UUID, str] = {}
    tenants: list[tuple[str, str]] = []
    if platform:
        rows = (await session.execute(select(Organization.id, Organization.name).order_by(Organization.name))).all()
        tenant_names = {row.id: row.name for row in rows}
        tenants = [(str(row.id), row.name) for row in rows]
        people: list[tuple[str, str]] = []
    else:
        users = (await session.execute(select(User.id, User.name, User.email).order_by(User.name))).all()
        people = [(str(row.id), f"{row.name} <{row.email}>") for row in users]
    base = f"{PLATFORM_PAGES}/audit" if platform else f"{KERNEL_PAGES}/audit"
    more_url = None
    if next_cursor:
        more_url = f"{base}?{urlencode({**{k: v for k, v in selection.values.items() if v}, 'cursor': next_cursor})}"
    return page(
        request,
        "audit/list.html",
        platform=platform,
        base_path=base,
        selection=selection,
        values=selection.values,
        errors=selection.errors,
        rows=[_row(entry, tenant_names) for entry in entries],
        more_url=more_url,
        appending=bool(selection.cursor),
        people=people,
        tenants=tenants,
        actions=await _distinct(session, AuditEntry.action, tenant_id),
        target_types=await _distinct(session, AuditEntry.target_type, tenant_id),
        target_label=target_label,
        exports=_export_links("/api/v1/platform/audit" if platform else "/api/v1/audit", selection),
        is_filtered=any(selection.values.values()),
    )


@get(f"{KERNEL_PAGES}/audit", opt={PERMISSION: "kernel.audit.read"}, include_in_schema=False, name="audit")
async def audit_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    return await _render(request, db_session, platform=False)


@get(f"{PLATFORM_PAGES}/audit", opt={PERMISSION: "platform.audit.read"}, include_in_schema=False, name="platform-audit")
async def platform_audit_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    return await _render(request, db_session, platform=True)


ROUTES = [audit_page, platform_audit_page]
