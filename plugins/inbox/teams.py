"""Teams (setores), their members, and automatic assignment: round-robin or least load, within capacity.

Assignment locks the team's row, so two conversations arriving together never both go to the member
who had one free slot. A member's load is the number of unresolved conversations they own; a member
who is away (``available`` off), deactivated, or at capacity is passed by, and when nobody fits, the
conversation waits in the team's queue to be claimed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from kernel.sdk import Conflict, NotFound, ValidationFailed, audit
from plugins.inbox.models import Conversation, Team, TeamMember

__all__ = ["ASSIGNMENTS", "TeamService", "active_users"]

ASSIGNMENTS = ("manual", "round_robin", "least_load")


async def active_users(session: AsyncSession, user_ids: list[UUID]) -> dict[UUID, str]:
    """The active people of this organization among ``user_ids``, with their names."""
    if not user_ids:
        return {}
    rows = await session.execute(
        text("SELECT id, name FROM users WHERE id = ANY(:ids) AND is_active").bindparams(
            bindparam("ids", type_=ARRAY(Uuid()))
        ),
        {"ids": list(user_ids)},
    )
    return {row.id: row.name for row in rows}


class TeamService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self) -> list[Team]:
        return list((await self.session.execute(select(Team).order_by(Team.name))).scalars())

    async def get(self, team_id: UUID) -> Team:
        team = await self.session.get(Team, team_id)
        if team is None:
            raise NotFound("Team not found.")
        return team

    def _check(self, name: str | None, assignment: str | None, capacity: int | None) -> None:
        if name is not None and not name.strip():
            raise ValidationFailed("Give the team a name.", errors=[{"field": "name", "message": "required"}])
        if assignment is not None and assignment not in ASSIGNMENTS:
            raise ValidationFailed("Unknown assignment rule.", errors=[{"field": "assignment", "message": "invalid"}])
        if capacity is not None and not 1 <= capacity <= 500:
            raise ValidationFailed(
                "Capacity goes from 1 to 500 conversations.", errors=[{"field": "capacity", "message": "range"}]
            )

    async def create(
        self, name: str, *, assignment: str = "manual", capacity: int = 10, hours: dict[str, Any] | None = None
    ) -> Team:
        self._check(name, assignment, capacity)
        team = Team(name=" ".join(name.split())[:80], assignment=assignment, capacity=capacity, hours=hours)
        self.session.add(team)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("A team with this name exists.", errors=[{"field": "name", "message": "taken"}]) from exc
        await audit(
            self.session,
            action="inbox.team.created",
            target_type="inbox_team",
            target_id=team.id,
            after={"name": team.name, "assignment": assignment},
        )
        return team

    async def update(self, team_id: UUID, **changes: Any) -> Team:
        team = await self.get(team_id)
        self._check(changes.get("name"), changes.get("assignment"), changes.get("capacity"))
        before = {"name": team.name, "assignment": team.assignment, "capacity": team.capacity}
        for name in ("assignment", "capacity", "hours"):
            if name in changes:
                setattr(team, name, changes[name])
        if "name" in changes:
            team.name = " ".join(changes["name"].split())[:80]
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("A team with this name exists.", errors=[{"field": "name", "message": "taken"}]) from exc
        await audit(
            self.session,
            action="inbox.team.updated",
            target_type="inbox_team",
            target_id=team.id,
            before=before,
            after={"name": team.name, "assignment": team.assignment, "capacity": team.capacity},
        )
        return team

    async def delete(self, team_id: UUID) -> None:
        team = await self.get(team_id)
        await self.session.delete(team)
        await self.session.flush()
        await audit(
            self.session,
            action="inbox.team.deleted",
            target_type="inbox_team",
            target_id=team_id,
            before={"name": team.name},
        )

    async def members(self, team_id: UUID) -> list[TeamMember]:
        rows = await self.session.execute(
            select(TeamMember).where(TeamMember.team_id == team_id).order_by(TeamMember.created_at)
        )
        return list(rows.scalars())

    async def teams_of(self, user_id: UUID) -> list[UUID]:
        rows = await self.session.execute(select(TeamMember.team_id).where(TeamMember.user_id == user_id))
        return list(rows.scalars())

    async def add_member(self, team_id: UUID, user_id: UUID, *, capacity: int | None = None) -> TeamMember:
        await self.get(team_id)
        if not await active_users(self.session, [user_id]):
            raise ValidationFailed(
                "This person is not an active user of the organization.",
                errors=[{"field": "user_id", "message": "unknown"}],
            )
        self._check(None, None, capacity)
        existing = (
            await self.session.execute(
                select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
            )
        ).scalar_one_or_none()
        if existing is not None:
            existing.capacity = capacity
            await self.session.flush()
            return existing
        member = TeamMember(team_id=team_id, user_id=user_id, capacity=capacity, available=True)
        self.session.add(member)
        await self.session.flush()
        await audit(
            self.session,
            action="inbox.team.member_added",
            target_type="inbox_team",
            target_id=team_id,
            after={"user_id": str(user_id)},
        )
        return member

    async def remove_member(self, team_id: UUID, user_id: UUID) -> None:
        await self.get(team_id)
        await self.session.execute(
            delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
        )
        await audit(
            self.session,
            action="inbox.team.member_removed",
            target_type="inbox_team",
            target_id=team_id,
            before={"user_id": str(user_id)},
        )

    async def set_available(self, user_id: UUID, available: bool) -> int:
        """Mark a person away or back in every team they belong to; returns the memberships changed."""
        members = (await self.session.execute(select(TeamMember).where(TeamMember.user_id == user_id))).scalars()
        changed = 0
        for member in members:
            if member.available != available:
                member.available = available
                changed += 1
        await self.session.flush()
        return changed

    async def loads(self, user_ids: list[UUID]) -> dict[UUID, int]:
        """Unresolved conversations each person owns."""
        if not user_ids:
            return {}
        rows = await self.session.execute(
            select(Conversation.owner_user_id, func.count())
            .where(
                Conversation.owner_kind == "person",
                Conversation.owner_user_id.in_(user_ids),
                Conversation.resolved_at.is_(None),
            )
            .group_by(Conversation.owner_user_id)
        )
        found = {user_id: count for user_id, count in rows.all()}
        return {user_id: found.get(user_id, 0) for user_id in user_ids}

    async def pick_member(self, team_id: UUID) -> UUID | None:
        """The member the team's rule gives the next conversation to, or None (manual, or nobody fits)."""
        team = (
            await self.session.execute(select(Team).where(Team.id == team_id).with_for_update())
        ).scalar_one_or_none()
        if team is None or team.assignment == "manual":
            return None
        members = [m for m in await self.members(team_id) if m.available]
        people = await active_users(self.session, [m.user_id for m in members])
        members = sorted((m for m in members if m.user_id in people), key=lambda m: str(m.user_id))
        if not members:
            return None
        loads = await self.loads([m.user_id for m in members])
        free = [m for m in members if loads[m.user_id] < (m.capacity or team.capacity)]
        if not free:
            return None
        if team.assignment == "least_load":
            lowest = min(loads[m.user_id] for m in free)
            free = [m for m in free if loads[m.user_id] == lowest]
        order = [str(m.user_id) for m in free]
        last = str(team.last_assigned_user_id) if team.last_assigned_user_id else None
        chosen = next((m for m in free if last is None or str(m.user_id) > last), free[0]) if order else None
        if chosen is None:
            return None
        team.last_assigned_user_id = chosen.user_id
        await self.session.flush()
        return chosen.user_id
