"""The inbox's public surface: what channels, the AI agents and other plugins call.

* :meth:`InboxService.receive`: an inbound message from a channel. The same provider message id on
  the same channel is stored once, however many times and however concurrently it is delivered.
* :meth:`InboxService.send`: a reply (person, AI agent or system) or a private note; replies are
  queued and a delivery job hands them to the channel adapter, with retries.
* Ownership (:mod:`plugins.inbox.ownership`): assign, claim, transfer (always with a summary),
  hand-off by the AI, release, pause and resume the AI. The AI's replies are refused while it does
  not own the conversation or is paused, when written and again when delivered.
* Stages, resolve and reopen, priority, tags, snooze, read marks, CSAT, and the wait alerts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import structlog
from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import (
    N_,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    after_commit,
    audit,
    emit,
    enqueue,
    gettext,
    load_plugin_settings,
    notify,
    require_tenant_id,
)
from plugins.inbox import events
from plugins.inbox.contacts import ContactService, Identity, identity_lock
from plugins.inbox.hours import is_open
from plugins.inbox.models import Channel, Contact, ContactIdentity, Conversation, Message, Transfer
from plugins.inbox.ownership import Action, Owner, OwnerKind, OwnershipRefused, OwnerState, ai_may_reply, apply
from plugins.inbox.settings import InboxSettings
from plugins.inbox.stages import StageService
from plugins.inbox.summary import Turn, summarize
from plugins.inbox.teams import TeamService

__all__ = [
    "COUNT_CAP",
    "MESSAGE_KINDS",
    "AIReplyRefused",
    "ConversationFilters",
    "Inbound",
    "InboxService",
    "Outbound",
    "Sender",
    "TransferPreview",
    "ensure_may_handle",
    "list_conversations",
    "may_handle",
]

log = structlog.get_logger("plugins.inbox")

MESSAGE_KINDS = ("text", "image", "audio", "video", "document", "location", "contact")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUS_ORDER = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}
MAX_BODY = 16_000
PREVIEW = 200
SUMMARY_TURNS = 60
OUT_OF_HOURS_EVERY = timedelta(hours=12)


class AIReplyRefused(Conflict):
    """The AI may not speak now: a person owns the conversation, the AI is paused, or it was resolved."""

    slug = "ai-reply-refused"


@dataclass(frozen=True)
class Inbound:
    """A message a channel received, normalized by its adapter."""

    channel_id: UUID
    identity: Identity
    provider_message_id: str | None
    kind: str = "text"
    body: str = ""
    media: dict[str, Any] | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    sent_at: datetime | None = None
    reply_to_provider_id: str | None = None


@dataclass(frozen=True)
class Sender:
    kind: Literal["person", "agent", "system"]
    user_id: UUID | None = None
    agent_id: UUID | None = None

    @classmethod
    def person(cls, user_id: UUID) -> Sender:
        return cls("person", user_id=user_id)

    @classmethod
    def agent(cls, agent_id: UUID) -> Sender:
        return cls("agent", agent_id=agent_id)

    @classmethod
    def system(cls) -> Sender:
        return cls("system")


@dataclass(frozen=True)
class Outbound:
    body: str = ""
    kind: str = "text"
    media: dict[str, Any] | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    private: bool = False
    reply_to_id: UUID | None = None


@dataclass(frozen=True)
class TransferPreview:
    summary: str
    source: str
    """``model`` or ``offline``."""
    key_points: list[str]


_RATING = re.compile(r"^\s*([1-5])(?:\s*(?:/\s*5|estrelas?|stars?|estrellas?|de 5|of 5))?\s*[.!]?\s*$", re.I)


def _rating(body: str) -> int | None:
    """A reply that is only a score from 1 to 5 ("5", "4 estrelas", "3/5", "⭐⭐⭐⭐"), else None."""
    text = (body or "").strip()
    if text and set(text) == {"⭐"} and len(text) <= 5:
        return len(text)
    match = _RATING.match(text)
    return int(match.group(1)) if match else None


def _preview(message: Message) -> str:
    if message.body:
        return " ".join(message.body.split())[:PREVIEW]
    return f"[{message.kind}]"


def _state(conversation: Conversation) -> OwnerState:
    return OwnerState(
        owner=_owner(conversation), ai_paused=conversation.ai_paused, resolved=conversation.resolved_at is not None
    )


def _owner(conversation: Conversation) -> Owner:
    kind = OwnerKind(conversation.owner_kind)
    if kind is OwnerKind.PERSON and conversation.owner_user_id is not None:
        return Owner.person(conversation.owner_user_id, conversation.team_id)
    if kind is OwnerKind.AGENT and conversation.owner_agent_id is not None:
        return Owner.agent(conversation.owner_agent_id)
    if kind is OwnerKind.TEAM and conversation.team_id is not None:
        return Owner.team(conversation.team_id)
    return Owner.nobody()


def _set_owner(conversation: Conversation, state: OwnerState) -> None:
    owner = state.owner
    conversation.owner_kind = owner.kind.value
    conversation.owner_user_id = owner.user_id
    conversation.owner_agent_id = owner.agent_id
    if owner.kind in (OwnerKind.TEAM, OwnerKind.PERSON):
        conversation.team_id = owner.team_id if owner.team_id is not None else conversation.team_id
    elif owner.kind is OwnerKind.NONE:
        conversation.team_id = None
    conversation.ai_paused = state.ai_paused


def _facts(conversation: Conversation) -> events.ConversationFacts:
    return events.ConversationFacts(
        conversation_id=conversation.id,
        number=conversation.number,
        channel_id=conversation.channel_id,
        contact_id=conversation.contact_id,
        stage_id=conversation.stage_id,
        owner_kind=conversation.owner_kind,
        owner_user_id=conversation.owner_user_id,
        owner_agent_id=conversation.owner_agent_id,
        team_id=conversation.team_id,
        priority=conversation.priority,
    )


def _message_facts(message: Message, conversation: Conversation) -> events.MessageFacts:
    return events.MessageFacts(
        message_id=message.id,
        conversation_id=conversation.id,
        channel_id=message.channel_id,
        contact_id=conversation.contact_id,
        direction=message.direction,
        sender_kind=message.sender_kind,
        kind=message.kind,
        body=message.body[:4000],
        private=message.private,
        status=message.status,
        owner_kind=conversation.owner_kind,
        owner_agent_id=conversation.owner_agent_id,
        ai_paused=conversation.ai_paused,
        sender_user_id=message.sender_user_id,
        sender_agent_id=message.sender_agent_id,
    )


def _check_content(kind: str, body: str, media: dict[str, Any] | None, payload: dict[str, Any]) -> None:
    if kind not in MESSAGE_KINDS:
        raise ValidationFailed("Unknown message kind.", errors=[{"field": "kind", "message": "invalid"}])
    if len(body) > MAX_BODY:
        raise ValidationFailed(
            "Messages have at most %(count)d characters.",
            errors=[{"field": "body", "message": "too_long"}],
            count=MAX_BODY,
        )
    if kind == "text" and not body.strip():
        raise ValidationFailed("Write the message.", errors=[{"field": "body", "message": "required"}])
    if kind in ("image", "audio", "video", "document") and not (media and media.get("key")):
        raise ValidationFailed("Attach the file.", errors=[{"field": "media", "message": "required"}])
    if kind == "location" and not ("latitude" in payload and "longitude" in payload):
        raise ValidationFailed(
            "A location needs latitude and longitude.", errors=[{"field": "payload", "message": "required"}]
        )


def _check_media_owner(media: dict[str, Any] | None, tenant_id: UUID) -> None:
    """A message may only carry a file of its own organization (keys are ``<visibility>/<tenant>/...``)."""
    if not media or not media.get("key"):
        return
    key = str(media["key"])
    if not (key.startswith(f"private/{tenant_id}/") or key.startswith(f"public/{tenant_id}/")):
        raise ValidationFailed(
            "This file is not one of this organization's.", errors=[{"field": "media", "message": "foreign"}]
        )


class InboxService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._settings: InboxSettings | None = None

    async def settings(self) -> InboxSettings:
        if self._settings is None:
            self._settings = await load_plugin_settings(self.session, "inbox")
        return self._settings

    # -- reading -----------------------------------------------------------------------------------

    async def channel(self, channel_id: UUID) -> Channel:
        channel = await self.session.get(Channel, channel_id)
        if channel is None:
            raise NotFound("Channel not found.")
        return channel

    async def get(self, conversation_id: UUID, *, lock: bool = False) -> Conversation:
        statement = select(Conversation).where(Conversation.id == conversation_id)
        if lock:
            statement = statement.with_for_update()
        conversation = (await self.session.execute(statement)).scalar_one_or_none()
        if conversation is None:
            raise NotFound("Conversation not found.")
        return conversation

    async def messages(
        self, conversation_id: UUID, *, before: datetime | None = None, after: datetime | None = None, limit: int = 50
    ) -> list[Message]:
        """A page of the thread, oldest first: the newest ``limit`` (before ``before``), or those after ``after``."""
        statement = select(Message).where(Message.conversation_id == conversation_id)
        if after is not None:
            rows = await self.session.execute(
                statement.where(Message.created_at > after).order_by(Message.created_at, Message.id).limit(limit)
            )
            return list(rows.scalars())
        if before is not None:
            statement = statement.where(Message.created_at < before)
        rows = await self.session.execute(statement.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
        return list(reversed(list(rows.scalars())))

    # -- inbound -----------------------------------------------------------------------------------

    async def receive(self, inbound: Inbound) -> tuple[Message, bool]:
        """Store an inbound message; ``(message, False)`` when this channel already had that provider id."""
        _check_content(inbound.kind, inbound.body or "-", inbound.media, inbound.payload)
        channel = await self.channel(inbound.channel_id)
        _check_media_owner(inbound.media, channel.tenant_id)
        # One delivery at a time per channel and sender: repeated deliveries wait, then find the message.
        await identity_lock(self.session, channel.id, inbound.identity.kind, inbound.identity.address)
        if inbound.provider_message_id:
            existing = await self._by_provider_id(channel.id, inbound.provider_message_id)
            if existing is not None:
                return existing, False
        contacts = ContactService(self.session)
        contact, identity, _new_contact = await contacts.resolve(
            inbound.identity,
            name=inbound.name,
            phone=inbound.phone,
            email=inbound.email,
            language=inbound.language,
        )
        now = datetime.now(UTC)
        rating = _rating(inbound.body) if inbound.kind == "text" else None
        conversation, created = await self._conversation_for(channel, contact, identity, now, rating)
        if conversation.resolved_at is not None:
            return await self._store_rating(conversation, channel, inbound, rating, now), True
        reply_to = (
            await self._by_provider_id(channel.id, inbound.reply_to_provider_id)
            if inbound.reply_to_provider_id
            else None
        )
        message = Message(
            conversation_id=conversation.id,
            channel_id=channel.id,
            direction="in",
            sender_kind="contact",
            kind=inbound.kind,
            body=(inbound.body or "")[:MAX_BODY],
            media=inbound.media,
            payload=dict(inbound.payload),
            private=False,
            status="received",
            provider_message_id=inbound.provider_message_id,
            reply_to_id=reply_to.id if reply_to else None,
            sent_at=inbound.sent_at or now,
            attempts=0,
        )
        self.session.add(message)
        await self.session.flush()
        conversation.message_count += 1
        conversation.unread_count += 1
        conversation.last_message_at = now
        conversation.last_inbound_at = now
        conversation.last_message_preview = _preview(message)
        conversation.snoozed_until = None
        if conversation.waiting_since is None:
            conversation.waiting_since = now
            conversation.wait_alerted_at = None
        stage = await StageService(self.session).get(conversation.stage_id)
        if stage.kind == "waiting":
            await self._move(conversation, (await StageService(self.session).first("open")).id)
        await self.session.flush()
        if created:
            await emit(self.session, events.CONVERSATION_CREATED, _facts(conversation))
        await emit(self.session, events.MESSAGE_RECEIVED, _message_facts(message, conversation))
        await self._out_of_hours(conversation, channel, contact, now)
        return message, True

    async def _by_provider_id(self, channel_id: UUID, provider_message_id: str) -> Message | None:
        return (
            await self.session.execute(
                select(Message).where(
                    Message.channel_id == channel_id, Message.provider_message_id == provider_message_id
                )
            )
        ).scalar_one_or_none()

    async def _awaits_rating(self, conversation: Conversation) -> bool:
        """Resolved, not rated yet, and the rating request went out after the resolution."""
        if conversation.resolved_at is None or conversation.csat_score is not None:
            return False
        asked = (
            await self.session.execute(
                select(Message.id)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.sender_kind == "system",
                    Message.payload["auto"].astext == "csat",
                    Message.created_at >= conversation.resolved_at,
                )
                .limit(1)
            )
        ).first()
        return asked is not None

    async def _store_rating(
        self, conversation: Conversation, channel: Channel, inbound: Inbound, rating: int | None, now: datetime
    ) -> Message:
        """The customer's answer to the rating request: kept in the thread, the score recorded, not reopened."""
        message = Message(
            conversation_id=conversation.id,
            channel_id=channel.id,
            direction="in",
            sender_kind="contact",
            kind="text",
            body=(inbound.body or "")[:MAX_BODY],
            payload={"auto": "csat_answer"},
            private=False,
            status="received",
            provider_message_id=inbound.provider_message_id,
            sent_at=inbound.sent_at or now,
            attempts=0,
        )
        self.session.add(message)
        conversation.message_count += 1
        conversation.last_message_at = now
        conversation.last_inbound_at = now
        conversation.csat_score = rating
        await self.session.flush()
        await emit(self.session, events.MESSAGE_RECEIVED, _message_facts(message, conversation))
        await emit(
            self.session,
            events.CSAT_RECEIVED,
            events.CsatReceived(conversation_id=conversation.id, score=rating or 0, comment=None),
        )
        return message

    async def _next_number(self) -> int:
        row = (
            await self.session.execute(
                text(
                    "INSERT INTO inbox_conversation_counters (id, tenant_id, last_number, created_at, updated_at) "
                    "VALUES (gen_random_uuid(), current_setting('app.tenant_id')::uuid, 1, now(), now()) "
                    "ON CONFLICT (tenant_id) DO UPDATE SET last_number = inbox_conversation_counters.last_number + 1, "
                    "updated_at = now() RETURNING last_number"
                )
            )
        ).scalar_one()
        return int(row)

    async def _conversation_for(
        self, channel: Channel, contact: Contact, identity: ContactIdentity, now: datetime, rating: int | None = None
    ) -> tuple[Conversation, bool]:
        """The contact's open conversation on this channel, a recently resolved one reopened, or a new one."""
        latest = (
            await self.session.execute(
                select(Conversation)
                .where(Conversation.contact_id == contact.id, Conversation.channel_id == channel.id)
                .order_by(Conversation.created_at.desc())
                .limit(1)
                .with_for_update()
            )
        ).scalar_one_or_none()
        settings = await self.settings()
        if latest is not None and latest.resolved_at is None:
            if latest.identity_id != identity.id:
                latest.identity_id = identity.id
            return latest, False
        if latest is not None and rating is not None and await self._awaits_rating(latest):
            return latest, False  # the answer to the rating request: recorded, the conversation stays resolved
        if (
            latest is not None
            and latest.resolved_at is not None
            and now - latest.resolved_at <= timedelta(hours=settings.reopen_hours)
        ):
            await self._reopen(latest, channel, by_user_id=None)
            return latest, False
        stages = StageService(self.session)
        conversation = Conversation(
            number=await self._next_number(),
            channel_id=channel.id,
            contact_id=contact.id,
            identity_id=identity.id,
            stage_id=(await stages.first("new")).id,
            owner_kind="none",
            ai_paused=False,
            priority="normal",
            tags=[],
            subject="",
            unread_count=0,
            message_count=0,
            last_message_preview="",
            summary="",
        )
        self.session.add(conversation)
        await self.session.flush()
        await self._route_new(conversation, channel)
        return conversation, True

    async def _route_new(self, conversation: Conversation, channel: Channel) -> None:
        """A new conversation goes to the channel's AI agent, else its team (assigned by the team's rule)."""
        state = _state(conversation)
        if channel.agent_id is not None:
            _set_owner(conversation, apply(state, Action.ASSIGN, Owner.agent(channel.agent_id)))
        elif channel.team_id is not None:
            await self._give_to_team(conversation, channel.team_id, by_user_id=None)
        await self.session.flush()

    async def _give_to_team(self, conversation: Conversation, team_id: UUID, *, by_user_id: UUID | None) -> None:
        """Into the team's queue, or straight to a member when the team assigns automatically."""
        member = await TeamService(self.session).pick_member(team_id)
        target = Owner.person(member, team_id) if member else Owner.team(team_id)
        state = _state(conversation)
        action = Action.HANDOFF if state.owner.kind is OwnerKind.AGENT and by_user_id is None else Action.ASSIGN
        _set_owner(conversation, apply(state, action, target, by_user_id=by_user_id))
        conversation.team_id = team_id

    async def _out_of_hours(
        self, conversation: Conversation, channel: Channel, contact: Contact, now: datetime
    ) -> None:
        """Outside business hours, with no AI agent answering, tell the customer once when people are back."""
        if conversation.owner_kind == "agent" and not conversation.ai_paused:
            return
        settings = await self.settings()
        hours = settings.business_hours
        if conversation.team_id is not None:
            team = await TeamService(self.session).get(conversation.team_id)
            if team.hours:
                import msgspec

                from plugins.inbox.hours import BusinessHours

                hours = msgspec.convert(team.hours, BusinessHours)
        if is_open(hours, now):
            return
        recent = (
            await self.session.execute(
                select(Message.id)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.sender_kind == "system",
                    Message.payload["auto"].astext == "out_of_hours",
                    Message.created_at > now - OUT_OF_HOURS_EVERY,
                )
                .limit(1)
            )
        ).first()
        if recent is not None:
            return
        body = settings.out_of_hours_message.strip() or await self.customer_text(
            conversation,
            N_("Hello! We are closed right now. We read every message and will answer as soon as we are back."),
        )
        await self.send(
            conversation.id, Outbound(body=body, payload={"auto": "out_of_hours"}), Sender.system(), locked=True
        )

    async def customer_text(self, conversation: Conversation, msgid: str) -> str:
        """``msgid`` in the customer's language (the contact's, else the organization's), not the reader's.

        Automatic messages go to the customer, often from a webhook or a job where no request chose a
        language.
        """
        from kernel.i18n.catalogs import Translator
        from kernel.runtime import current_kernel

        contact = await self.session.get(Contact, conversation.contact_id)
        language = contact.language if contact and contact.language else None
        if language is None:
            language = (
                await self.session.execute(
                    text("SELECT language FROM organizations WHERE id = :tenant"), {"tenant": conversation.tenant_id}
                )
            ).scalar_one_or_none()
        catalogs = current_kernel().state.get("catalogs")
        if catalogs is None:
            return gettext(msgid)
        return Translator(catalogs=catalogs, language=language or "pt-BR", domains=("inbox",)).gettext(msgid)

    # -- outbound ----------------------------------------------------------------------------------

    async def send(self, conversation_id: UUID, outbound: Outbound, sender: Sender, *, locked: bool = False) -> Message:
        """Write a reply or a note; replies are delivered by a job after this transaction commits.

        A person who replies to a conversation nobody, a team or the AI owns takes it (the AI stops).
        An AI agent's reply is refused (:class:`AIReplyRefused`) unless that agent owns the
        conversation and the AI is not paused.
        """
        _check_content(outbound.kind, outbound.body, outbound.media, outbound.payload)
        conversation = await self.get(conversation_id, lock=not locked)
        _check_media_owner(outbound.media, conversation.tenant_id)
        state = _state(conversation)
        if sender.kind == "agent" and not outbound.private and not ai_may_reply(state, sender.agent_id):
            raise AIReplyRefused("The AI may not reply: %(reason)s.", reason=self._silence_reason(state))
        now = datetime.now(UTC)
        person_takes_over = state.owner.kind in (OwnerKind.NONE, OwnerKind.TEAM, OwnerKind.AGENT)
        if sender.kind == "person" and not outbound.private and sender.user_id is not None and person_takes_over:
            await self._change_owner(
                conversation,
                Action.CLAIM,
                Owner.person(sender.user_id, conversation.team_id),
                by_user_id=sender.user_id,
            )
        message = Message(
            conversation_id=conversation.id,
            channel_id=conversation.channel_id,
            direction="out",
            sender_kind=sender.kind,
            sender_user_id=sender.user_id,
            sender_agent_id=sender.agent_id,
            kind=outbound.kind,
            body=outbound.body[:MAX_BODY],
            media=outbound.media,
            payload=dict(outbound.payload),
            private=outbound.private,
            status="note" if outbound.private else "queued",
            reply_to_id=outbound.reply_to_id,
            attempts=0,
        )
        self.session.add(message)
        await self.session.flush()
        conversation.message_count += 1
        conversation.last_message_at = now
        if not outbound.private:
            conversation.last_message_preview = _preview(message)
            if sender.kind in ("person", "agent"):
                conversation.waiting_since = None
                conversation.wait_alerted_at = None
                if conversation.first_response_at is None:
                    conversation.first_response_at = now
                stage = await StageService(self.session).get(conversation.stage_id)
                if stage.kind == "new":
                    await self._move(conversation, (await StageService(self.session).first("open")).id)
        await self.session.flush()
        await emit(self.session, events.MESSAGE_SENT, _message_facts(message, conversation))
        if not outbound.private:
            message_id, tenant_id = message.id, conversation.tenant_id

            async def deliver() -> None:
                try:
                    await enqueue(
                        "inbox.deliver", tenant_id=tenant_id, key=f"deliver:{message_id}", message_id=str(message_id)
                    )
                except RuntimeError:
                    # No queue in this process (a command-line seed): the sweep queues it within a minute.
                    log.info("inbox_delivery_deferred", message_id=str(message_id))

            after_commit(self.session, deliver, key=f"deliver:{message_id}")
        return message

    @staticmethod
    def _silence_reason(state: OwnerState) -> str:
        if state.resolved:
            return "the conversation is resolved"
        if state.ai_paused:
            return "a person paused the AI"
        if state.owner.kind is OwnerKind.PERSON:
            return "a person owns the conversation"
        return "another owner has the conversation"

    async def deliver(self, message_id: UUID, *, final_attempt: bool) -> str:
        """Hand a queued reply to its channel; returns the message's status afterwards.

        Raises :class:`plugins.inbox.channels.ChannelError` (retryable) to be tried again; on the final
        attempt, or for an error that will not pass, the message is marked failed.
        """
        from kernel.runtime import current_kernel
        from plugins.inbox.channels import ChannelError, Outgoing, adapter_for

        message = (
            await self.session.execute(select(Message).where(Message.id == message_id).with_for_update())
        ).scalar_one_or_none()
        if message is None or message.status != "queued":
            return message.status if message else "missing"
        conversation = await self.get(message.conversation_id, lock=True)
        if message.sender_kind == "agent" and not ai_may_reply(_state(conversation), message.sender_agent_id):
            # The owner changed between writing and sending: a person took over, the AI must stay silent.
            return await self._failed(message, conversation, "owner_changed")
        channel = await self.channel(message.channel_id)
        identity = (
            await self.session.get(ContactIdentity, conversation.identity_id) if conversation.identity_id else None
        )
        adapter = adapter_for(current_kernel(), channel.kind)
        if adapter is None or identity is None or not channel.active:
            return await self._failed(message, conversation, "no_channel" if identity else "no_address")
        reply_to = await self.session.get(Message, message.reply_to_id) if message.reply_to_id else None
        message.attempts += 1
        try:
            sent = await adapter.send(
                Outgoing(
                    tenant_id=conversation.tenant_id,
                    channel_id=channel.id,
                    channel_kind=channel.kind,
                    channel_settings=dict(channel.settings or {}),
                    conversation_id=conversation.id,
                    message_id=message.id,
                    to_kind=identity.kind,
                    to_address=identity.address,
                    kind=message.kind,
                    body=message.body,
                    media=message.media,
                    payload=dict(message.payload or {}),
                    reply_to_provider_id=reply_to.provider_message_id if reply_to else None,
                )
            )
        except ChannelError as error:
            if error.retryable and not final_attempt:
                message.error = error.reason
                await self.session.flush()
                raise
            return await self._failed(message, conversation, error.reason)
        message.provider_message_id = sent.provider_message_id
        message.error = None
        now = datetime.now(UTC)
        message.sent_at = now
        message.status = "sent"
        if sent.status == "delivered":
            message.status, message.delivered_at = "delivered", now
        await self._status_changed(message)
        return message.status

    async def _failed(self, message: Message, conversation: Conversation, reason: str) -> str:
        message.status, message.error = "failed", reason[:300]
        await self._status_changed(message)
        return "failed"

    async def _status_changed(self, message: Message) -> None:
        await self.session.flush()
        await emit(
            self.session,
            events.MESSAGE_STATUS_UPDATED,
            events.MessageStatus(
                message_id=message.id,
                conversation_id=message.conversation_id,
                status=message.status,
                error=message.error,
                provider_message_id=message.provider_message_id,
            ),
        )

    async def update_status(
        self,
        channel_id: UUID,
        provider_message_id: str,
        status: str,
        *,
        error: str | None = None,
        at: datetime | None = None,
    ) -> Message | None:
        """A channel's receipt (sent, delivered, read, failed). Receipts arrive out of order: never go back."""
        if status not in ("sent", "delivered", "read", "failed"):
            raise ValidationFailed("Unknown status.", errors=[{"field": "status", "message": "invalid"}])
        message = (
            await self.session.execute(
                select(Message)
                .where(Message.channel_id == channel_id, Message.provider_message_id == provider_message_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if message is None or message.direction != "out":
            return None
        when = at or datetime.now(UTC)
        if status == "failed":
            if message.status == "failed":
                return message
            message.status, message.error = "failed", (error or "failed")[:300]
        else:
            if STATUS_ORDER.get(status, 0) <= STATUS_ORDER.get(message.status, -1) and message.status != "failed":
                return message
            message.status = status
            if status in ("delivered", "read") and message.delivered_at is None:
                message.delivered_at = when
            if status == "read":
                message.read_at = when
        await self._status_changed(message)
        return message

    # -- ownership ---------------------------------------------------------------------------------

    async def _change_owner(
        self, conversation: Conversation, action: Action, target: Owner, *, by_user_id: UUID | None
    ) -> None:
        previous = conversation.owner_kind
        try:
            _set_owner(conversation, apply(_state(conversation), action, target, by_user_id=by_user_id))
        except OwnershipRefused as refused:
            raise Conflict(refused.detail, errors=[{"field": "owner", "message": refused.code}]) from refused
        await self._assigned(conversation, previous, by_user_id)

    async def _assigned(self, conversation: Conversation, previous_kind: str, by_user_id: UUID | None) -> None:
        """Say who owns the conversation now: the event, and a notice to a person given it by someone else."""
        await self.session.flush()
        await emit(
            self.session,
            events.CONVERSATION_ASSIGNED,
            events.Assigned(
                conversation_id=conversation.id,
                owner_kind=conversation.owner_kind,
                owner_user_id=conversation.owner_user_id,
                owner_agent_id=conversation.owner_agent_id,
                team_id=conversation.team_id,
                previous_kind=previous_kind,
                by_user_id=by_user_id,
            ),
        )
        if conversation.owner_kind == "person" and conversation.owner_user_id != by_user_id:
            await notify(
                self.session,
                kind="inbox.assigned",
                message="Conversation #%(number)s is yours now.",
                domain="inbox",
                user_ids=[conversation.owner_user_id],
                params={"number": conversation.number},
                link=f"/app/inbox/conversations/{conversation.id}",
            )

    async def _target(self, kind: str, target_id: UUID | None) -> Owner:
        if kind == "none":
            return Owner.nobody()
        if target_id is None:
            raise ValidationFailed(
                "Choose who takes the conversation.", errors=[{"field": "to_id", "message": "required"}]
            )
        if kind == "person":
            from plugins.inbox.teams import active_users

            if not await active_users(self.session, [target_id]):
                raise ValidationFailed(
                    "This person is not an active user of the organization.",
                    errors=[{"field": "to_id", "message": "unknown"}],
                )
            return Owner.person(target_id)
        if kind == "team":
            await TeamService(self.session).get(target_id)
            return Owner.team(target_id)
        if kind == "agent":
            return Owner.agent(target_id)
        raise ValidationFailed("Unknown owner kind.", errors=[{"field": "to_kind", "message": "invalid"}])

    async def assign(
        self, conversation_id: UUID, kind: str, target_id: UUID | None, *, by_user_id: UUID | None
    ) -> Conversation:
        conversation = await self.get(conversation_id, lock=True)
        target = await self._target(kind, target_id)
        if target.kind is OwnerKind.PERSON:
            target = Owner.person(target.user_id, conversation.team_id)  # type: ignore[arg-type]
        if target.kind is OwnerKind.TEAM:
            previous = conversation.owner_kind
            await self._give_to_team(conversation, target.team_id, by_user_id=by_user_id)  # type: ignore[arg-type]
            await self._assigned(conversation, previous, by_user_id)
        else:
            await self._change_owner(conversation, Action.ASSIGN, target, by_user_id=by_user_id)
        await audit(
            self.session,
            action="inbox.conversation.assigned",
            target_type="inbox_conversation",
            target_id=conversation.id,
            after={"owner_kind": conversation.owner_kind, "owner_id": str(target_id) if target_id else None},
        )
        return conversation

    async def claim(self, conversation_id: UUID, user_id: UUID) -> Conversation:
        conversation = await self.get(conversation_id, lock=True)
        await self._change_owner(
            conversation, Action.CLAIM, Owner.person(user_id, conversation.team_id), by_user_id=user_id
        )
        return conversation

    async def release(self, conversation_id: UUID, user_id: UUID | None) -> Conversation:
        conversation = await self.get(conversation_id, lock=True)
        target = Owner.team(conversation.team_id) if conversation.team_id else Owner.nobody()
        await self._change_owner(conversation, Action.RELEASE, target, by_user_id=user_id)
        return conversation

    async def _turns(self, conversation_id: UUID) -> list[Turn]:
        rows = await self.session.execute(
            select(Message.sender_kind, Message.body, Message.created_at)
            .where(Message.conversation_id == conversation_id, Message.private.is_(False), Message.body != "")
            .order_by(Message.created_at.desc())
            .limit(SUMMARY_TURNS)
        )
        return [Turn(sender=kind, text=body, at=at) for kind, body, at in reversed(rows.all())]  # type: ignore[arg-type]

    async def transfer_preview(self, conversation_id: UUID) -> TransferPreview:
        """The summary the new owner will read: by the organization's model, else extractive (offline)."""
        await self.get(conversation_id)
        turns = await self._turns(conversation_id)
        offline = summarize(turns)
        text_summary = await self._model_summary(turns)
        if text_summary:
            return TransferPreview(summary=text_summary, source="model", key_points=offline.key_points)
        return TransferPreview(summary=offline.text(gettext), source="offline", key_points=offline.key_points)

    async def _model_summary(self, turns: list[Turn]) -> str | None:
        """A few lines by the organization's chat model; None offline or when the model fails."""
        if not turns:
            return None
        from kernel.sdk import current_gateway, organization_model, require_tenant_id

        model = await organization_model(self.session)
        if model.provider == "offline":
            return None
        labels = {"contact": "Customer", "person": "Attendant", "agent": "AI", "system": "System"}
        transcript = "\n".join(f"{labels.get(t.sender, t.sender)}: {t.text[:600]}" for t in turns)
        instructions = gettext(
            "Summarize this customer service conversation for the colleague who takes it over: the customer's "
            "request, facts given (order numbers, dates, amounts), what was already done or promised, and what "
            "is still open. At most 5 short bullet points, in the conversation's language."
        )
        try:
            result = await current_gateway().chat(
                tenant_id=require_tenant_id(),
                messages=[
                    {"role": "system", "content": instructions},
                    {"role": "user", "content": transcript[-12000:]},
                ],
                model=model,
                tools=[],
            )
        except Exception:
            return None
        if result.offline:
            return None
        summary = result.text.strip()
        return summary[:4000] or None

    async def transfer(
        self,
        conversation_id: UUID,
        to_kind: str,
        to_id: UUID | None,
        *,
        reason: str = "",
        summary: str | None = None,
        destination: str | None = None,
        by: Sender,
    ) -> Transfer:
        """Give the conversation to a person, a team, an AI agent, nobody, or another channel's address.

        The summary (written now unless the caller shows the preview and passes it back) is stored
        with the transfer, put on the conversation for the new owner, and sent with the notification.
        """
        if summary is None or not summary.strip():
            # Written before the row is locked: a model may take seconds, replies must not wait for it.
            preview = await self.transfer_preview(conversation_id)
            summary, source = preview.summary, preview.source
        else:
            source = "person" if by.kind == "person" else "model"
        conversation = await self.get(conversation_id, lock=True)
        previous = _owner(conversation)
        summary = summary.strip()[:8000]
        by_user = by.user_id if by.kind == "person" else None
        forward_to: Channel | None = None
        if to_kind == "destination":
            if not destination or not destination.strip():
                raise ValidationFailed(
                    "Give the destination.", errors=[{"field": "destination", "message": "required"}]
                )
            if to_id is None:
                raise ValidationFailed(
                    "Choose the channel that delivers it.", errors=[{"field": "to_id", "message": "required"}]
                )
            forward_to = await self.channel(to_id)
            if not forward_to.active:
                raise ValidationFailed(
                    "This channel is switched off.", errors=[{"field": "to_id", "message": "inactive"}]
                )
            record_to_id = forward_to.id
        else:
            target = await self._target(to_kind, to_id)
            if target.kind is OwnerKind.TEAM:
                await self._give_to_team(conversation, target.team_id, by_user_id=by_user)  # type: ignore[arg-type]
            else:
                action = Action.HANDOFF if by.kind == "agent" else Action.TRANSFER
                if target.kind is OwnerKind.PERSON:
                    target = Owner.person(target.user_id, conversation.team_id)  # type: ignore[arg-type]
                try:
                    _set_owner(conversation, apply(_state(conversation), action, target, by_user_id=by_user))
                except OwnershipRefused as refused:
                    raise Conflict(refused.detail, errors=[{"field": "to_kind", "message": refused.code}]) from refused
            record_to_id = to_id
        conversation.summary = summary
        record = Transfer(
            conversation_id=conversation.id,
            from_kind=previous.kind.value,
            from_id=previous.user_id or previous.agent_id or previous.team_id,
            to_kind=to_kind,
            to_id=record_to_id,
            destination=destination.strip()[:200] if destination else None,
            reason=reason.strip()[:500],
            summary=summary,
            summary_source=source[:8],
            by_kind=by.kind,
            by_user_id=by_user,
        )
        self.session.add(record)
        await self.session.flush()
        await self.send(
            conversation.id,
            Outbound(body=summary, private=True, payload={"auto": "transfer", "transfer_id": str(record.id)}),
            Sender.system(),
            locked=True,
        )
        if forward_to is not None:
            await self._forward(forward_to, record.destination or "", conversation, summary, record.reason)
        await emit(
            self.session,
            events.CONVERSATION_TRANSFERRED,
            events.Transferred(
                conversation_id=conversation.id,
                transfer_id=record.id,
                from_kind=record.from_kind,
                to_kind=to_kind,
                to_id=record_to_id,
                destination=record.destination,
                reason=record.reason,
                summary=summary,
                by_kind=by.kind,
            ),
        )
        await self._notify_transfer(conversation, record)
        await audit(
            self.session,
            action="inbox.conversation.transferred",
            target_type="inbox_conversation",
            target_id=conversation.id,
            after={"to_kind": to_kind, "to_id": str(to_id) if to_id else None, "reason": record.reason},
        )
        return record

    async def _forward(
        self, channel: Channel, destination: str, conversation: Conversation, summary: str, reason: str
    ) -> Message:
        """Send the case to an address of another channel (a WhatsApp number or group), as a new thread there.

        The address becomes a contact of that channel (a phone in E.164 when it reads as one), and the
        summary goes out through the channel's adapter like any reply, with its retries.
        """
        from plugins.inbox.phones import canonical_phone, normalize_phone

        address = destination.strip()
        phone = normalize_phone(address) if channel.kind == "whatsapp" and "@" not in address else None
        identity = Identity(channel.kind, canonical_phone(phone) if phone else address, "")
        contact, record, _created = await ContactService(self.session).resolve(identity, phone=phone)
        forwarded, new = await self._conversation_for(channel, contact, record, datetime.now(UTC))
        if new:
            # A case sent to colleagues is for people: the channel's AI agent does not answer there.
            forwarded.ai_paused = True
        header = await self.customer_text(forwarded, N_("Conversation #%(number)s was forwarded to you."))
        lines = [header % {"number": conversation.number}]
        if reason:
            lines.append(reason)
        lines.append(summary)
        return await self.send(forwarded.id, Outbound(body="\n\n".join(lines)[:MAX_BODY]), Sender.system(), locked=True)

    async def _notify_transfer(self, conversation: Conversation, record: Transfer) -> None:
        user_ids: list[UUID] = []
        permission = None
        if conversation.owner_kind == "person" and conversation.owner_user_id:
            user_ids = [conversation.owner_user_id]
        elif conversation.owner_kind == "team" and conversation.team_id:
            user_ids = [m.user_id for m in await TeamService(self.session).members(conversation.team_id)]
        elif conversation.owner_kind == "none":
            permission = "inbox.conversation.assign"
        if not user_ids and permission is None:
            return
        await notify(
            self.session,
            kind="inbox.transferred",
            message="Conversation #%(number)s was transferred to you: %(summary)s",
            domain="inbox",
            user_ids=user_ids or None,
            permission=permission,
            params={"number": conversation.number, "summary": record.summary[:300]},
            link=f"/app/inbox/conversations/{conversation.id}",
        )

    async def pause_ai(self, conversation_id: UUID, *, by_user_id: UUID | None) -> Conversation:
        return await self._set_ai_paused(conversation_id, True)

    async def resume_ai(self, conversation_id: UUID, *, by_user_id: UUID | None) -> Conversation:
        return await self._set_ai_paused(conversation_id, False)

    async def _set_ai_paused(self, conversation_id: UUID, paused: bool) -> Conversation:
        conversation = await self.get(conversation_id, lock=True)
        if conversation.ai_paused != paused:
            conversation.ai_paused = paused
            await self.session.flush()
            await audit(
                self.session,
                action="inbox.conversation.ai_paused" if paused else "inbox.conversation.ai_resumed",
                target_type="inbox_conversation",
                target_id=conversation.id,
            )
        return conversation

    def ai_may_reply(self, conversation: Conversation, agent_id: UUID | None) -> bool:
        return ai_may_reply(_state(conversation), agent_id)

    # -- stages, resolution ------------------------------------------------------------------------

    async def _move(self, conversation: Conversation, stage_id: UUID) -> None:
        if conversation.stage_id == stage_id:
            return
        previous = conversation.stage_id
        conversation.stage_id = stage_id
        stage = await StageService(self.session).get(stage_id)
        await self.session.flush()
        await emit(
            self.session,
            events.CONVERSATION_STAGE_CHANGED,
            events.StageChanged(
                conversation_id=conversation.id, stage_id=stage_id, stage_kind=stage.kind, previous_stage_id=previous
            ),
        )

    async def move(self, conversation_id: UUID, stage_id: UUID, *, by_user_id: UUID | None) -> Conversation:
        """Drag on the board: a ``resolved`` stage resolves, leaving one reopens."""
        conversation = await self.get(conversation_id, lock=True)
        stage = await StageService(self.session).get(stage_id)
        if stage.kind == "resolved" and conversation.resolved_at is None:
            return await self._resolve(conversation, stage.id, by_user_id=by_user_id)
        if stage.kind != "resolved" and conversation.resolved_at is not None:
            conversation.resolved_at = None
        await self._move(conversation, stage.id)
        return conversation

    async def resolve(self, conversation_id: UUID, *, by_user_id: UUID | None) -> Conversation:
        conversation = await self.get(conversation_id, lock=True)
        if conversation.resolved_at is not None:
            return conversation
        return await self._resolve(
            conversation, (await StageService(self.session).first("resolved")).id, by_user_id=by_user_id
        )

    async def _resolve(self, conversation: Conversation, stage_id: UUID, *, by_user_id: UUID | None) -> Conversation:
        now = datetime.now(UTC)
        conversation.resolved_at = now
        conversation.waiting_since = None
        conversation.snoozed_until = None
        await self._move(conversation, stage_id)
        await emit(
            self.session,
            events.CONVERSATION_RESOLVED,
            events.Resolved(
                conversation_id=conversation.id,
                number=conversation.number,
                owner_kind=conversation.owner_kind,
                owner_user_id=conversation.owner_user_id,
                resolved_at=now,
            ),
        )
        await audit(
            self.session,
            action="inbox.conversation.resolved",
            target_type="inbox_conversation",
            target_id=conversation.id,
        )
        if (await self.settings()).csat:
            await self.send(
                conversation.id,
                Outbound(
                    body=await self.customer_text(
                        conversation, N_("How would you rate this conversation? Answer from 1 (bad) to 5 (great).")
                    ),
                    payload={"auto": "csat"},
                ),
                Sender.system(),
                locked=True,
            )
        return conversation

    async def reopen(self, conversation_id: UUID, *, by_user_id: UUID | None) -> Conversation:
        conversation = await self.get(conversation_id, lock=True)
        if conversation.resolved_at is None:
            return conversation
        channel = await self.channel(conversation.channel_id)
        await self._reopen(conversation, channel, by_user_id=by_user_id)
        return conversation

    async def _reopen(self, conversation: Conversation, channel: Channel, *, by_user_id: UUID | None) -> None:
        conversation.resolved_at = None
        await self._move(conversation, (await StageService(self.session).first("new")).id)
        settings = await self.settings()
        agent_id = channel.agent_id
        if (
            by_user_id is None
            and settings.return_to_ai
            and agent_id is not None
            and not _owner(conversation).same_as(Owner.agent(agent_id))
        ):
            _set_owner(conversation, apply(_state(conversation), Action.RETURN, Owner.agent(agent_id)))
        await self.session.flush()

    async def record_csat(self, conversation_id: UUID, score: int, comment: str | None = None) -> Conversation:
        if not 1 <= score <= 5:
            raise ValidationFailed("Ratings go from 1 to 5.", errors=[{"field": "score", "message": "range"}])
        conversation = await self.get(conversation_id, lock=True)
        conversation.csat_score = score
        conversation.csat_comment = (comment or "").strip()[:1000] or None
        await self.session.flush()
        await emit(
            self.session,
            events.CSAT_RECEIVED,
            events.CsatReceived(conversation_id=conversation.id, score=score, comment=conversation.csat_comment),
        )
        return conversation

    # -- small changes -----------------------------------------------------------------------------

    async def update(self, conversation_id: UUID, **changes: Any) -> Conversation:
        conversation = await self.get(conversation_id, lock=True)
        if "priority" in changes:
            if changes["priority"] not in PRIORITIES:
                raise ValidationFailed("Unknown priority.", errors=[{"field": "priority", "message": "invalid"}])
            conversation.priority = changes["priority"]
        if "tags" in changes:
            from plugins.inbox.contacts import clean_tags

            conversation.tags = clean_tags(changes["tags"] or [])
        if "subject" in changes:
            conversation.subject = " ".join((changes["subject"] or "").split())[:200]
        if "snoozed_until" in changes:
            until = changes["snoozed_until"]
            if until is not None and until <= datetime.now(UTC):
                raise ValidationFailed(
                    "Snooze until a moment in the future.", errors=[{"field": "snoozed_until", "message": "past"}]
                )
            conversation.snoozed_until = until
        await self.session.flush()
        return conversation

    async def mark_read(self, conversation_id: UUID) -> Conversation:
        conversation = await self.get(conversation_id)
        if conversation.unread_count:
            conversation.unread_count = 0
            await self.session.flush()
        return conversation

    # -- wait alerts -------------------------------------------------------------------------------

    async def wait_alerts(self, now: datetime | None = None) -> list[Conversation]:
        """Alert on conversations of this organization whose customer waits past the priority's threshold."""
        now = now or datetime.now(UTC)
        settings = await self.settings()
        shortest = min(settings.wait_threshold(p) for p in PRIORITIES)
        rows = await self.session.execute(
            select(Conversation)
            .where(
                Conversation.waiting_since.is_not(None),
                Conversation.resolved_at.is_(None),
                Conversation.waiting_since <= now - timedelta(minutes=shortest),
                or_(Conversation.wait_alerted_at.is_(None), Conversation.wait_alerted_at < Conversation.waiting_since),
                or_(Conversation.snoozed_until.is_(None), Conversation.snoozed_until <= now),
            )
            .with_for_update(skip_locked=True)
        )
        alerted = []
        for conversation in rows.scalars():
            threshold = settings.wait_threshold(conversation.priority)
            if conversation.waiting_since is None or conversation.waiting_since > now - timedelta(minutes=threshold):
                continue
            conversation.wait_alerted_at = now
            await emit(
                self.session,
                events.CONVERSATION_WAIT_ALERT,
                events.WaitAlert(
                    conversation_id=conversation.id,
                    number=conversation.number,
                    priority=conversation.priority,
                    waiting_since=conversation.waiting_since,
                    threshold_minutes=threshold,
                    team_id=conversation.team_id,
                ),
            )
            members = (
                [m.user_id for m in await TeamService(self.session).members(conversation.team_id)]
                if conversation.team_id
                else []
            )
            if conversation.owner_kind == "person" and conversation.owner_user_id:
                members = list(dict.fromkeys([conversation.owner_user_id, *members]))
            await notify(
                self.session,
                kind="inbox.wait_alert",
                message="A customer has waited %(minutes)s minutes in conversation #%(number)s.",
                domain="inbox",
                user_ids=members or None,
                permission=None if members else "inbox.conversation.assign",
                params={"minutes": threshold, "number": conversation.number},
                link=f"/app/inbox/conversations/{conversation.id}",
            )
            alerted.append(conversation)
        await self.session.flush()
        return alerted

    async def counts_by_stage(self) -> dict[UUID, int]:
        rows = await self.session.execute(select(Conversation.stage_id, func.count()).group_by(Conversation.stage_id))
        return {stage_id: count for stage_id, count in rows.all()}


@dataclass(frozen=True)
class ConversationFilters:
    stage_id: UUID | None = None
    owner_kind: str | None = None
    owner_user_id: UUID | None = None
    team_id: UUID | None = None
    tag: str | None = None
    channel_id: UUID | None = None
    priority: str | None = None
    status: Literal["open", "resolved", "snoozed", "all"] = "open"
    waiting_minutes: int | None = None
    """Only conversations whose customer has waited at least this long."""
    contact_id: UUID | None = None


COUNT_CAP = 1000
"""Lists count their conversations up to this many; a larger list says "more than" (an exact count of
half a million resolved conversations costs seconds, and nobody pages that far)."""


async def list_conversations(
    session: AsyncSession, filters: ConversationFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[tuple[Conversation, Contact]], int]:
    """Conversations with their contacts, most recent activity first, and how many match.

    The count goes up to :data:`COUNT_CAP` + 1 (meaning "more than the cap"). The page's ids are
    chosen on the conversations alone (an index walk on ``(tenant_id, last_message_at)``), then joined
    to their contacts; each list is planned for its own values (a generic plan reads every contact).
    """
    tenant_id = require_tenant_id()
    now = datetime.now(UTC)
    # The tenant in the statement itself: the policy alone is never an index condition.
    conditions: list[Any] = [Conversation.tenant_id == tenant_id]
    if filters.status == "open":
        conditions += [
            Conversation.resolved_at.is_(None),
            or_(Conversation.snoozed_until.is_(None), Conversation.snoozed_until <= now),
        ]
    elif filters.status == "resolved":
        conditions.append(Conversation.resolved_at.is_not(None))
    elif filters.status == "snoozed":
        conditions += [Conversation.resolved_at.is_(None), Conversation.snoozed_until > now]
    for column, value in (
        (Conversation.stage_id, filters.stage_id),
        (Conversation.owner_kind, filters.owner_kind),
        (Conversation.owner_user_id, filters.owner_user_id),
        (Conversation.team_id, filters.team_id),
        (Conversation.channel_id, filters.channel_id),
        (Conversation.priority, filters.priority),
        (Conversation.contact_id, filters.contact_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.tag:
        conditions.append(Conversation.tags.contains([filters.tag.strip().lower()]))
    if filters.waiting_minutes is not None:
        conditions += [
            Conversation.waiting_since.is_not(None),
            Conversation.waiting_since <= now - timedelta(minutes=filters.waiting_minutes),
        ]
    await session.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"))
    counted = select(Conversation.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = (await session.execute(select(func.count()).select_from(counted))).scalar_one()
    page = (
        select(Conversation.id)
        .where(*conditions)
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    ids = list((await session.execute(page)).scalars())
    if not ids:
        return [], total
    rows = await session.execute(
        select(Conversation, Contact)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.id.in_(ids))
    )
    by_id = {conversation.id: (conversation, contact) for conversation, contact in rows.all()}
    return [by_id[i] for i in ids if i in by_id], total


def may_handle(actor: Any, conversation: Conversation) -> bool:
    """Whether ``actor`` may reply to, move or transfer ``conversation``.

    The reply permission covers one's own conversations, the queue's and the AI's; someone else's
    need ``inbox.conversation.assign`` (supervisors), so colleagues do not answer over each other.
    """
    if actor is not None and actor.can("inbox.conversation.assign"):
        return True
    if conversation.owner_kind != "person":
        return True
    return conversation.owner_user_id == getattr(actor, "user_id", None)


def ensure_may_handle(actor: Any, conversation: Conversation) -> None:
    if not may_handle(actor, conversation):
        raise Forbidden("This conversation belongs to someone else: ask a supervisor to transfer it.")
