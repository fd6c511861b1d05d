"""Events this plugin emits."""

from __future__ import annotations

from uuid import UUID

import msgspec

from kernel.sdk import EventType


class NoteCreated(msgspec.Struct):
    note_id: UUID
    title: str


NOTE_CREATED = EventType(name="example.note.created", version=1, payload=NoteCreated, description="A note was written.")
