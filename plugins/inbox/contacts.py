"""Contacts and identity resolution: one contact per person, however many channels know them.

Channels call :meth:`ContactService.resolve` with the identity they know (a WhatsApp phone, a web
visitor id): it finds the contact that identity belongs to, or a contact registered with the same
phone or e-mail, or creates one, and is safe under concurrent deliveries (an advisory lock per
identity plus the unique ``(tenant_id, kind, address)``). Merging moves identities and conversations
to the contact that stays, so both histories survive. LGPD: :meth:`export` returns everything kept
about a contact, :meth:`erase` removes the personal data and message contents, both audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, func, literal_column, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import NotFound, ValidationFailed, after_commit, audit, emit, storage
from plugins.inbox.events import CONTACT_CREATED, CONTACT_MERGED, CONTACT_UPDATED, ContactChanged, ContactMerged
from plugins.inbox.models import Contact, ContactIdentity, Conversation, Message, Transfer
from plugins.inbox.phones import canonical_phone, format_phone, normalize_phone

__all__ = ["ContactService", "Identity", "identity_lock"]

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_TAGS = 30


@dataclass(frozen=True)
class Identity:
    """How a channel names a contact: ``kind`` (``whatsapp``, ``webchat``, ...) and its ``address``."""

    kind: str
    address: str
    display: str = ""


async def identity_lock(session: AsyncSession, *parts: object) -> None:
    """Serialize work on one identity for the rest of the transaction (concurrent deliveries wait)."""
    key = ":".join(str(part) for part in parts)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"inbox:{key}"})


def _changed(contact: Contact) -> ContactChanged:
    return ContactChanged(
        contact_id=contact.id,
        name=contact.name,
        phones=list(contact.phones or []),
        emails=list(contact.emails or []),
        tags=list(contact.tags or []),
    )


def clean_phones(values: list[str]) -> list[str]:
    """Canonical E.164 numbers, each once, in the given order; a number that is not one is refused."""
    out: list[str] = []
    for index, raw in enumerate(values):
        number = normalize_phone(raw)
        if number is None:
            raise ValidationFailed(
                "%(value)s is not a phone number.",
                errors=[{"field": f"phones[{index}]", "message": "invalid_phone"}],
                value=raw,
            )
        number = canonical_phone(number)
        if number not in out:
            out.append(number)
    return out


def clean_emails(values: list[str]) -> list[str]:
    out: list[str] = []
    for index, raw in enumerate(values):
        address = raw.strip().lower()
        if not EMAIL.match(address):
            raise ValidationFailed(
                "%(value)s is not an e-mail address.",
                errors=[{"field": f"emails[{index}]", "message": "invalid_email"}],
                value=raw,
            )
        if address not in out:
            out.append(address)
    return out


def clean_tags(values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        tag = " ".join(raw.split()).lower()[:60]
        if tag and tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValidationFailed(
            "At most %(count)d tags.", errors=[{"field": "tags", "message": "too_many"}], count=MAX_TAGS
        )
    return out


class ContactService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, contact_id: UUID, *, follow_merge: bool = False) -> Contact:
        contact = await self.session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("Contact not found.")
        if follow_merge:
            seen = {contact.id}
            while contact.merged_into_id is not None and contact.merged_into_id not in seen:
                following = await self.session.get(Contact, contact.merged_into_id)
                if following is None:
                    break
                seen.add(following.id)
                contact = following
        return contact

    async def identities(self, contact_id: UUID) -> list[ContactIdentity]:
        rows = await self.session.execute(
            select(ContactIdentity).where(ContactIdentity.contact_id == contact_id).order_by(ContactIdentity.created_at)
        )
        return list(rows.scalars())

    async def resolve(
        self,
        identity: Identity,
        *,
        name: str = "",
        phone: str | None = None,
        email: str | None = None,
        language: str | None = None,
    ) -> tuple[Contact, ContactIdentity, bool]:
        """The contact and identity for ``identity``, creating them as needed; True when the contact is new.

        ``phone`` and ``email`` let a new identity join a contact registered with them (by hand, or
        through another channel) instead of creating a second contact.
        """
        address = identity.address.strip()
        if not address:
            raise ValidationFailed("The identity has no address.", errors=[{"field": "address", "message": "required"}])
        await identity_lock(self.session, identity.kind, address)
        found = (
            await self.session.execute(
                select(ContactIdentity).where(ContactIdentity.kind == identity.kind, ContactIdentity.address == address)
            )
        ).scalar_one_or_none()
        now = datetime.now(UTC)
        if found is not None:
            contact = await self.get(found.contact_id, follow_merge=True)
            if contact.id != found.contact_id:
                found.contact_id = contact.id
            if identity.display and found.display != identity.display[:200]:
                found.display = identity.display[:200]
            if not contact.name and (name or identity.display):
                contact.name = (name or identity.display)[:200]
            contact.last_seen_at = now
            return contact, found, False
        normalized = normalize_phone(phone) if phone else None
        phones = [canonical_phone(normalized)] if normalized else []
        emails = [e.strip().lower() for e in [email] if e and EMAIL.match(e.strip())]
        contact = await self._registered(phones, emails)
        created = contact is None
        if contact is None:
            contact = Contact(
                name=(name or identity.display or "")[:200],
                phones=phones,
                emails=emails,
                language=language,
                tags=[],
                attributes={},
                last_seen_at=now,
            )
            self.session.add(contact)
            await self.session.flush()
        else:
            contact.last_seen_at = now
        record = ContactIdentity(
            contact_id=contact.id, kind=identity.kind, address=address, display=identity.display[:200]
        )
        self.session.add(record)
        await self.session.flush()
        await self._attach_all(contact)
        if created:
            await emit(self.session, CONTACT_CREATED, _changed(contact))
        return contact, record, created

    async def _registered(self, phones: list[str], emails: list[str]) -> Contact | None:
        """A live contact that already has one of these phones or e-mails.

        Looked up through their identities (``whatsapp`` for a phone, ``email``), whose unique index
        serves the lookup under row-level security; the contact's own arrays would need a scan.
        """
        wanted = [("whatsapp", phone) for phone in phones] + [("email", address) for address in emails]
        if not wanted:
            return None
        rows = await self.session.execute(
            select(Contact)
            .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .where(
                or_(
                    *(
                        and_(ContactIdentity.kind == kind, ContactIdentity.address == address)
                        for kind, address in wanted
                    )
                ),
                Contact.merged_into_id.is_(None),
                Contact.erased_at.is_(None),
            )
            .order_by(Contact.created_at)
            .limit(1)
        )
        return rows.scalar_one_or_none()

    async def _attach_all(self, contact: Contact) -> None:
        """Identities for the contact's phones and e-mails, so other channels find the same person."""
        for number in contact.phones or []:
            await self._attach(contact, Identity("whatsapp", number))
        for address in contact.emails or []:
            await self._attach(contact, Identity("email", address))

    async def create(
        self,
        *,
        name: str,
        phones: list[str] | None = None,
        emails: list[str] | None = None,
        language: str | None = None,
        tags: list[str] | None = None,
        attributes: dict[str, Any] | None = None,
        actor_id: UUID | None = None,
    ) -> Contact:
        """A contact registered by a person (or through the API); channels use :meth:`resolve`."""
        name = " ".join((name or "").split())[:200]
        contact = Contact(
            name=name,
            phones=clean_phones(phones or []),
            emails=clean_emails(emails or []),
            language=language,
            tags=clean_tags(tags or []),
            attributes=dict(attributes or {}),
        )
        if not (contact.name or contact.phones or contact.emails):
            raise ValidationFailed(
                "Give the contact a name, a phone or an e-mail.", errors=[{"field": "name", "message": "required"}]
            )
        self.session.add(contact)
        await self.session.flush()
        await self._attach_all(contact)
        await emit(self.session, CONTACT_CREATED, _changed(contact))
        await audit(
            self.session,
            action="inbox.contact.created",
            target_type="inbox_contact",
            target_id=contact.id,
            after={"name": contact.name, "phones": contact.phones, "emails": contact.emails},
        )
        return contact

    async def _attach(self, contact: Contact, identity: Identity) -> None:
        """Give ``contact`` this identity unless another contact already has it (then nothing changes)."""
        exists = (
            await self.session.execute(
                select(ContactIdentity.id).where(
                    ContactIdentity.kind == identity.kind, ContactIdentity.address == identity.address
                )
            )
        ).first()
        if exists is None:
            self.session.add(ContactIdentity(contact_id=contact.id, kind=identity.kind, address=identity.address))
            await self.session.flush()

    async def update(self, contact_id: UUID, **changes: Any) -> Contact:
        contact = await self.get(contact_id)
        if contact.erased_at is not None:
            raise ValidationFailed("This contact's data was erased.", errors=[{"field": "id", "message": "erased"}])
        before = {"name": contact.name, "phones": list(contact.phones), "emails": list(contact.emails)}
        if "name" in changes:
            contact.name = " ".join((changes["name"] or "").split())[:200]
        if "phones" in changes:
            contact.phones = clean_phones(changes["phones"] or [])
        if "emails" in changes:
            contact.emails = clean_emails(changes["emails"] or [])
        if "phones" in changes or "emails" in changes:
            await self._attach_all(contact)
        if "tags" in changes:
            contact.tags = clean_tags(changes["tags"] or [])
        if "language" in changes:
            contact.language = changes["language"]
        if "attributes" in changes:
            contact.attributes = dict(changes["attributes"] or {})
        await self.session.flush()
        await emit(self.session, CONTACT_UPDATED, _changed(contact))
        await audit(
            self.session,
            action="inbox.contact.updated",
            target_type="inbox_contact",
            target_id=contact.id,
            before=before,
            after={"name": contact.name, "phones": list(contact.phones), "emails": list(contact.emails)},
        )
        return contact

    async def list(self, *, query: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Contact], int]:
        statement = select(Contact).where(Contact.merged_into_id.is_(None))
        if query and query.strip():
            term = query.strip()[:120]
            digits = re.sub(r"\D", "", term)
            folded = func.atendai_unaccent(func.lower(term))
            name_key = literal_column("inbox_contacts.name_key")
            clauses = [name_key.contains(folded), func.word_similarity(folded, name_key) >= 0.5]
            clauses.append(func.array_to_string(Contact.emails, " ").contains(term.lower()))
            if len(digits) >= 4:
                clauses.append(func.array_to_string(Contact.phones, " ").contains(digits))
            statement = statement.where(or_(*clauses))
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = await self.session.execute(
            statement.order_by(Contact.last_seen_at.desc().nulls_last(), Contact.id).limit(limit).offset(offset)
        )
        return list(rows.scalars()), total

    async def merge(self, keep_id: UUID, merge_id: UUID, *, actor_id: UUID | None = None) -> Contact:
        """Make ``merge_id`` part of ``keep_id``: its identities, conversations, phones, e-mails and tags move."""
        if keep_id == merge_id:
            raise ValidationFailed("Choose two different contacts.", errors=[{"field": "merge_id", "message": "same"}])
        keep = await self.get(keep_id)
        gone = await self.get(merge_id)
        for contact in (keep, gone):
            if contact.merged_into_id is not None or contact.erased_at is not None:
                raise ValidationFailed(
                    "This contact was merged or erased already.", errors=[{"field": "merge_id", "message": "gone"}]
                )
        await self.session.execute(
            update(ContactIdentity).where(ContactIdentity.contact_id == gone.id).values(contact_id=keep.id)
        )
        await self.session.execute(
            update(Conversation).where(Conversation.contact_id == gone.id).values(contact_id=keep.id)
        )
        keep.phones = list(dict.fromkeys([*keep.phones, *gone.phones]))
        keep.emails = list(dict.fromkeys([*keep.emails, *gone.emails]))
        keep.tags = list(dict.fromkeys([*keep.tags, *gone.tags]))[:MAX_TAGS]
        keep.attributes = {**(gone.attributes or {}), **(keep.attributes or {})}
        keep.name = keep.name or gone.name
        keep.language = keep.language or gone.language
        keep.avatar_key = keep.avatar_key or gone.avatar_key
        gone.merged_into_id = keep.id
        gone.phones, gone.emails = [], []
        await self.session.flush()
        await emit(self.session, CONTACT_MERGED, ContactMerged(contact_id=keep.id, merged_id=gone.id))
        await audit(
            self.session,
            action="inbox.contact.merged",
            target_type="inbox_contact",
            target_id=keep.id,
            after={"merged_id": str(gone.id), "merged_name": gone.name},
        )
        return keep

    async def export(self, contact_id: UUID) -> dict[str, Any]:
        """Everything kept about the contact (LGPD art. 18): details, identities, conversations, messages."""
        contact = await self.get(contact_id)
        ids = [contact.id]
        merged = await self.session.execute(select(Contact.id).where(Contact.merged_into_id == contact.id))
        ids += list(merged.scalars())
        conversations = (
            (
                await self.session.execute(
                    select(Conversation).where(Conversation.contact_id.in_(ids)).order_by(Conversation.created_at)
                )
            )
            .scalars()
            .all()
        )
        out_conversations = []
        for conversation in conversations:
            messages = (
                (
                    await self.session.execute(
                        select(Message)
                        .where(Message.conversation_id == conversation.id, Message.private.is_(False))
                        .order_by(Message.created_at)
                    )
                )
                .scalars()
                .all()
            )
            out_conversations.append(
                {
                    "id": str(conversation.id),
                    "number": conversation.number,
                    "channel_id": str(conversation.channel_id),
                    "created_at": conversation.created_at.isoformat(),
                    "resolved_at": conversation.resolved_at.isoformat() if conversation.resolved_at else None,
                    "csat_score": conversation.csat_score,
                    "csat_comment": conversation.csat_comment,
                    "messages": [
                        {
                            "id": str(m.id),
                            "at": m.created_at.isoformat(),
                            "direction": m.direction,
                            "sender": m.sender_kind,
                            "kind": m.kind,
                            "body": m.body,
                            "file": (m.media or {}).get("filename"),
                        }
                        for m in messages
                    ],
                }
            )
        await audit(self.session, action="inbox.contact.exported", target_type="inbox_contact", target_id=contact.id)
        return {
            "contact": {
                "id": str(contact.id),
                "name": contact.name,
                "phones": [{"e164": p, "display": format_phone(p)} for p in contact.phones],
                "emails": list(contact.emails),
                "language": contact.language,
                "tags": list(contact.tags),
                "attributes": dict(contact.attributes or {}),
                "created_at": contact.created_at.isoformat(),
            },
            "identities": [
                {"kind": i.kind, "address": i.address, "display": i.display} for i in await self.identities(contact.id)
            ],
            "conversations": out_conversations,
            "exported_at": datetime.now(UTC).isoformat(),
        }

    async def erase(self, contact_id: UUID, *, reason: str = "") -> Contact:
        """Remove the contact's personal data and what they wrote or received (LGPD art. 18, VI).

        Conversations stay as empty shells (numbers, stages, times) so reports keep their counts.
        Files are deleted from storage. The audit entry says who erased whom and why, not what was erased.
        """
        contact = await self.get(contact_id)
        if contact.erased_at is not None:
            return contact
        ids = [
            contact.id,
            *(await self.session.execute(select(Contact.id).where(Contact.merged_into_id == contact.id))).scalars(),
        ]
        conversation_ids = list(
            (await self.session.execute(select(Conversation.id).where(Conversation.contact_id.in_(ids)))).scalars()
        )
        keys = [
            media["key"]
            for media in (
                await self.session.execute(
                    select(Message.media).where(
                        Message.conversation_id.in_(conversation_ids), Message.media.is_not(None)
                    )
                )
            ).scalars()
            if media and media.get("key")
        ]
        if conversation_ids:
            await self.session.execute(
                update(Message)
                .where(Message.conversation_id.in_(conversation_ids))
                .values(body="", media=None, payload={})
            )
            await self.session.execute(
                update(Conversation)
                .where(Conversation.id.in_(conversation_ids))
                .values(subject="", summary="", last_message_preview="", csat_comment=None)
            )
            await self.session.execute(
                update(Transfer).where(Transfer.conversation_id.in_(conversation_ids)).values(summary="", reason="")
            )
        await self.session.execute(delete(ContactIdentity).where(ContactIdentity.contact_id.in_(ids)))
        now = datetime.now(UTC)
        for erased_id in ids:
            erased = await self.get(erased_id)
            erased.name, erased.phones, erased.emails, erased.tags = "", [], [], []
            erased.attributes, erased.avatar_key, erased.language = {}, None, None
            erased.erased_at = now
        await self.session.flush()

        async def delete_files() -> None:
            files = storage()
            for key in keys:
                await files.delete(key)

        # Only once the erasure is committed: a rolled-back erasure must not lose the files.
        after_commit(self.session, delete_files)
        await audit(
            self.session,
            action="inbox.contact.erased",
            target_type="inbox_contact",
            target_id=contact.id,
            after={"reason": reason[:300], "conversations": len(conversation_ids), "files": len(keys)},
        )
        return contact
