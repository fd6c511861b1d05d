"""JSON API, mounted by the kernel under ``/api/v1/example``."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from atendai_example.models import Note
from atendai_example.services import NoteService


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    body: str = ""


class NotePatch(msgspec.Struct, forbid_unknown_fields=True):
    title: str | None = None
    body: str | None = None


class NoteOut(msgspec.Struct):
    id: UUID
    title: str
    body: str
    word_count: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, note: Note) -> NoteOut:
        return cls(
            id=note.id,
            title=note.title,
            body=note.body,
            word_count=note.word_count,
            created_at=note.created_at,
            updated_at=note.updated_at,
        )


class NotesController(Controller):
    path = "/notes"
    tags = ["example"]

    @get("/", opt={"permission": "example.note.read"}, summary="List notes")
    async def list_notes(
        self, db_session: NamedDependency[AsyncSession], q: FromQuery[str | None] = None
    ) -> list[NoteOut]:
        return [NoteOut.of(note) for note in await NoteService(db_session).list(q)]

    @post("/", opt={"permission": "example.note.write"}, summary="Write a note")
    async def create_note(self, db_session: NamedDependency[AsyncSession], data: JSONBody[NoteIn]) -> NoteOut:
        return NoteOut.of(await NoteService(db_session).create(data.title, data.body))

    @get("/{note_id:uuid}", opt={"permission": "example.note.read"}, summary="Read a note")
    async def get_note(self, db_session: NamedDependency[AsyncSession], note_id: FromPath[UUID]) -> NoteOut:
        return NoteOut.of(await NoteService(db_session).get(note_id))

    @patch("/{note_id:uuid}", opt={"permission": "example.note.write"}, summary="Change a note")
    async def update_note(
        self, db_session: NamedDependency[AsyncSession], note_id: FromPath[UUID], data: JSONBody[NotePatch]
    ) -> NoteOut:
        return NoteOut.of(await NoteService(db_session).update(note_id, data.title, data.body))

    @delete("/{note_id:uuid}", opt={"permission": "example.note.write"}, summary="Delete a note")
    async def delete_note(self, db_session: NamedDependency[AsyncSession], note_id: FromPath[UUID]) -> None:
        await NoteService(db_session).delete(note_id)
