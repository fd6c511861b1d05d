"""HTML pages, mounted by the kernel under ``/app/inbox``: the attendance board, the list, the
conversation view with its actions, canned responses and teams.

Every page and form action calls the same services as the JSON API (``services.py``), with the same
permissions. Pages stay live through the ``inbox`` real-time topics (``realtime.py``): a push names
the conversation that changed, and the page refetches the piece it shows.
:data:`PAGES` is what ``register_routes`` mounts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import Conflict, KernelError, NotFound, ValidationFailed, gettext, render_page
from kernel.web.shell import form_values, fragment, hx_redirect, toast
from plugins.inbox.contacts import ContactService
from plugins.inbox.models import CannedResponse, Channel, Conversation, Transfer
from plugins.inbox.permissions import ASSIGN, BOARD, HISTORY, READ, REPLY, TEAMS
from plugins.inbox.services import (
    COUNT_CAP,
    ConversationFilters,
    InboxService,
    Outbound,
    Sender,
    ensure_may_handle,
    list_conversations,
    may_handle,
)
from plugins.inbox.settings import InboxSettings
from plugins.inbox.stages import StageService
from plugins.inbox.teams import TeamService

__all__ = ["PAGES"]

BASE = "/app/inbox"
BOARD_LIMIT = 100
"""Cards per column on the board (the oldest activity last; the list page shows everything)."""


def _actor(request: Request[Any, Any, Any]) -> Any:
    return request.scope.get("user")


def _user_id(request: Request[Any, Any, Any]) -> UUID | None:
    return getattr(_actor(request), "user_id", None)


def _say(exc: KernelError) -> str:
    return gettext(exc.detail, **exc.params)


async def _people(session: AsyncSession) -> dict[UUID, str]:
    rows = await session.execute(
        text(
            "SELECT id, name FROM users WHERE tenant_id = current_setting('app.tenant_id')::uuid AND is_active "
            "ORDER BY name"
        )
    )
    return {row.id: row.name for row in rows}


def _waited_minutes(conversation: Conversation, now: datetime) -> int | None:
    if conversation.waiting_since is None or conversation.resolved_at is not None:
        return None
    return int((now - conversation.waiting_since).total_seconds() // 60)


async def _card_context(session: AsyncSession) -> dict[str, Any]:
    settings: InboxSettings = await InboxService(session).settings()
    teams = {t.id: t.name for t in await TeamService(session).list()}
    return {
        "people": await _people(session),
        "teams": teams,
        "now": datetime.now(UTC),
        "thresholds": {p: settings.wait_threshold(p) for p in ("urgent", "high", "normal", "low")},
        "waited": _waited_minutes,
        "base": BASE,
    }


def _board_filters(request: Request[Any, Any, Any]) -> dict[str, str]:
    chosen = {}
    for name in ("team_id", "mine", "priority", "channel_id"):
        value = request.query_params.get(name)
        if value:
            chosen[name] = value
    return chosen


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


async def _board_context(request: Request[Any, Any, Any], session: AsyncSession) -> dict[str, Any]:
    chosen = _board_filters(request)
    stages = await StageService(session).list()
    columns = []
    recent = datetime.now(UTC) - timedelta(days=1)
    for stage in stages:
        filters = ConversationFilters(
            stage_id=stage.id,
            team_id=_uuid(chosen.get("team_id")),
            owner_user_id=_user_id(request) if chosen.get("mine") else None,
            priority=chosen.get("priority") if chosen.get("priority") in ("low", "normal", "high", "urgent") else None,
            channel_id=_uuid(chosen.get("channel_id")),
            status="all" if stage.kind == "resolved" else "open",
        )
        rows, total = await list_conversations(session, filters, limit=BOARD_LIMIT)
        if stage.kind == "resolved":
            # The resolved column shows the last day's, not the whole history.
            rows = [(c, contact) for c, contact in rows if c.resolved_at and c.resolved_at >= recent]
        columns.append({"stage": stage, "cards": rows, "total": total})
    return {"columns": columns, "filters": chosen, **await _card_context(session)}


# --- the board ------------------------------------------------------------------------------------


@get("/", opt=READ, name="inbox.home")
async def inbox_home() -> Response[Any]:
    from litestar.response import Redirect

    return Redirect(path=f"{BASE}/board")


@get("/board", opt=READ)
async def board_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """The attendance board: a column per stage, live; drag a card to move it (the resolved stage resolves)."""
    context = await _board_context(request, db_session)
    if request.headers.get("hx-target") == "inbox-board":
        return fragment(request, "inbox/_board.html", **context)
    context["teams_list"] = await TeamService(db_session).list()
    context["channels"] = list((await db_session.execute(select(Channel).order_by(Channel.created_at))).scalars())
    return render_page(request, "inbox/board.html", **context)


class MoveIn(msgspec.Struct):
    card: UUID
    to: UUID
    index: int = 0


@post("/board/move", opt=REPLY, status_code=200)
async def board_move(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[MoveIn]
) -> dict[str, str]:
    inbox = InboxService(db_session)
    ensure_may_handle(_actor(request), await inbox.get(data.card))
    await inbox.move(data.card, data.to, by_user_id=_user_id(request))
    return {"moved": str(data.card)}


# --- the list -------------------------------------------------------------------------------------

LIST_FILTERS = ("stage_id", "owner_kind", "team_id", "tag", "channel_id", "priority", "status", "waiting", "mine")


@get("/conversations", opt=READ)
async def list_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    query = request.query_params
    chosen = {name: query.get(name) for name in LIST_FILTERS if query.get(name)}
    status = chosen.get("status") if chosen.get("status") in ("open", "resolved", "snoozed", "all") else "open"
    waiting = chosen.get("waiting")
    page_number = max(1, int(query.get("page") or 1)) if (query.get("page") or "1").isdigit() else 1
    per_page = 30
    filters = ConversationFilters(
        stage_id=_uuid(chosen.get("stage_id")),
        owner_kind=chosen.get("owner_kind")
        if chosen.get("owner_kind") in ("agent", "person", "team", "none")
        else None,
        owner_user_id=_user_id(request) if chosen.get("mine") else None,
        team_id=_uuid(chosen.get("team_id")),
        tag=chosen.get("tag"),
        channel_id=_uuid(chosen.get("channel_id")),
        priority=chosen.get("priority") if chosen.get("priority") in ("low", "normal", "high", "urgent") else None,
        status=status,  # type: ignore[arg-type]
        waiting_minutes=int(waiting) if waiting and waiting.isdigit() else None,
    )
    rows, total = await list_conversations(db_session, filters, limit=per_page, offset=(page_number - 1) * per_page)
    context = {
        "rows": rows,
        "total": min(total, COUNT_CAP),
        "total_capped": total > COUNT_CAP,
        "page": page_number,
        "pages": max(1, -(-min(total, COUNT_CAP) // per_page)) + (1 if total > COUNT_CAP else 0),
        "filters": chosen,
        "status": status,
        "stages": await StageService(db_session).list(),
        "teams_list": await TeamService(db_session).list(),
        "channels": list((await db_session.execute(select(Channel).order_by(Channel.created_at))).scalars()),
        **await _card_context(db_session),
    }
    context["stage_names"] = {s.id: s.name for s in context["stages"]}
    if request.headers.get("hx-target") == "inbox-list":
        return fragment(request, "inbox/_list.html", **context)
    return render_page(request, "inbox/list.html", **context)


# --- one conversation -----------------------------------------------------------------------------


async def _conversation_context(
    request: Request[Any, Any, Any], session: AsyncSession, conversation_id: UUID
) -> dict[str, Any]:
    inbox = InboxService(session)
    conversation = await inbox.get(conversation_id)
    contact = await ContactService(session).get(conversation.contact_id)
    messages = await inbox.messages(conversation_id, limit=100)
    stages = await StageService(session).list()
    user_id = _user_id(request)
    canned = select(CannedResponse).order_by(CannedResponse.shortcut)
    if user_id is not None and not _actor(request).can("inbox.board.manage"):
        teams = await TeamService(session).teams_of(user_id)
        canned = canned.where(CannedResponse.team_id.is_(None) | CannedResponse.team_id.in_(teams))  # type: ignore[operator]
    transfers = (
        await session.execute(
            select(Transfer).where(Transfer.conversation_id == conversation_id).order_by(Transfer.created_at.desc())
        )
    ).scalars()
    channel = await inbox.channel(conversation.channel_id)
    forward_channels = list(
        (
            await session.execute(
                select(Channel).where(Channel.active.is_(True), Channel.kind != "webchat").order_by(Channel.name)
            )
        ).scalars()
    )
    return {
        "forward_channels": forward_channels,
        "conversation": conversation,
        "contact": contact,
        "identities": await ContactService(session).identities(contact.id),
        "messages": messages,
        "stages": stages,
        "stage": next((s for s in stages if s.id == conversation.stage_id), None),
        "canned": list((await session.execute(canned)).scalars()),
        "transfers": list(transfers),
        "teams_list": await TeamService(session).list(),
        "channel": channel,
        "mine": conversation.owner_kind == "person" and conversation.owner_user_id == user_id,
        "may_handle": may_handle(_actor(request), conversation),
        **await _card_context(session),
    }


@get("/conversations/{conversation_id:uuid}", opt=READ)
async def conversation_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
) -> Template:
    from kernel.web.slots import render_slot

    context = await _conversation_context(request, db_session, conversation_id)
    target = request.headers.get("hx-target")
    if target == "inbox-thread":
        return fragment(request, "inbox/_thread.html", **context)
    if target == "inbox-conversation-side":
        return fragment(request, "inbox/_side.html", **context)
    if context["conversation"].unread_count:
        await InboxService(db_session).mark_read(conversation_id)
    # Other plugins (CRM, payments) add their part of the contact's panel.
    context["sidebar"] = await render_slot(
        request, "contact.sidebar", contact=context["contact"], conversation=context["conversation"]
    )
    return render_page(request, "inbox/conversation.html", **context)


async def _refresh(
    request: Request[Any, Any, Any], session: AsyncSession, conversation_id: UUID, message: str
) -> Template:
    """After an action: the thread and the side panel again (out of band), with a toast."""
    context = await _conversation_context(request, session, conversation_id)
    return fragment(request, "inbox/_actions_result.html", toast_message=message, **context)


@post("/conversations/{conversation_id:uuid}/messages", opt=REPLY)
async def post_message(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
) -> Template | Response[Any]:
    form = await form_values(request)
    inbox = InboxService(db_session)
    private = form.get("private") in ("on", "true", "1")
    context_errors: dict[str, str] = {}
    try:
        if not private:
            ensure_may_handle(_actor(request), await inbox.get(conversation_id))
        upload = form.get("file")
        media = None
        kind = "text"
        if upload is not None and getattr(upload, "filename", ""):
            media, kind = await _store_upload(upload)
        body = (form.get("body") or "").strip()
        if kind == "text" and not body:
            raise ValidationFailed("Write the message.", errors=[{"field": "body", "message": "required"}])
        await inbox.send(
            conversation_id,
            Outbound(body=body, kind=kind, media=media, private=private),
            Sender.person(_user_id(request)) if _user_id(request) else Sender.system(),
        )
    except ValidationFailed as exc:
        context_errors["body"] = _say(exc)
        context = await _conversation_context(request, db_session, conversation_id)
        return fragment(
            request, "inbox/_composer.html", status_code=422, errors=context_errors, values=dict(form), **context
        )
    await db_session.commit()
    context = await _conversation_context(request, db_session, conversation_id)
    return fragment(request, "inbox/_composer_done.html", errors={}, values={}, **context)


UPLOAD_LIMIT = 16 * 1024 * 1024
KINDS_BY_TYPE = (("image/", "image"), ("audio/", "audio"), ("video/", "video"))


async def _store_upload(upload: Any) -> tuple[dict[str, Any], str]:
    from kernel.sdk import ImageRefused, clean_image, require_tenant_id, storage, tenant_storage_key

    data = await upload.read()
    if len(data) > UPLOAD_LIMIT:
        raise ValidationFailed(
            "Files go up to %(count)d MB.", errors=[{"field": "file", "message": "too_large"}], count=16
        )
    if not data:
        raise ValidationFailed("The file is empty.", errors=[{"field": "file", "message": "empty"}])
    content_type = (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()
    kind = next((k for prefix, k in KINDS_BY_TYPE if content_type.startswith(prefix)), "document")
    filename = (upload.filename or "file").rsplit("/", 1)[-1][:200]
    if kind == "image":
        try:
            data = clean_image(data, max_bytes=UPLOAD_LIMIT, max_side=2048, filename=upload.filename)
        except ImageRefused as exc:
            raise ValidationFailed(
                "This image cannot be read.", errors=[{"field": "file", "message": "image"}]
            ) from exc
        content_type = "image/png"
        filename = filename.rsplit(".", 1)[0] + ".png"
    key = tenant_storage_key(require_tenant_id(), f"inbox/{filename}", data)
    await storage().put(key, data, content_type)
    return {"key": key, "content_type": content_type, "size": len(data), "filename": filename}, kind


async def _checked(request: Request[Any, Any, Any], session: AsyncSession, conversation_id: UUID) -> InboxService:
    inbox = InboxService(session)
    ensure_may_handle(_actor(request), await inbox.get(conversation_id))
    return inbox


@post("/conversations/{conversation_id:uuid}/action", opt=REPLY)
async def conversation_action(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
) -> Template | Response[Any]:
    """The conversation's buttons: claim, release, pause or resume the AI, resolve, reopen, stage, priority."""
    form = await form_values(request)
    action = form.get("action") or ""
    user_id = _user_id(request)
    inbox = await _checked(request, db_session, conversation_id)  # unknown (404) and not yours (403) are errors
    try:
        if action == "claim" and user_id:
            await inbox.claim(conversation_id, user_id)
            message = gettext("The conversation is yours.")
        elif action == "release":
            await inbox.release(conversation_id, None if _actor(request).can("inbox.conversation.assign") else user_id)
            message = gettext("Back in the queue.")
        elif action == "pause_ai":
            await inbox.pause_ai(conversation_id, by_user_id=user_id)
            message = gettext("The AI is paused on this conversation.")
        elif action == "resume_ai":
            await inbox.resume_ai(conversation_id, by_user_id=user_id)
            message = gettext("The AI answers again.")
        elif action == "resolve":
            await inbox.resolve(conversation_id, by_user_id=user_id)
            message = gettext("Resolved.")
        elif action == "reopen":
            await inbox.reopen(conversation_id, by_user_id=user_id)
            message = gettext("Reopened.")
        elif action == "stage" and _uuid(form.get("stage_id")):
            await inbox.move(conversation_id, _uuid(form.get("stage_id")), by_user_id=user_id)  # type: ignore[arg-type]
            message = gettext("Moved.")
        elif action == "priority":
            await inbox.update(conversation_id, priority=form.get("priority"))
            message = gettext("Priority changed.")
        elif action == "snooze":
            hours = {"1": 1, "4": 4, "24": 24, "72": 72}.get(form.get("hours") or "")
            until = datetime.now(UTC) + timedelta(hours=hours) if hours else None
            await inbox.update(conversation_id, snoozed_until=until)
            message = (
                gettext("Snoozed: it comes back by itself, or when the customer writes.")
                if until
                else gettext("No longer snoozed.")
            )
        elif action == "tags":
            tags = [t.strip() for t in (form.get("tags") or "").split(",") if t.strip()]
            await inbox.update(conversation_id, tags=tags)
            message = gettext("Tags saved.")
        else:
            raise ValidationFailed("Unknown action.", errors=[{"field": "action", "message": "invalid"}])
    except (ValidationFailed, Conflict) as exc:
        # A refused change is told in a toast; what is not found or not allowed answers as an error.
        return toast(_say(exc), "error", status_code=200)
    await db_session.commit()
    return await _refresh(request, db_session, conversation_id, message)


@get("/conversations/{conversation_id:uuid}/transfer", opt=REPLY)
async def transfer_dialog(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
) -> Template:
    """The transfer form with the summary preview the new owner will read (editable)."""
    preview = await InboxService(db_session).transfer_preview(conversation_id)
    context = await _conversation_context(request, db_session, conversation_id)
    return fragment(request, "inbox/_transfer.html", preview=preview, errors={}, **context)


@post("/conversations/{conversation_id:uuid}/transfer", opt=REPLY)
async def transfer_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
) -> Template | Response[Any]:
    form = await form_values(request)
    target = form.get("target") or ""
    kind, _, raw_id = target.partition(":")
    user_id = _user_id(request)
    inbox = await _checked(request, db_session, conversation_id)
    try:
        if kind not in ("person", "team", "none", "agent", "destination"):
            raise ValidationFailed(
                "Choose who takes the conversation.", errors=[{"field": "target", "message": "required"}]
            )
        await inbox.transfer(
            conversation_id,
            kind,
            _uuid(raw_id),
            reason=form.get("reason") or "",
            summary=form.get("summary") or None,
            destination=form.get("destination") or None,
            by=Sender.person(user_id) if user_id else Sender.system(),
        )
    except (ValidationFailed, Conflict) as exc:
        preview = await InboxService(db_session).transfer_preview(conversation_id)
        context = await _conversation_context(request, db_session, conversation_id)
        return fragment(
            request, "inbox/_transfer.html", status_code=422, preview=preview, errors={"target": _say(exc)}, **context
        )
    await db_session.commit()
    return hx_redirect(
        request, f"{BASE}/conversations/{conversation_id}", message=gettext("Transferred, with the summary.")
    )


@post("/conversations/{conversation_id:uuid}/assign", opt=ASSIGN)
async def assign_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
) -> Template | Response[Any]:
    form = await form_values(request)
    kind, _, raw_id = (form.get("target") or "").partition(":")
    inbox = InboxService(db_session)
    await inbox.get(conversation_id)
    try:
        await inbox.assign(conversation_id, kind or "none", _uuid(raw_id), by_user_id=_user_id(request))
    except (ValidationFailed, Conflict) as exc:
        return toast(_say(exc), "error", status_code=200)
    await db_session.commit()
    return await _refresh(request, db_session, conversation_id, gettext("Assigned."))


@get("/media", opt=READ)
async def message_file(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[bytes]:
    """A message's file, for the organization's people only (found through the message, so only its own)."""
    from kernel.sdk import NotFound, storage
    from plugins.inbox.models import Message

    key = request.query_params.get("key") or ""
    message = (
        await db_session.execute(select(Message).where(Message.media["key"].astext == key).limit(1))
    ).scalar_one_or_none()
    if message is None or not message.media:
        raise NotFound("File not found.")
    data = await storage().get(key)
    filename = (message.media.get("filename") or "file").replace('"', "")
    inline = message.kind in ("image", "audio", "video")
    return Response(
        data,
        media_type=message.media.get("content_type") or "application/octet-stream",
        headers={
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


@get("/search", opt=HISTORY)
async def search_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """History search: every message, unaccented Portuguese full text, newest first; a hit opens its message."""
    from plugins.inbox.search import search_history

    query = request.query_params
    q = (query.get("q") or "").strip()
    since = _date(query.get("since"))
    until = _date(query.get("until"), end=True)
    hits = (
        await search_history(
            db_session,
            q,
            since=since,
            until=until,
            user_id=_uuid(query.get("user_id")),
            tag=query.get("tag") or None,
            limit=50,
        )
        if q
        else []
    )
    context = {
        "q": q,
        "hits": hits,
        "values": {name: query.get(name) or "" for name in ("since", "until", "user_id", "tag")},
        **await _card_context(db_session),
    }
    if request.headers.get("hx-target") == "inbox-search-results":
        return fragment(request, "inbox/_search_results.html", **context)
    return render_page(request, "inbox/search.html", **context)


def _date(value: str | None, *, end: bool = False) -> datetime | None:
    """A day typed in a date field, as the start (or the end) of that day in UTC; None when empty or wrong."""
    from datetime import date

    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    if day is None:
        return None
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


# --- canned responses and teams -------------------------------------------------------------------


@get("/canned-responses", opt=BOARD)
async def canned_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    rows = list((await db_session.execute(select(CannedResponse).order_by(CannedResponse.shortcut))).scalars())
    return render_page(
        request,
        "inbox/canned.html",
        rows=rows,
        teams_list=await TeamService(db_session).list(),
        errors={},
        values={},
        base=BASE,
    )


@post("/canned-responses", opt=BOARD)
async def canned_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Template | Response[Any]:
    from plugins.inbox.api import _shortcut

    form = await form_values(request)
    errors: dict[str, str] = {}
    try:
        if form.get("delete"):
            canned = await db_session.get(CannedResponse, _uuid(form.get("delete")))
            if canned is None:
                raise NotFound("Canned response not found.")
            await db_session.delete(canned)
        else:
            shortcut = _shortcut(form.get("shortcut") or "")
            body = (form.get("body") or "").strip()
            if not body:
                raise ValidationFailed("Write the response.", errors=[{"field": "body", "message": "required"}])
            taken = (
                await db_session.execute(select(CannedResponse.id).where(CannedResponse.shortcut == shortcut))
            ).first()
            if taken:
                raise ValidationFailed(
                    "The shortcut /%(shortcut)s is taken.",
                    shortcut=shortcut,
                    errors=[{"field": "shortcut", "message": "taken"}],
                )
            db_session.add(
                CannedResponse(
                    shortcut=shortcut,
                    title=(form.get("title") or "").strip()[:120],
                    body=body,
                    team_id=_uuid(form.get("team_id")),
                    created_by=_user_id(request),
                )
            )
        await db_session.commit()
    except ValidationFailed as exc:
        field = exc.errors[0]["field"] if exc.errors else "body"
        errors[field] = _say(exc)
    rows = list((await db_session.execute(select(CannedResponse).order_by(CannedResponse.shortcut))).scalars())
    return fragment(
        request,
        "inbox/_canned_list.html",
        status_code=422 if errors else 200,
        rows=rows,
        teams_list=await TeamService(db_session).list(),
        errors=errors,
        values=dict(form) if errors else {},
        base=BASE,
    )


@get("/teams", opt=TEAMS)
async def teams_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    return render_page(request, "inbox/teams.html", **await _teams_context(db_session))


async def _teams_context(session: AsyncSession, errors: dict[str, str] | None = None) -> dict[str, Any]:
    service = TeamService(session)
    teams = await service.list()
    members = {team.id: await service.members(team.id) for team in teams}
    loads = await service.loads([m.user_id for ms in members.values() for m in ms])
    return {
        "teams_list": teams,
        "members": members,
        "loads": loads,
        "people": await _people(session),
        "errors": errors or {},
        "base": BASE,
    }


@post("/teams", opt=TEAMS)
async def teams_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    form = await form_values(request)
    service = TeamService(db_session)
    errors: dict[str, str] = {}
    try:
        action = form.get("action")
        if action == "create":
            await service.create(
                form.get("name") or "",
                assignment=form.get("assignment") or "manual",
                capacity=int(form.get("capacity") or 10),
            )
        elif action == "add_member" and _uuid(form.get("team_id")) and _uuid(form.get("user_id")):
            await service.add_member(_uuid(form.get("team_id")), _uuid(form.get("user_id")))  # type: ignore[arg-type]
        elif action == "remove_member" and _uuid(form.get("team_id")) and _uuid(form.get("user_id")):
            await service.remove_member(_uuid(form.get("team_id")), _uuid(form.get("user_id")))  # type: ignore[arg-type]
        elif action == "update" and _uuid(form.get("team_id")):
            await service.update(
                _uuid(form.get("team_id")),
                assignment=form.get("assignment") or "manual",  # type: ignore[arg-type]
                capacity=int(form.get("capacity") or 10),
            )
        elif action == "delete" and _uuid(form.get("team_id")):
            await service.delete(_uuid(form.get("team_id")))  # type: ignore[arg-type]
        await db_session.commit()
    except (ValidationFailed, Conflict) as exc:
        await db_session.rollback()
        errors["name"] = _say(exc)
    except ValueError:
        errors["capacity"] = gettext("Capacity goes from 1 to 500 conversations.")
    return fragment(
        request,
        "inbox/_teams_list.html",
        status_code=422 if errors else 200,
        **await _teams_context(db_session, errors),
    )


PAGES = [
    inbox_home,
    board_page,
    board_move,
    list_page,
    conversation_page,
    post_message,
    conversation_action,
    transfer_dialog,
    transfer_submit,
    assign_submit,
    message_file,
    search_page,
    canned_page,
    canned_submit,
    teams_page,
    teams_submit,
]
