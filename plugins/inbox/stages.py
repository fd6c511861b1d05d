"""The attendance board's stages: the organization's own columns, each of a kind the inbox's rules use.

Kinds: ``new`` (nobody answered yet), ``open`` (being answered), ``waiting`` (for the customer) and
``resolved``. An organization may rename, recolor, reorder and add stages; there is always at least
one ``new`` and one ``resolved`` stage, since messages and resolutions move conversations to them.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import Conflict, NotFound, ValidationFailed, audit
from plugins.inbox.models import Conversation, Stage

__all__ = ["DEFAULT_STAGES", "KINDS", "StageService", "ensure_default_stages"]

KINDS = ("new", "open", "waiting", "resolved")
COLOR = r"^#[0-9a-fA-F]{6}$"

DEFAULT_STAGES: dict[str, tuple[tuple[str, str, str], ...]] = {
    # (name, kind, color) in the organization's language: stage names are the organization's own data.
    "pt-BR": (
        ("Novo", "new", "#8b5cf6"),
        ("Em atendimento", "open", "#ec4899"),
        ("Aguardando cliente", "waiting", "#f59e0b"),
        ("Resolvido", "resolved", "#10b981"),
    ),
    "en": (
        ("New", "new", "#8b5cf6"),
        ("In progress", "open", "#ec4899"),
        ("Waiting for customer", "waiting", "#f59e0b"),
        ("Resolved", "resolved", "#10b981"),
    ),
    "es": (
        ("Nuevo", "new", "#8b5cf6"),
        ("En atención", "open", "#ec4899"),
        ("Esperando al cliente", "waiting", "#f59e0b"),
        ("Resuelto", "resolved", "#10b981"),
    ),
}


async def _organization_language(session: AsyncSession) -> str:
    row = (
        await session.execute(
            text("SELECT language FROM organizations WHERE id = current_setting('app.tenant_id')::uuid")
        )
    ).first()
    language = row[0] if row else "pt-BR"
    if language in DEFAULT_STAGES:
        return language
    return {"pt": "pt-BR", "en-US": "en", "es-419": "es"}.get(language, "pt-BR")


async def ensure_default_stages(session: AsyncSession) -> list[Stage]:
    found = list((await session.execute(select(Stage).order_by(Stage.position))).scalars())
    if found:
        return found
    language = await _organization_language(session)
    stages = [
        Stage(name=name, kind=kind, color=color, position=index)
        for index, (name, kind, color) in enumerate(DEFAULT_STAGES[language])
    ]
    session.add_all(stages)
    await session.flush()
    return stages


class StageService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self) -> list[Stage]:
        return await ensure_default_stages(self.session)

    async def get(self, stage_id: UUID) -> Stage:
        stage = await self.session.get(Stage, stage_id)
        if stage is None:
            raise NotFound("Stage not found.")
        return stage

    async def first(self, kind: str) -> Stage:
        """The leftmost stage of ``kind`` (``open`` and ``waiting`` fall back to ``new``)."""
        stages = await self.list()
        for wanted in (kind, "new") if kind in ("open", "waiting") else (kind,):
            for stage in stages:
                if stage.kind == wanted:
                    return stage
        raise Conflict("The board has no stage of kind %(kind)s.", kind=kind)

    def _check(self, name: str | None, kind: str | None, color: str | None) -> None:
        import re

        if name is not None and not name.strip():
            raise ValidationFailed("Give the stage a name.", errors=[{"field": "name", "message": "required"}])
        if kind is not None and kind not in KINDS:
            raise ValidationFailed("Unknown stage kind.", errors=[{"field": "kind", "message": "invalid"}])
        if color is not None and not re.match(COLOR, color):
            raise ValidationFailed(
                "Colors are written #rrggbb.", errors=[{"field": "color", "message": "invalid_color"}]
            )

    async def create(self, name: str, kind: str, *, color: str = "#8b5cf6", position: int | None = None) -> Stage:
        self._check(name, kind, color)
        stages = await self.list()
        if position is None:
            position = (max((s.position for s in stages), default=-1)) + 1
        stage = Stage(name=" ".join(name.split())[:60], kind=kind, color=color, position=position)
        self.session.add(stage)
        await self.session.flush()
        await self._renumber(stage)
        await audit(
            self.session,
            action="inbox.stage.created",
            target_type="inbox_stage",
            target_id=stage.id,
            after={"name": stage.name, "kind": kind},
        )
        return stage

    async def update(self, stage_id: UUID, **changes: object) -> Stage:
        stage = await self.get(stage_id)
        self._check(changes.get("name"), changes.get("kind"), changes.get("color"))  # type: ignore[arg-type]
        if "kind" in changes and changes["kind"] != stage.kind:
            await self._keep_one(stage)
            stage.kind = str(changes["kind"])
        if "name" in changes:
            stage.name = " ".join(str(changes["name"]).split())[:60]
        if "color" in changes:
            stage.color = str(changes["color"])
        if "position" in changes:
            stage.position = int(changes["position"])  # type: ignore[call-overload]
            await self.session.flush()
            await self._renumber(stage)
        await self.session.flush()
        return stage

    async def delete(self, stage_id: UUID, *, move_to: UUID | None = None) -> None:
        """Delete a stage; its conversations move to ``move_to`` (default: the first stage of its kind left)."""
        stage = await self.get(stage_id)
        await self._keep_one(stage)
        target = await self.get(move_to) if move_to else None
        if target is None or target.id == stage.id:
            others = [s for s in await self.list() if s.id != stage.id]
            target = next((s for s in others if s.kind == stage.kind), others[0])
        await self.session.execute(
            update(Conversation).where(Conversation.stage_id == stage.id).values(stage_id=target.id)
        )
        await self.session.delete(stage)
        await self.session.flush()
        await audit(
            self.session,
            action="inbox.stage.deleted",
            target_type="inbox_stage",
            target_id=stage_id,
            before={"name": stage.name},
            after={"moved_to": str(target.id)},
        )

    async def _keep_one(self, stage: Stage) -> None:
        if stage.kind not in ("new", "resolved"):
            return
        count = (
            await self.session.execute(select(func.count()).select_from(Stage).where(Stage.kind == stage.kind))
        ).scalar_one()
        if count <= 1:
            raise Conflict(
                "The board needs at least one stage of kind %(kind)s.",
                errors=[{"field": "kind", "message": "last_of_kind"}],
                kind=stage.kind,
            )

    async def _renumber(self, moved: Stage) -> None:
        stages = sorted((s for s in await self.list() if s.id != moved.id), key=lambda s: (s.position, str(s.id)))
        index = max(0, min(moved.position, len(stages)))
        stages.insert(index, moved)
        for position, stage in enumerate(stages):
            stage.position = position
        await self.session.flush()
