"""The inbox's tables: contacts and their channel identities, channels, stages, teams, conversations,
messages, transfers, canned responses, and the per-tenant conversation counter.

Columns that only the migration knows are listed in each table's ``info["migration_only"]``: the
generated ``tsv`` of messages (Portuguese, unaccented) and ``name_key`` of contacts, read by the
search SQL, never by the ORM, and partial indexes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.sdk import Base, TenantScoped

__all__ = [
    "CannedResponse",
    "Channel",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationCounter",
    "Message",
    "Stage",
    "Team",
    "TeamMember",
    "Transfer",
]

Tags = ARRAY(String(60))


class Contact(TenantScoped, Base):
    """An end customer: who writes on WhatsApp or the web chat."""

    __tablename__ = "inbox_contacts"
    __table_args__ = {"info": {"migration_only": ("name_key", "ix_inbox_contacts_trgm")}}

    name: Mapped[str] = mapped_column(String(200), default="")
    phones: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    """E.164, the canonical form first (Brazilian mobiles with their 9th digit)."""
    emails: Mapped[list[str]] = mapped_column(ARRAY(String(254)), default=list)
    avatar_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    language: Mapped[str | None] = mapped_column(String(5), nullable=True)
    tags: Mapped[list[str]] = mapped_column(Tags, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    merged_into_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("inbox_contacts.id", ondelete="SET NULL"), nullable=True
    )
    """Set on the contact that disappeared in a merge: its identities and conversations moved there."""
    erased_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class ContactIdentity(TenantScoped, Base):
    """How a channel knows a contact: a WhatsApp id, a web visitor id, an e-mail address."""

    __tablename__ = "inbox_contact_identities"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "address"),)

    contact_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("inbox_contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    """``whatsapp`` (the phone in E.164), ``whatsapp_lid``, ``webchat`` (the visitor id), ``email``..."""
    address: Mapped[str] = mapped_column(String(200))
    display: Mapped[str] = mapped_column(String(200), default="")
    """The name the channel gave (a WhatsApp profile name)."""


class Channel(TenantScoped, Base):
    """Where conversations happen: the web chat, a WhatsApp number. Adapters are found by ``kind``."""

    __tablename__ = "inbox_channels"
    __table_args__ = (UniqueConstraint("public_key"),)

    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    public_key: Mapped[str] = mapped_column(String(40))
    """An unguessable id that outside parties use to reach this channel (the widget's script tag)."""
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    """The adapter's own settings (secrets never here: in the kernel's encrypted secrets)."""
    team_id: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("inbox_teams.id", ondelete="SET NULL"), nullable=True)
    """The team new conversations of this channel go to, when no AI agent takes them."""
    agent_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    """The AI agent that answers new conversations of this channel (the agents plugin's id)."""


class Stage(TenantScoped, Base):
    """A column of the attendance Kanban. ``kind`` is what the inbox's own rules go by."""

    __tablename__ = "inbox_stages"

    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    """``new``, ``open``, ``waiting`` (for the customer) or ``resolved``."""
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    color: Mapped[str] = mapped_column(String(7), default="#8b5cf6")


class Team(TenantScoped, Base):
    """A team (setor) of people who take conversations, with how new ones are handed out."""

    __tablename__ = "inbox_teams"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(80))
    assignment: Mapped[str] = mapped_column(String(12), default="manual")
    """``manual`` (claimed from the queue), ``round_robin`` or ``least_load``."""
    capacity: Mapped[int] = mapped_column(SmallInteger, default=10)
    """Open conversations a member holds at most before automatic assignment passes them by."""
    last_assigned_user_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    """Business hours of its own (:class:`plugins.inbox.hours.BusinessHours`), else the organization's."""


class TeamMember(TenantScoped, Base):
    __tablename__ = "inbox_team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    team_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("inbox_teams.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    capacity: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    """This member's own limit, else the team's."""
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    """Off while away: automatic assignment skips the member."""


class ConversationCounter(TenantScoped, Base):
    """The organization's next conversation number (#1, #2, ...), one row per tenant."""

    __tablename__ = "inbox_conversation_counters"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    last_number: Mapped[int] = mapped_column(BigInteger, default=0)


class Conversation(TenantScoped, Base):
    """A thread with one contact on one channel, its stage, and who answers it now (its owner)."""

    __tablename__ = "inbox_conversations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_inbox_conversations_contact", "tenant_id", "contact_id", "channel_id"),
        {
            "info": {
                # Descending and partial indexes, written in the migrations.
                "migration_only": (
                    "ix_inbox_conversations_waiting",
                    "ix_inbox_conversations_owner",
                    "ix_inbox_conversations_board",
                    "ix_inbox_conversations_recent",
                )
            }
        },
    )

    number: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("inbox_channels.id", ondelete="CASCADE"))
    contact_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("inbox_contacts.id", ondelete="CASCADE"))
    identity_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("inbox_contact_identities.id", ondelete="SET NULL"), nullable=True
    )
    """The address replies go to (the contact may have several on one channel)."""
    stage_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("inbox_stages.id"))
    owner_kind: Mapped[str] = mapped_column(String(8), default="none")
    """``agent`` (an AI agent), ``person``, ``team`` (in the team's queue) or ``none``."""
    owner_user_id: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    owner_agent_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    team_id: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("inbox_teams.id", ondelete="SET NULL"), nullable=True)
    ai_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    """Set by a person: no AI agent answers until a person resumes it, whatever else happens."""
    priority: Mapped[str] = mapped_column(String(6), default="normal")
    """``low``, ``normal``, ``high`` or ``urgent``."""
    tags: Mapped[list[str]] = mapped_column(Tags, default=list)
    subject: Mapped[str] = mapped_column(String(200), default="")
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_message_preview: Mapped[str] = mapped_column(String(200), default="")
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    waiting_since: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    """Since when the customer's message waits for a reply (None when answered)."""
    wait_alerted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    csat_score: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    csat_comment: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    """The last transfer's summary: what the person taking over reads first."""


class Message(TenantScoped, Base):
    """One message of a conversation, in or out, or a private note."""

    __tablename__ = "inbox_messages"
    __table_args__ = (
        Index("ix_inbox_messages_conversation", "conversation_id", "created_at"),
        {
            "info": {
                "migration_only": (
                    "tsv",
                    "ix_inbox_messages_tsv",
                    "ix_inbox_messages_provider",
                    "ix_inbox_messages_tenant_created",
                )
            }
        },
    )

    conversation_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("inbox_conversations.id", ondelete="CASCADE"))
    channel_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("inbox_channels.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    """``in`` (from the contact) or ``out`` (to the contact, or a note)."""
    sender_kind: Mapped[str] = mapped_column(String(7))
    """``contact``, ``person``, ``agent`` or ``system``."""
    sender_user_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    sender_agent_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    kind: Mapped[str] = mapped_column(String(8), default="text")
    """``text``, ``image``, ``audio``, ``video``, ``document``, ``location`` or ``contact``."""
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    """``{"key", "content_type", "size", "filename"}``: the file in the kernel's storage."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    """A location's ``latitude``/``longitude``/``name``, a contact card's ``name``/``phones``."""
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    """A note for the team: never sent to the contact."""
    status: Mapped[str] = mapped_column(String(9), default="received")
    """``received`` (inbound), ``queued``, ``sent``, ``delivered``, ``read``, ``failed``; ``note``."""
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The channel's id for this message: unique per channel, so a repeated delivery is stored once."""
    reply_to_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("inbox_messages.id", ondelete="SET NULL"), nullable=True
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)


class Transfer(TenantScoped, Base):
    """A change of owner, with the reason and the summary the new owner was given."""

    __tablename__ = "inbox_transfers"

    conversation_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("inbox_conversations.id", ondelete="CASCADE"), index=True
    )
    from_kind: Mapped[str] = mapped_column(String(8))
    from_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    to_kind: Mapped[str] = mapped_column(String(11))
    """``agent``, ``person``, ``team``, ``none`` or ``destination`` (another channel's address)."""
    to_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    destination: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_source: Mapped[str] = mapped_column(String(8), default="offline")
    """``model`` (written by the tenant's AI model) or ``offline`` (an extractive summary)."""
    by_kind: Mapped[str] = mapped_column(String(7), default="person")
    """Who transferred: ``person``, ``agent`` (the AI handing off) or ``system`` (a rule)."""
    by_user_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)


class CannedResponse(TenantScoped, Base):
    """A saved reply an operator inserts with ``/shortcut``."""

    __tablename__ = "inbox_canned_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "shortcut"),)

    shortcut: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120), default="")
    body: Mapped[str] = mapped_column(Text)
    team_id: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("inbox_teams.id", ondelete="CASCADE"), nullable=True)
    """Offered only to this team's members, else to everyone."""
    created_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
