"""Business rules for notes. No HTTP here: the API, the page, the tool and the subscriber call these."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from atendai_example.events import NOTE_CREATED, NoteCreated
from atendai_example.models import Note
from kernel.sdk import NotFound, ValidationFailed, emit

MAX_TITLE = 200


def _clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise ValidationFailed("A note needs a title.", errors=[{"field": "title", "message": "required"}])
    if len(title) > MAX_TITLE:
        raise ValidationFailed(
            "The title is longer than %(count)d characters.",
            errors=[{"field": "title", "message": "too long"}],
            count=MAX_TITLE,
        )
    return title


class NoteService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, query: str | None = None, limit: int = 50, order: str = "newest") -> Sequence[Note]:
        """Notes mentioning ``query`` (all without one), ``newest`` or ``oldest`` first, or by ``title``."""
        ordering = {
            "newest": (Note.created_at.desc(),),
            "oldest": (Note.created_at.asc(),),
            "title": (Note.title.asc(), Note.created_at.desc()),
        }[order]
        statement = select(Note).order_by(*ordering).limit(limit)
        if query:
            pattern = f"%{query.strip()}%"
            statement = statement.where(or_(Note.title.ilike(pattern), Note.body.ilike(pattern)))
        return (await self.session.execute(statement)).scalars().all()

    async def get(self, note_id: UUID) -> Note:
        note = (await self.session.execute(select(Note).where(Note.id == note_id))).scalar_one_or_none()
        if note is None:
            raise NotFound("Note not found.")
        return note

    async def create(self, title: str, body: str = "") -> Note:
        """Write a note; its ``example.note.created`` event commits with it (and only if it does)."""
        note = Note(title=_clean_title(title), body=body)
        self.session.add(note)
        await self.session.flush()
        await emit(self.session, NOTE_CREATED, NoteCreated(note_id=note.id, title=note.title))
        return note

    async def update(self, note_id: UUID, title: str | None = None, body: str | None = None) -> Note:
        note = await self.get(note_id)
        if title is not None:
            note.title = _clean_title(title)
        if body is not None:
            note.body = body
            note.word_count = None
        await self.session.flush()
        return note

    async def delete(self, note_id: UUID) -> None:
        note = await self.get(note_id)
        await self.session.delete(note)
        await self.session.flush()

    async def count(self) -> int:
        return (await self.session.execute(select(func.count(Note.id)))).scalar_one()

    async def record_word_count(self, note_id: UUID) -> int | None:
        note = (await self.session.execute(select(Note).where(Note.id == note_id))).scalar_one_or_none()
        if note is None:
            return None
        note.word_count = len(note.body.split())
        await self.session.flush()
        return note.word_count


async def wrote_a_note(session: AsyncSession) -> bool:
    """The first-steps check: a note beyond the welcome note the plugin writes when enabled."""
    return (await session.execute(select(func.count(Note.id)))).scalar_one() > 1
