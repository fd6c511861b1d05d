"""Who answers a conversation now, as an explicit state machine.

A conversation has one owner at a time: an AI agent, a person, a team's queue, or nobody. The rules
the rest of the inbox relies on live here, free of the database, so they can be read in one place:

* the AI speaks only while an AI agent owns the conversation and no person has paused the AI;
* a paused AI stays paused whatever happens (new messages, reopening, transfers between people)
  until a person resumes it, or a person hands the conversation to an AI agent on purpose;
* every change of owner is a transition named here; anything else is refused with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

__all__ = [
    "Action",
    "Owner",
    "OwnerKind",
    "OwnerState",
    "OwnershipRefused",
    "ai_may_reply",
    "apply",
]


class OwnerKind(StrEnum):
    AGENT = "agent"
    PERSON = "person"
    TEAM = "team"
    NONE = "none"


class Action(StrEnum):
    ASSIGN = "assign"
    """A person (a supervisor, the assignment rules) gives the conversation to an owner."""
    CLAIM = "claim"
    """A person takes a conversation from the queue (nobody's, or a team's) for themself."""
    TRANSFER = "transfer"
    """The owner (or a supervisor) hands it to another owner, with a summary."""
    HANDOFF = "handoff"
    """The AI agent hands it to people (a team, a person or the queue): by rule or by its tool."""
    RELEASE = "release"
    """The owning person gives it back to the queue (the team's, else nobody's)."""
    RETURN = "return"
    """After resolution, a new message brings the conversation back to the channel's AI agent."""


@dataclass(frozen=True)
class Owner:
    kind: OwnerKind
    user_id: UUID | None = None
    agent_id: UUID | None = None
    team_id: UUID | None = None
    """The team of a team owner; for a person, the team they took it for (kept for reports)."""

    def __post_init__(self) -> None:
        if self.kind is OwnerKind.PERSON and self.user_id is None:
            raise ValueError("a person owner needs user_id")
        if self.kind is OwnerKind.AGENT and self.agent_id is None:
            raise ValueError("an agent owner needs agent_id")
        if self.kind is OwnerKind.TEAM and self.team_id is None:
            raise ValueError("a team owner needs team_id")

    @classmethod
    def nobody(cls) -> Owner:
        return cls(OwnerKind.NONE)

    @classmethod
    def person(cls, user_id: UUID, team_id: UUID | None = None) -> Owner:
        return cls(OwnerKind.PERSON, user_id=user_id, team_id=team_id)

    @classmethod
    def agent(cls, agent_id: UUID) -> Owner:
        return cls(OwnerKind.AGENT, agent_id=agent_id)

    @classmethod
    def team(cls, team_id: UUID) -> Owner:
        return cls(OwnerKind.TEAM, team_id=team_id)

    def same_as(self, other: Owner) -> bool:
        if self.kind is not other.kind:
            return False
        if self.kind is OwnerKind.PERSON:
            return self.user_id == other.user_id
        if self.kind is OwnerKind.AGENT:
            return self.agent_id == other.agent_id
        if self.kind is OwnerKind.TEAM:
            return self.team_id == other.team_id
        return True


@dataclass(frozen=True)
class OwnerState:
    owner: Owner
    ai_paused: bool = False
    resolved: bool = False


class OwnershipRefused(Exception):
    """A transition the rules do not allow; ``code`` is stable (the API's problem type)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# Which owners each action may start from and go to.
_ALLOWED: dict[Action, tuple[frozenset[OwnerKind], frozenset[OwnerKind]]] = {
    Action.ASSIGN: (frozenset(OwnerKind), frozenset(OwnerKind)),
    Action.CLAIM: (frozenset({OwnerKind.NONE, OwnerKind.TEAM, OwnerKind.AGENT}), frozenset({OwnerKind.PERSON})),
    Action.TRANSFER: (
        frozenset({OwnerKind.PERSON, OwnerKind.TEAM, OwnerKind.AGENT, OwnerKind.NONE}),
        frozenset({OwnerKind.PERSON, OwnerKind.TEAM, OwnerKind.AGENT, OwnerKind.NONE}),
    ),
    Action.HANDOFF: (
        frozenset({OwnerKind.AGENT}),
        frozenset({OwnerKind.PERSON, OwnerKind.TEAM, OwnerKind.NONE}),
    ),
    Action.RELEASE: (frozenset({OwnerKind.PERSON}), frozenset({OwnerKind.TEAM, OwnerKind.NONE})),
    Action.RETURN: (frozenset(OwnerKind), frozenset({OwnerKind.AGENT})),
}


def apply(state: OwnerState, action: Action, target: Owner, *, by_user_id: UUID | None = None) -> OwnerState:
    """The state after ``action`` moves the conversation to ``target``, or :class:`OwnershipRefused`.

    ``by_user_id`` is the person acting (None for the AI or a rule). Pausing is untouched, except that
    a person who deliberately gives the conversation to an AI agent (assign or transfer) resumes it.
    """
    sources, targets = _ALLOWED[action]
    current = state.owner
    if current.kind not in sources:
        raise OwnershipRefused("owner_transition", f"cannot {action.value} a conversation owned by {current.kind}")
    if target.kind not in targets:
        raise OwnershipRefused("owner_transition", f"cannot {action.value} a conversation to {target.kind}")
    if current.same_as(target) and action is not Action.ASSIGN:
        raise OwnershipRefused("same_owner", "the conversation already has this owner")
    if action is Action.CLAIM and (by_user_id is None or target.user_id != by_user_id):
        raise OwnershipRefused("claim_for_self", "a person claims a conversation for themself only")
    if action is Action.RELEASE and by_user_id is not None and current.user_id != by_user_id:
        raise OwnershipRefused("not_owner", "only the person who owns the conversation can release it")
    paused = state.ai_paused
    if target.kind is OwnerKind.AGENT and by_user_id is not None and action in (Action.ASSIGN, Action.TRANSFER):
        paused = False
    return replace(state, owner=target, ai_paused=paused)


def ai_may_reply(state: OwnerState, agent_id: UUID | None) -> bool:
    """Whether the AI agent ``agent_id`` may send a reply now."""
    owner = state.owner
    return (
        owner.kind is OwnerKind.AGENT
        and agent_id is not None
        and owner.agent_id == agent_id
        and not state.ai_paused
        and not state.resolved
    )
