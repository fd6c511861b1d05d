"""The bell: its unread badge and its panel, drawn for htmx from the top bar."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import NotFound
from kernel.notifications import service
from kernel.notifications.api import _user_id, to_out
from kernel.rbac.guard import AUTHENTICATED
from kernel.web.nav import KERNEL_PAGES
from kernel.web.shell import fragment, hx_redirect

__all__ = ["ROUTES"]

OPT = {AUTHENTICATED: True}


@get(f"{KERNEL_PAGES}/notifications/badge", opt=OPT, include_in_schema=False)
async def notification_badge(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    count = await service.unread_count(db_session, _user_id(request))
    return fragment(request, "notifications/_badge.html", unread=count)


async def _panel(request: Request[Any, Any, Any], db_session: AsyncSession) -> Template:
    user_id = _user_id(request)
    rows = await service.list_notifications(db_session, user_id, limit=15)
    return fragment(
        request,
        "notifications/_panel.html",
        items=[to_out(row) for row in rows],
        unread=await service.unread_count(db_session, user_id),
    )


@get(f"{KERNEL_PAGES}/notifications/panel", opt=OPT, include_in_schema=False)
async def notification_panel(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    return await _panel(request, db_session)


@post(f"{KERNEL_PAGES}/notifications/read-all", opt=OPT, include_in_schema=False, status_code=200)
async def notifications_read_all(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Template:
    await service.mark_all_read(db_session, _user_id(request))
    await db_session.flush()
    panel = await _panel(request, db_session)
    panel.headers["HX-Trigger"] = "notifications-changed"
    return panel


@get(f"{KERNEL_PAGES}/notifications/{{notification_id:uuid}}", opt=OPT, include_in_schema=False)
async def notification_open(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], notification_id: FromPath[UUID]
) -> Response[Any]:
    """Follow a notification's link, marking it read on the way."""
    user_id = _user_id(request)
    row = await service.get_notification(db_session, user_id, notification_id)
    if row is None:
        raise NotFound("Notification not found.")
    await service.mark_read(db_session, user_id, notification_id)
    link = row.link or ""
    if not link.startswith("/") or link.startswith(("//", "/\\")):
        link = "/app/"  # only a path of this site, whatever a plugin stored
    return hx_redirect(request, link)


ROUTES = [notification_badge, notification_panel, notifications_read_all, notification_open]
