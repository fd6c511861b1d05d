"""``/api/v1/notifications``: one's own notifications, newest first, and marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, post
from litestar import get as get_route
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import NotFound, ValidationFailed
from kernel.i18n.catalogs import current_translator
from kernel.notifications import service
from kernel.rbac.guard import AUTHENTICATED

__all__ = ["ROUTES", "NotificationOut", "NotificationsController"]


class NotificationOut(msgspec.Struct):
    id: UUID
    kind: str
    text: str
    """Translated into the caller's language."""
    link: str | None
    read: bool
    created_at: datetime


class NotificationsPage(msgspec.Struct):
    items: list[NotificationOut]
    unread: int


def _user_id(request: Request[Any, Any, Any]) -> UUID:
    actor = request.scope["user"]
    if actor.kind != "user" or actor.user_id is None or actor.tenant_id is None:
        raise ValidationFailed("Only people in an organization have notifications.")
    return actor.user_id


def to_out(row: Any) -> NotificationOut:
    return NotificationOut(
        id=row.id,
        kind=row.kind,
        text=service.render(row, current_translator()),
        link=row.link,
        read=row.read_at is not None,
        created_at=row.created_at,
    )


class NotificationsController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    opt = {AUTHENTICATED: True}

    @get_route("/", summary="My notifications, newest first, with the unread count")
    async def list_mine(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="1 to 100.")] = 20,
    ) -> NotificationsPage:
        user_id = _user_id(request)
        rows = await service.list_notifications(db_session, user_id, limit=limit)
        return NotificationsPage(
            items=[to_out(row) for row in rows], unread=await service.unread_count(db_session, user_id)
        )

    @post("/{notification_id:uuid}/read", status_code=HTTP_204_NO_CONTENT, summary="Mark one notification read")
    async def read_one(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        notification_id: FromPath[UUID],
    ) -> None:
        if not await service.mark_read(db_session, _user_id(request), notification_id):
            raise NotFound("Notification not found.")

    @post("/read-all", status_code=HTTP_204_NO_CONTENT, summary="Mark all my notifications read")
    async def read_all(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> None:
        await service.mark_all_read(db_session, _user_id(request))


ROUTES = [NotificationsController]
