"""Events the inbox emits (the catalog webhooks offer). Payloads carry ids and the facts a
subscriber needs to act without reading back, never message media."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from kernel.sdk import EventType

__all__ = [
    "CONTACT_CREATED",
    "CONTACT_MERGED",
    "CONTACT_UPDATED",
    "CONVERSATION_ASSIGNED",
    "CONVERSATION_CREATED",
    "CONVERSATION_RESOLVED",
    "CONVERSATION_STAGE_CHANGED",
    "CONVERSATION_TRANSFERRED",
    "CONVERSATION_WAIT_ALERT",
    "CSAT_RECEIVED",
    "EVENTS",
    "MESSAGE_RECEIVED",
    "MESSAGE_SENT",
    "MESSAGE_STATUS_UPDATED",
]


class ContactChanged(msgspec.Struct):
    contact_id: UUID
    name: str
    phones: list[str]
    emails: list[str]
    tags: list[str]


class ContactMerged(msgspec.Struct):
    contact_id: UUID
    """The contact that remains."""
    merged_id: UUID
    """The contact merged into it (kept as a pointer, its identities and conversations moved)."""


class ConversationFacts(msgspec.Struct):
    conversation_id: UUID
    number: int
    channel_id: UUID
    contact_id: UUID
    stage_id: UUID
    owner_kind: str
    owner_user_id: UUID | None
    owner_agent_id: UUID | None
    team_id: UUID | None
    priority: str


class MessageFacts(msgspec.Struct):
    message_id: UUID
    conversation_id: UUID
    channel_id: UUID
    contact_id: UUID
    direction: str
    sender_kind: str
    kind: str
    body: str
    private: bool
    status: str
    owner_kind: str
    owner_agent_id: UUID | None
    ai_paused: bool
    sender_user_id: UUID | None = None
    sender_agent_id: UUID | None = None


class MessageStatus(msgspec.Struct):
    message_id: UUID
    conversation_id: UUID
    status: str
    error: str | None = None
    provider_message_id: str | None = None


class Assigned(msgspec.Struct):
    conversation_id: UUID
    owner_kind: str
    owner_user_id: UUID | None
    owner_agent_id: UUID | None
    team_id: UUID | None
    previous_kind: str
    by_user_id: UUID | None = None


class Transferred(msgspec.Struct):
    conversation_id: UUID
    transfer_id: UUID
    from_kind: str
    to_kind: str
    to_id: UUID | None
    destination: str | None
    reason: str
    summary: str
    by_kind: str


class StageChanged(msgspec.Struct):
    conversation_id: UUID
    stage_id: UUID
    stage_kind: str
    previous_stage_id: UUID | None


class Resolved(msgspec.Struct):
    conversation_id: UUID
    number: int
    owner_kind: str
    owner_user_id: UUID | None
    resolved_at: datetime


class WaitAlert(msgspec.Struct):
    conversation_id: UUID
    number: int
    priority: str
    waiting_since: datetime
    threshold_minutes: int
    team_id: UUID | None


class CsatReceived(msgspec.Struct):
    conversation_id: UUID
    score: int
    comment: str | None


CONTACT_CREATED = EventType("contact.created", 1, ContactChanged, "A contact was created (by a channel or a person).")
CONTACT_UPDATED = EventType("contact.updated", 1, ContactChanged, "A contact's details changed.")
CONTACT_MERGED = EventType("contact.merged", 1, ContactMerged, "Two contacts became one, keeping both histories.")
CONVERSATION_CREATED = EventType("conversation.created", 1, ConversationFacts, "A conversation started.")
CONVERSATION_ASSIGNED = EventType("conversation.assigned", 1, Assigned, "A conversation got a new owner.")
CONVERSATION_TRANSFERRED = EventType(
    "conversation.transferred", 1, Transferred, "A conversation was transferred, with a summary."
)
CONVERSATION_STAGE_CHANGED = EventType(
    "conversation.stage_changed", 1, StageChanged, "A conversation moved to another stage."
)
CONVERSATION_RESOLVED = EventType("conversation.resolved", 1, Resolved, "A conversation was resolved.")
CONVERSATION_WAIT_ALERT = EventType(
    "conversation.wait_alert", 1, WaitAlert, "A customer has waited longer than the priority's threshold."
)
MESSAGE_RECEIVED = EventType("message.received", 1, MessageFacts, "A contact's message arrived.")
MESSAGE_SENT = EventType("message.sent", 1, MessageFacts, "A reply or a note was written (queued for the channel).")
MESSAGE_STATUS_UPDATED = EventType(
    "message.status_updated", 1, MessageStatus, "A sent message was delivered, read, or failed."
)
CSAT_RECEIVED = EventType("csat.received", 1, CsatReceived, "A contact rated the attendance.")

EVENTS = [
    CONTACT_CREATED,
    CONTACT_UPDATED,
    CONTACT_MERGED,
    CONVERSATION_CREATED,
    CONVERSATION_ASSIGNED,
    CONVERSATION_TRANSFERRED,
    CONVERSATION_STAGE_CHANGED,
    CONVERSATION_RESOLVED,
    CONVERSATION_WAIT_ALERT,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    MESSAGE_STATUS_UPDATED,
    CSAT_RECEIVED,
]
