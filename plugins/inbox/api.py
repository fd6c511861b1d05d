"""JSON API, mounted by the kernel under ``/api/v1/inbox``: conversations and their messages,
ownership (assign, claim, transfer with summary, pause the AI), stages, contacts (with LGPD export
and erasure), teams, channels, canned responses, and the history search. Users and API tokens alike."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import Forbidden, NotFound, ValidationFailed, audit
from plugins.inbox.contacts import ContactService, Identity
from plugins.inbox.models import (
    CannedResponse,
    Channel,
    Contact,
    Conversation,
    Message,
    Stage,
    Team,
    TeamMember,
    Transfer,
)
from plugins.inbox.permissions import (
    ASSIGN,
    BOARD,
    CONTACT_READ,
    CONTACT_WRITE,
    HISTORY,
    PRIVACY,
    READ,
    REPLY,
    TEAMS,
)
from plugins.inbox.search import search_history
from plugins.inbox.services import (
    COUNT_CAP,
    ConversationFilters,
    Inbound,
    InboxService,
    Outbound,
    Sender,
    ensure_may_handle,
    list_conversations,
)
from plugins.inbox.stages import StageService
from plugins.inbox.teams import TeamService

Limit = Annotated[int, msgspec.Meta(ge=1, le=200)]
Offset = Annotated[int, msgspec.Meta(ge=0)]
OwnerKindIn = Literal["person", "team", "agent", "none"]


def _user(request: Request[Any, Any, Any]) -> UUID | None:
    return getattr(request.user, "user_id", None)


def _person(request: Request[Any, Any, Any]) -> UUID:
    user_id = _user(request)
    if user_id is None:
        raise Forbidden("Only a person can do this, not an API token.")
    return user_id


class _Patch(msgspec.Struct, forbid_unknown_fields=True):
    def changes(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self.__struct_fields__ if getattr(self, n) is not msgspec.UNSET}


# --- shapes ------------------------------------------------------------------------------------------


class ContactBrief(msgspec.Struct):
    id: UUID
    name: str
    phones: list[str]

    @classmethod
    def of(cls, c: Contact) -> ContactBrief:
        return cls(id=c.id, name=c.name, phones=list(c.phones or []))


class ConversationOut(msgspec.Struct):
    id: UUID
    number: int
    channel_id: UUID
    contact: ContactBrief
    stage_id: UUID
    owner_kind: str
    owner_user_id: UUID | None
    owner_agent_id: UUID | None
    team_id: UUID | None
    ai_paused: bool
    priority: str
    tags: list[str]
    subject: str
    snoozed_until: datetime | None
    unread_count: int
    message_count: int
    last_message_at: datetime | None
    last_message_preview: str
    waiting_since: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    csat_score: int | None
    summary: str
    created_at: datetime

    @classmethod
    def of(cls, c: Conversation, contact: Contact) -> ConversationOut:
        return cls(
            id=c.id,
            number=c.number,
            channel_id=c.channel_id,
            contact=ContactBrief.of(contact),
            stage_id=c.stage_id,
            owner_kind=c.owner_kind,
            owner_user_id=c.owner_user_id,
            owner_agent_id=c.owner_agent_id,
            team_id=c.team_id,
            ai_paused=c.ai_paused,
            priority=c.priority,
            tags=list(c.tags or []),
            subject=c.subject,
            snoozed_until=c.snoozed_until,
            unread_count=c.unread_count,
            message_count=c.message_count,
            last_message_at=c.last_message_at,
            last_message_preview=c.last_message_preview,
            waiting_since=c.waiting_since,
            first_response_at=c.first_response_at,
            resolved_at=c.resolved_at,
            csat_score=c.csat_score,
            summary=c.summary,
            created_at=c.created_at,
        )


class ConversationPage(msgspec.Struct):
    items: list[ConversationOut]
    total: int
    """How many match, up to 1,000; with ``total_capped`` there are more."""
    limit: int
    offset: int
    total_capped: bool = False


class MessageOut(msgspec.Struct):
    id: UUID
    conversation_id: UUID
    direction: str
    sender_kind: str
    sender_user_id: UUID | None
    sender_agent_id: UUID | None
    kind: str
    body: str
    media: dict[str, Any] | None
    payload: dict[str, Any]
    private: bool
    status: str
    error: str | None
    reply_to_id: UUID | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        media = dict(m.media) if m.media else None
        return cls(
            id=m.id,
            conversation_id=m.conversation_id,
            direction=m.direction,
            sender_kind=m.sender_kind,
            sender_user_id=m.sender_user_id,
            sender_agent_id=m.sender_agent_id,
            kind=m.kind,
            body=m.body,
            media=media,
            payload=dict(m.payload or {}),
            private=m.private,
            status=m.status,
            error=m.error,
            reply_to_id=m.reply_to_id,
            created_at=m.created_at,
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            read_at=m.read_at,
        )


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str = ""
    kind: Literal["text", "image", "audio", "video", "document", "location", "contact"] = "text"
    media: dict[str, Any] | None = None
    payload: dict[str, Any] = {}
    private: bool = False
    reply_to_id: UUID | None = None


class ConversationPatch(_Patch):
    priority: Literal["low", "normal", "high", "urgent"] | msgspec.UnsetType = msgspec.UNSET
    tags: list[str] | msgspec.UnsetType = msgspec.UNSET
    subject: str | msgspec.UnsetType = msgspec.UNSET
    snoozed_until: datetime | msgspec.UnsetType | None = msgspec.UNSET


class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    to_kind: OwnerKindIn
    to_id: UUID | None = None


class TransferIn(msgspec.Struct, forbid_unknown_fields=True):
    to_kind: Literal["person", "team", "agent", "none", "destination"]
    to_id: UUID | None = None
    reason: str = ""
    summary: str | None = None
    """The summary as the person saw (and maybe edited) it in the preview; written now when absent."""
    destination: str | None = None


class TransferOut(msgspec.Struct):
    id: UUID
    from_kind: str
    from_id: UUID | None
    to_kind: str
    to_id: UUID | None
    destination: str | None
    reason: str
    summary: str
    summary_source: str
    by_kind: str
    by_user_id: UUID | None
    created_at: datetime

    @classmethod
    def of(cls, t: Transfer) -> TransferOut:
        return cls(
            id=t.id,
            from_kind=t.from_kind,
            from_id=t.from_id,
            to_kind=t.to_kind,
            to_id=t.to_id,
            destination=t.destination,
            reason=t.reason,
            summary=t.summary,
            summary_source=t.summary_source,
            by_kind=t.by_kind,
            by_user_id=t.by_user_id,
            created_at=t.created_at,
        )


class PreviewOut(msgspec.Struct):
    summary: str
    source: str
    key_points: list[str]


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    stage_id: UUID


class CsatIn(msgspec.Struct, forbid_unknown_fields=True):
    score: int
    comment: str | None = None


class InboundIn(msgspec.Struct, forbid_unknown_fields=True):
    """A message from an integration's own channel (the API channel): who wrote and what."""

    identity_kind: str
    identity_address: str
    provider_message_id: str | None = None
    body: str = ""
    kind: Literal["text", "image", "audio", "video", "document", "location", "contact"] = "text"
    name: str = ""
    phone: str | None = None
    email: str | None = None
    media: dict[str, Any] | None = None
    payload: dict[str, Any] = {}


class InboundOut(msgspec.Struct):
    message_id: UUID
    conversation_id: UUID
    created: bool


# --- conversations -----------------------------------------------------------------------------------


async def _may_handle(request: Request[Any, Any, Any], conversation: Conversation) -> None:
    ensure_may_handle(request.user, conversation)


class ConversationsController(Controller):
    path = "/conversations"
    tags = ["inbox"]

    @get("/", opt=READ, summary="List conversations (board and list filters)")
    async def list_conversations(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        stage_id: FromQuery[UUID | None] = None,
        owner_kind: FromQuery[OwnerKindIn | None] = None,
        owner_user_id: FromQuery[UUID | None] = None,
        mine: FromQuery[bool] = False,
        team_id: FromQuery[UUID | None] = None,
        tag: FromQuery[str | None] = None,
        channel_id: FromQuery[UUID | None] = None,
        priority: FromQuery[Literal["low", "normal", "high", "urgent"] | None] = None,
        status: FromQuery[Literal["open", "resolved", "snoozed", "all"]] = "open",
        waiting_minutes: FromQuery[Annotated[int, msgspec.Meta(ge=0)] | None] = None,
        contact_id: FromQuery[UUID | None] = None,
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[Offset] = 0,
    ) -> ConversationPage:
        if mine:
            owner_user_id = _person(request)
        filters = ConversationFilters(
            stage_id,
            owner_kind,
            owner_user_id,
            team_id,
            tag,
            channel_id,
            priority,
            status,
            waiting_minutes,
            contact_id,
        )
        rows, total = await list_conversations(db_session, filters, limit=limit, offset=offset)
        return ConversationPage(
            items=[ConversationOut.of(c, contact) for c, contact in rows],
            total=min(total, COUNT_CAP),
            limit=limit,
            offset=offset,
            total_capped=total > COUNT_CAP,
        )

    async def _out(self, session: AsyncSession, conversation: Conversation) -> ConversationOut:
        contact = await ContactService(session).get(conversation.contact_id)
        return ConversationOut.of(conversation, contact)

    @get("/{conversation_id:uuid}", opt=READ, summary="Read a conversation")
    async def get_conversation(
        self, db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
    ) -> ConversationOut:
        return await self._out(db_session, await InboxService(db_session).get(conversation_id))

    @patch("/{conversation_id:uuid}", opt=REPLY, summary="Change priority, tags, subject or snooze")
    async def update_conversation(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
        data: JSONBody[ConversationPatch],
    ) -> ConversationOut:
        inbox = InboxService(db_session)
        await _may_handle(request, await inbox.get(conversation_id))
        return await self._out(db_session, await inbox.update(conversation_id, **data.changes()))

    @get("/{conversation_id:uuid}/messages", opt=READ, summary="A page of the thread, oldest first")
    async def list_messages(
        self,
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
        before: FromQuery[datetime | None] = None,
        after: FromQuery[datetime | None] = None,
        limit: FromQuery[Limit] = 50,
    ) -> list[MessageOut]:
        inbox = InboxService(db_session)
        await inbox.get(conversation_id)
        return [
            MessageOut.of(m) for m in await inbox.messages(conversation_id, before=before, after=after, limit=limit)
        ]

    @post("/{conversation_id:uuid}/messages", opt=REPLY, summary="Reply (queued for the channel) or write a note")
    async def send_message(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
        data: JSONBody[MessageIn],
    ) -> MessageOut:
        inbox = InboxService(db_session)
        conversation = await inbox.get(conversation_id)
        if not data.private:
            await _may_handle(request, conversation)
        user_id = _user(request)
        sender = Sender.person(user_id) if user_id else Sender.system()
        outbound = Outbound(
            body=data.body,
            kind=data.kind,
            media=data.media,
            payload=dict(data.payload),
            private=data.private,
            reply_to_id=data.reply_to_id,
        )
        return MessageOut.of(await inbox.send(conversation_id, outbound, sender))

    @post("/{conversation_id:uuid}/read", opt=READ, summary="Mark the conversation read", status_code=200)
    async def mark_read(
        self, db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
    ) -> ConversationOut:
        return await self._out(db_session, await InboxService(db_session).mark_read(conversation_id))

    @post("/{conversation_id:uuid}/assign", opt=ASSIGN, summary="Give the conversation to an owner", status_code=200)
    async def assign(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
        data: JSONBody[AssignIn],
    ) -> ConversationOut:
        conversation = await InboxService(db_session).assign(
            conversation_id, data.to_kind, data.to_id, by_user_id=_user(request)
        )
        return await self._out(db_session, conversation)

    @post("/{conversation_id:uuid}/claim", opt=REPLY, summary="Take the conversation from the queue", status_code=200)
    async def claim(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
    ) -> ConversationOut:
        conversation = await InboxService(db_session).claim(conversation_id, _person(request))
        return await self._out(db_session, conversation)

    @post(
        "/{conversation_id:uuid}/release", opt=REPLY, summary="Give the conversation back to the queue", status_code=200
    )
    async def release(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
    ) -> ConversationOut:
        inbox = InboxService(db_session)
        await _may_handle(request, await inbox.get(conversation_id))
        user_id = None if request.user.can("inbox.conversation.assign") else _person(request)
        return await self._out(db_session, await inbox.release(conversation_id, user_id))

    @get("/{conversation_id:uuid}/transfer-preview", opt=REPLY, summary="The summary a transfer would send")
    async def transfer_preview(
        self, db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
    ) -> PreviewOut:
        preview = await InboxService(db_session).transfer_preview(conversation_id)
        return PreviewOut(summary=preview.summary, source=preview.source, key_points=preview.key_points)

    @post("/{conversation_id:uuid}/transfer", opt=REPLY, summary="Transfer, with a summary for the new owner")
    async def transfer(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
        data: JSONBody[TransferIn],
    ) -> TransferOut:
        inbox = InboxService(db_session)
        await _may_handle(request, await inbox.get(conversation_id))
        user_id = _user(request)
        record = await inbox.transfer(
            conversation_id,
            data.to_kind,
            data.to_id,
            reason=data.reason,
            summary=data.summary,
            destination=data.destination,
            by=Sender.person(user_id) if user_id else Sender.system(),
        )
        return TransferOut.of(record)

    @get("/{conversation_id:uuid}/transfers", opt=READ, summary="The conversation's transfers, newest first")
    async def list_transfers(
        self, db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID]
    ) -> list[TransferOut]:
        await InboxService(db_session).get(conversation_id)
        rows = await db_session.execute(
            select(Transfer).where(Transfer.conversation_id == conversation_id).order_by(Transfer.created_at.desc())
        )
        return [TransferOut.of(t) for t in rows.scalars()]

    @post("/{conversation_id:uuid}/pause-ai", opt=REPLY, summary="Stop the AI on this conversation", status_code=200)
    async def pause_ai(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
    ) -> ConversationOut:
        conversation = await InboxService(db_session).pause_ai(conversation_id, by_user_id=_user(request))
        return await self._out(db_session, conversation)

    @post("/{conversation_id:uuid}/resume-ai", opt=REPLY, summary="Let the AI answer again", status_code=200)
    async def resume_ai(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
    ) -> ConversationOut:
        conversation = await InboxService(db_session).resume_ai(conversation_id, by_user_id=_user(request))
        return await self._out(db_session, conversation)

    @post("/{conversation_id:uuid}/resolve", opt=REPLY, summary="Resolve (asks for a rating when on)", status_code=200)
    async def resolve(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
    ) -> ConversationOut:
        inbox = InboxService(db_session)
        await _may_handle(request, await inbox.get(conversation_id))
        return await self._out(db_session, await inbox.resolve(conversation_id, by_user_id=_user(request)))

    @post("/{conversation_id:uuid}/reopen", opt=REPLY, summary="Reopen a resolved conversation", status_code=200)
    async def reopen(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
    ) -> ConversationOut:
        conversation = await InboxService(db_session).reopen(conversation_id, by_user_id=_user(request))
        return await self._out(db_session, conversation)

    @post(
        "/{conversation_id:uuid}/move", opt=REPLY, summary="Move to another stage (the board's drag)", status_code=200
    )
    async def move(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        conversation_id: FromPath[UUID],
        data: JSONBody[MoveIn],
    ) -> ConversationOut:
        inbox = InboxService(db_session)
        await _may_handle(request, await inbox.get(conversation_id))
        return await self._out(db_session, await inbox.move(conversation_id, data.stage_id, by_user_id=_user(request)))

    @post("/{conversation_id:uuid}/csat", opt=REPLY, summary="Record the customer's rating", status_code=200)
    async def csat(
        self, db_session: NamedDependency[AsyncSession], conversation_id: FromPath[UUID], data: JSONBody[CsatIn]
    ) -> ConversationOut:
        conversation = await InboxService(db_session).record_csat(conversation_id, data.score, data.comment)
        return await self._out(db_session, conversation)


# --- channels ----------------------------------------------------------------------------------------


class ChannelOut(msgspec.Struct):
    id: UUID
    kind: str
    name: str
    active: bool
    public_key: str
    team_id: UUID | None
    agent_id: UUID | None

    @classmethod
    def of(cls, c: Channel) -> ChannelOut:
        return cls(
            id=c.id,
            kind=c.kind,
            name=c.name,
            active=c.active,
            public_key=c.public_key,
            team_id=c.team_id,
            agent_id=c.agent_id,
        )


class ChannelPatch(_Patch):
    name: str | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    team_id: UUID | msgspec.UnsetType | None = msgspec.UNSET
    agent_id: UUID | msgspec.UnsetType | None = msgspec.UNSET


class ChannelsController(Controller):
    path = "/channels"
    tags = ["inbox"]

    @get("/", opt=READ, summary="List channels")
    async def list_channels(self, db_session: NamedDependency[AsyncSession]) -> list[ChannelOut]:
        from plugins.inbox.demo import ensure_webchat

        await ensure_webchat(db_session)
        rows = await db_session.execute(select(Channel).order_by(Channel.created_at))
        return [ChannelOut.of(c) for c in rows.scalars()]

    @patch("/{channel_id:uuid}", opt=BOARD, summary="Rename a channel, route it to a team or an AI agent")
    async def update_channel(
        self, db_session: NamedDependency[AsyncSession], channel_id: FromPath[UUID], data: JSONBody[ChannelPatch]
    ) -> ChannelOut:
        channel = await InboxService(db_session).channel(channel_id)
        changes = data.changes()
        if changes.get("team_id"):
            await TeamService(db_session).get(changes["team_id"])
        if "name" in changes:
            name = " ".join(changes.pop("name").split())[:120]
            if not name:
                raise ValidationFailed("Give the channel a name.", errors=[{"field": "name", "message": "required"}])
            channel.name = name
        for key, value in changes.items():
            setattr(channel, key, value)
        await db_session.flush()
        await audit(
            db_session,
            action="inbox.channel.updated",
            target_type="inbox_channel",
            target_id=channel.id,
            after={k: str(v) for k, v in data.changes().items()},
        )
        return ChannelOut.of(channel)

    @post("/{channel_id:uuid}/inbound", opt=BOARD, summary="Deliver a message from an integration's channel")
    async def inbound(
        self, db_session: NamedDependency[AsyncSession], channel_id: FromPath[UUID], data: JSONBody[InboundIn]
    ) -> InboundOut:
        message, created = await InboxService(db_session).receive(
            Inbound(
                channel_id=channel_id,
                identity=Identity(data.identity_kind, data.identity_address, data.name),
                provider_message_id=data.provider_message_id,
                kind=data.kind,
                body=data.body,
                media=data.media,
                payload=dict(data.payload),
                name=data.name,
                phone=data.phone,
                email=data.email,
            )
        )
        return InboundOut(message_id=message.id, conversation_id=message.conversation_id, created=created)


# --- stages ------------------------------------------------------------------------------------------


class StageOut(msgspec.Struct):
    id: UUID
    name: str
    kind: str
    position: int
    color: str

    @classmethod
    def of(cls, s: Stage) -> StageOut:
        return cls(id=s.id, name=s.name, kind=s.kind, position=s.position, color=s.color)


class StageIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: Literal["new", "open", "waiting", "resolved"]
    color: str = "#8b5cf6"
    position: int | None = None


class StagePatch(_Patch):
    name: str | msgspec.UnsetType = msgspec.UNSET
    kind: Literal["new", "open", "waiting", "resolved"] | msgspec.UnsetType = msgspec.UNSET
    color: str | msgspec.UnsetType = msgspec.UNSET
    position: int | msgspec.UnsetType = msgspec.UNSET


class StagesController(Controller):
    path = "/stages"
    tags = ["inbox"]

    @get("/", opt=READ, summary="The board's stages, in order")
    async def list_stages(self, db_session: NamedDependency[AsyncSession]) -> list[StageOut]:
        return [StageOut.of(s) for s in await StageService(db_session).list()]

    @post("/", opt=BOARD, summary="Add a stage")
    async def create_stage(self, db_session: NamedDependency[AsyncSession], data: JSONBody[StageIn]) -> StageOut:
        stage = await StageService(db_session).create(data.name, data.kind, color=data.color, position=data.position)
        return StageOut.of(stage)

    @patch("/{stage_id:uuid}", opt=BOARD, summary="Rename, recolor or move a stage")
    async def update_stage(
        self, db_session: NamedDependency[AsyncSession], stage_id: FromPath[UUID], data: JSONBody[StagePatch]
    ) -> StageOut:
        return StageOut.of(await StageService(db_session).update(stage_id, **data.changes()))

    @delete("/{stage_id:uuid}", opt=BOARD, summary="Delete a stage (its conversations move)")
    async def delete_stage(
        self,
        db_session: NamedDependency[AsyncSession],
        stage_id: FromPath[UUID],
        move_to: FromQuery[UUID | None] = None,
    ) -> None:
        await StageService(db_session).delete(stage_id, move_to=move_to)


# --- contacts ----------------------------------------------------------------------------------------


class ContactOut(msgspec.Struct):
    id: UUID
    name: str
    phones: list[str]
    emails: list[str]
    language: str | None
    tags: list[str]
    attributes: dict[str, Any]
    merged_into_id: UUID | None
    erased_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime
    identities: list[dict[str, str]] = []

    @classmethod
    def of(cls, c: Contact, identities: list[Any] | None = None) -> ContactOut:
        return cls(
            id=c.id,
            name=c.name,
            phones=list(c.phones or []),
            emails=list(c.emails or []),
            language=c.language,
            tags=list(c.tags or []),
            attributes=dict(c.attributes or {}),
            merged_into_id=c.merged_into_id,
            erased_at=c.erased_at,
            last_seen_at=c.last_seen_at,
            created_at=c.created_at,
            identities=[{"kind": i.kind, "address": i.address, "display": i.display} for i in identities or []],
        )


class ContactPage(msgspec.Struct):
    items: list[ContactOut]
    total: int


class ContactIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str = ""
    phones: list[str] = []
    emails: list[str] = []
    language: str | None = None
    tags: list[str] = []
    attributes: dict[str, Any] = {}


class ContactPatch(_Patch):
    name: str | msgspec.UnsetType = msgspec.UNSET
    phones: list[str] | msgspec.UnsetType = msgspec.UNSET
    emails: list[str] | msgspec.UnsetType = msgspec.UNSET
    language: str | msgspec.UnsetType | None = msgspec.UNSET
    tags: list[str] | msgspec.UnsetType = msgspec.UNSET
    attributes: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    merge_id: UUID


class EraseIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str = ""


class ContactsController(Controller):
    path = "/contacts"
    tags = ["inbox"]

    @get("/", opt=CONTACT_READ, summary="List or search contacts (name, phone digits, e-mail)")
    async def list_contacts(
        self,
        db_session: NamedDependency[AsyncSession],
        q: FromQuery[str | None] = None,
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[Offset] = 0,
    ) -> ContactPage:
        rows, total = await ContactService(db_session).list(query=q, limit=limit, offset=offset)
        return ContactPage(items=[ContactOut.of(c) for c in rows], total=total)

    @post("/", opt=CONTACT_WRITE, summary="Register a contact")
    async def create_contact(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[ContactIn]
    ) -> ContactOut:
        service = ContactService(db_session)
        contact = await service.create(
            name=data.name,
            phones=data.phones,
            emails=data.emails,
            language=data.language,
            tags=data.tags,
            attributes=dict(data.attributes),
            actor_id=_user(request),
        )
        return ContactOut.of(contact, await service.identities(contact.id))

    @get("/{contact_id:uuid}", opt=CONTACT_READ, summary="Read a contact with its identities")
    async def get_contact(self, db_session: NamedDependency[AsyncSession], contact_id: FromPath[UUID]) -> ContactOut:
        service = ContactService(db_session)
        contact = await service.get(contact_id)
        return ContactOut.of(contact, await service.identities(contact.id))

    @patch("/{contact_id:uuid}", opt=CONTACT_WRITE, summary="Change a contact")
    async def update_contact(
        self, db_session: NamedDependency[AsyncSession], contact_id: FromPath[UUID], data: JSONBody[ContactPatch]
    ) -> ContactOut:
        service = ContactService(db_session)
        contact = await service.update(contact_id, **data.changes())
        return ContactOut.of(contact, await service.identities(contact.id))

    @post("/{contact_id:uuid}/merge", opt=CONTACT_WRITE, summary="Merge another contact into this one", status_code=200)
    async def merge_contact(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        contact_id: FromPath[UUID],
        data: JSONBody[MergeIn],
    ) -> ContactOut:
        service = ContactService(db_session)
        contact = await service.merge(contact_id, data.merge_id, actor_id=_user(request))
        return ContactOut.of(contact, await service.identities(contact.id))

    @get("/{contact_id:uuid}/export", opt=PRIVACY, summary="Everything kept about a contact (LGPD)")
    async def export_contact(
        self, db_session: NamedDependency[AsyncSession], contact_id: FromPath[UUID]
    ) -> dict[str, Any]:
        return await ContactService(db_session).export(contact_id)

    @post(
        "/{contact_id:uuid}/erase", opt=PRIVACY, summary="Erase a contact's data and messages (LGPD)", status_code=200
    )
    async def erase_contact(
        self, db_session: NamedDependency[AsyncSession], contact_id: FromPath[UUID], data: JSONBody[EraseIn]
    ) -> ContactOut:
        return ContactOut.of(await ContactService(db_session).erase(contact_id, reason=data.reason))


# --- teams -------------------------------------------------------------------------------------------


class TeamOut(msgspec.Struct):
    id: UUID
    name: str
    assignment: str
    capacity: int
    members: list[dict[str, Any]]

    @classmethod
    def of(cls, t: Team, members: list[TeamMember]) -> TeamOut:
        return cls(
            id=t.id,
            name=t.name,
            assignment=t.assignment,
            capacity=t.capacity,
            members=[{"user_id": str(m.user_id), "capacity": m.capacity, "available": m.available} for m in members],
        )


class TeamIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    assignment: Literal["manual", "round_robin", "least_load"] = "manual"
    capacity: int = 10


class TeamPatch(_Patch):
    name: str | msgspec.UnsetType = msgspec.UNSET
    assignment: Literal["manual", "round_robin", "least_load"] | msgspec.UnsetType = msgspec.UNSET
    capacity: int | msgspec.UnsetType = msgspec.UNSET


class MemberIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UUID
    capacity: int | None = None


class AvailabilityIn(msgspec.Struct, forbid_unknown_fields=True):
    available: bool


class TeamsController(Controller):
    path = "/teams"
    tags = ["inbox"]

    @get("/", opt=READ, summary="List teams with their members")
    async def list_teams(self, db_session: NamedDependency[AsyncSession]) -> list[TeamOut]:
        service = TeamService(db_session)
        return [TeamOut.of(t, await service.members(t.id)) for t in await service.list()]

    @post("/", opt=TEAMS, summary="Create a team")
    async def create_team(self, db_session: NamedDependency[AsyncSession], data: JSONBody[TeamIn]) -> TeamOut:
        from kernel.sdk import QuotaExceeded, plan_feature

        service = TeamService(db_session)
        quota = await plan_feature(db_session, "inbox.teams")
        if quota is not None and len(await service.list()) >= int(quota):
            raise QuotaExceeded("Your plan allows %(count)d teams.", count=int(quota))
        return TeamOut.of(await service.create(data.name, assignment=data.assignment, capacity=data.capacity), [])

    @patch("/{team_id:uuid}", opt=TEAMS, summary="Change a team")
    async def update_team(
        self, db_session: NamedDependency[AsyncSession], team_id: FromPath[UUID], data: JSONBody[TeamPatch]
    ) -> TeamOut:
        service = TeamService(db_session)
        team = await service.update(team_id, **data.changes())
        return TeamOut.of(team, await service.members(team.id))

    @delete("/{team_id:uuid}", opt=TEAMS, summary="Delete a team (its conversations stay, teamless)")
    async def delete_team(self, db_session: NamedDependency[AsyncSession], team_id: FromPath[UUID]) -> None:
        await TeamService(db_session).delete(team_id)

    @post("/{team_id:uuid}/members", opt=TEAMS, summary="Add a person to the team")
    async def add_member(
        self, db_session: NamedDependency[AsyncSession], team_id: FromPath[UUID], data: JSONBody[MemberIn]
    ) -> TeamOut:
        service = TeamService(db_session)
        await service.add_member(team_id, data.user_id, capacity=data.capacity)
        return TeamOut.of(await service.get(team_id), await service.members(team_id))

    @delete("/{team_id:uuid}/members/{user_id:uuid}", opt=TEAMS, summary="Take a person out of the team")
    async def remove_member(
        self, db_session: NamedDependency[AsyncSession], team_id: FromPath[UUID], user_id: FromPath[UUID]
    ) -> None:
        await TeamService(db_session).remove_member(team_id, user_id)


class AvailabilityController(Controller):
    path = "/availability"
    tags = ["inbox"]

    @post("/", opt=REPLY, summary="Mark yourself away or back (automatic assignment skips the away)", status_code=200)
    async def set_availability(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[AvailabilityIn]
    ) -> dict[str, int]:
        changed = await TeamService(db_session).set_available(_person(request), data.available)
        return {"changed": changed}


# --- canned responses --------------------------------------------------------------------------------


class CannedOut(msgspec.Struct):
    id: UUID
    shortcut: str
    title: str
    body: str
    team_id: UUID | None

    @classmethod
    def of(cls, c: CannedResponse) -> CannedOut:
        return cls(id=c.id, shortcut=c.shortcut, title=c.title, body=c.body, team_id=c.team_id)


class CannedIn(msgspec.Struct, forbid_unknown_fields=True):
    shortcut: str
    body: str
    title: str = ""
    team_id: UUID | None = None


class CannedPatch(_Patch):
    shortcut: str | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    title: str | msgspec.UnsetType = msgspec.UNSET
    team_id: UUID | msgspec.UnsetType | None = msgspec.UNSET


def _shortcut(value: str) -> str:
    shortcut = value.strip().lstrip("/").lower()
    if not shortcut or len(shortcut) > 40 or not shortcut.replace("-", "").replace("_", "").isalnum():
        raise ValidationFailed(
            "Shortcuts are one word of letters, digits, - or _.", errors=[{"field": "shortcut", "message": "invalid"}]
        )
    return shortcut


class CannedController(Controller):
    path = "/canned-responses"
    tags = ["inbox"]

    @get("/", opt=READ, summary="Canned responses (those of your teams and everyone's)")
    async def list_canned(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        q: FromQuery[str | None] = None,
    ) -> list[CannedOut]:
        statement = select(CannedResponse).order_by(CannedResponse.shortcut)
        user_id = _user(request)
        if user_id is not None and not request.user.can("inbox.board.manage"):
            teams = await TeamService(db_session).teams_of(user_id)
            statement = statement.where(
                CannedResponse.team_id.is_(None) | CannedResponse.team_id.in_(teams)  # type: ignore[operator]
            )
        rows = list((await db_session.execute(statement)).scalars())
        if q:
            needle = q.strip().lstrip("/").lower()
            rows = [c for c in rows if needle in c.shortcut or needle in c.title.lower()]
        return [CannedOut.of(c) for c in rows]

    @post("/", opt=BOARD, summary="Add a canned response")
    async def create_canned(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[CannedIn]
    ) -> CannedOut:
        from kernel.sdk import Conflict

        if not data.body.strip():
            raise ValidationFailed("Write the response.", errors=[{"field": "body", "message": "required"}])
        shortcut = _shortcut(data.shortcut)
        if (await db_session.execute(select(CannedResponse.id).where(CannedResponse.shortcut == shortcut))).first():
            raise Conflict(
                "The shortcut /%(shortcut)s is taken.",
                errors=[{"field": "shortcut", "message": "taken"}],
                shortcut=shortcut,
            )
        if data.team_id:
            await TeamService(db_session).get(data.team_id)
        canned = CannedResponse(
            shortcut=shortcut,
            title=data.title.strip()[:120],
            body=data.body.strip(),
            team_id=data.team_id,
            created_by=_user(request),
        )
        db_session.add(canned)
        await db_session.flush()
        return CannedOut.of(canned)

    @patch("/{canned_id:uuid}", opt=BOARD, summary="Change a canned response")
    async def update_canned(
        self, db_session: NamedDependency[AsyncSession], canned_id: FromPath[UUID], data: JSONBody[CannedPatch]
    ) -> CannedOut:
        canned = await db_session.get(CannedResponse, canned_id)
        if canned is None:
            raise NotFound("Canned response not found.")
        changes = data.changes()
        if "shortcut" in changes:
            canned.shortcut = _shortcut(changes["shortcut"])
        if "body" in changes:
            if not changes["body"].strip():
                raise ValidationFailed("Write the response.", errors=[{"field": "body", "message": "required"}])
            canned.body = changes["body"].strip()
        if "title" in changes:
            canned.title = changes["title"].strip()[:120]
        if "team_id" in changes:
            if changes["team_id"]:
                await TeamService(db_session).get(changes["team_id"])
            canned.team_id = changes["team_id"]
        await db_session.flush()
        return CannedOut.of(canned)

    @delete("/{canned_id:uuid}", opt=BOARD, summary="Delete a canned response")
    async def delete_canned(self, db_session: NamedDependency[AsyncSession], canned_id: FromPath[UUID]) -> None:
        canned = await db_session.get(CannedResponse, canned_id)
        if canned is None:
            raise NotFound("Canned response not found.")
        await db_session.delete(canned)


# --- history search ----------------------------------------------------------------------------------


class HitOut(msgspec.Struct):
    message_id: UUID
    conversation_id: UUID
    conversation_number: int
    contact_id: UUID
    contact_name: str
    direction: str
    sender_kind: str
    sender_user_id: UUID | None
    sender_agent_id: UUID | None
    private: bool
    created_at: datetime
    snippet: str


@get("/search", opt=HISTORY, summary="Search every conversation's messages (Portuguese, unaccented)", tags=["inbox"])
async def search_messages(
    db_session: NamedDependency[AsyncSession],
    q: FromQuery[str],
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    user_id: FromQuery[UUID | None] = None,
    agent_id: FromQuery[UUID | None] = None,
    tag: FromQuery[str | None] = None,
    channel_id: FromQuery[UUID | None] = None,
    contact_id: FromQuery[UUID | None] = None,
    limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=100)]] = 20,
    offset: FromQuery[Offset] = 0,
) -> list[HitOut]:
    if not q.strip():
        raise ValidationFailed("Type what to search for.", errors=[{"field": "q", "message": "required"}])
    hits = await search_history(
        db_session,
        q,
        since=since,
        until=until,
        user_id=user_id,
        agent_id=agent_id,
        tag=tag,
        channel_id=channel_id,
        contact_id=contact_id,
        limit=limit,
        offset=offset,
    )
    return [HitOut(**hit.__dict__) for hit in hits]


API = [
    ConversationsController,
    ChannelsController,
    StagesController,
    ContactsController,
    TeamsController,
    AvailabilityController,
    CannedController,
    search_messages,
]
