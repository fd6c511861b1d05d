"""The owner state machine on its own: which transitions exist, and when the AI may speak."""

from __future__ import annotations

import uuid

import pytest

from plugins.inbox.ownership import (
    Action,
    Owner,
    OwnerKind,
    OwnershipRefused,
    OwnerState,
    ai_may_reply,
    apply,
)

AGENT, OTHER_AGENT = uuid.uuid4(), uuid.uuid4()
ANA, BETO = uuid.uuid4(), uuid.uuid4()
TEAM = uuid.uuid4()


def test_the_ai_speaks_only_as_the_unpaused_owner_of_an_open_conversation():
    owned = OwnerState(Owner.agent(AGENT))
    assert ai_may_reply(owned, AGENT)
    assert not ai_may_reply(owned, OTHER_AGENT), "another agent never speaks in its place"
    assert not ai_may_reply(OwnerState(Owner.agent(AGENT), ai_paused=True), AGENT)
    assert not ai_may_reply(OwnerState(Owner.agent(AGENT), resolved=True), AGENT)
    assert not ai_may_reply(OwnerState(Owner.person(ANA)), AGENT)
    assert not ai_may_reply(OwnerState(Owner.team(TEAM)), AGENT)
    assert not ai_may_reply(OwnerState(Owner.nobody()), AGENT)


def test_a_person_claims_only_for_themself_and_from_the_queue_or_the_ai():
    for start in (Owner.nobody(), Owner.team(TEAM), Owner.agent(AGENT)):
        state = apply(OwnerState(start), Action.CLAIM, Owner.person(ANA), by_user_id=ANA)
        assert state.owner == Owner.person(ANA)
    with pytest.raises(OwnershipRefused) as refused:
        apply(OwnerState(Owner.nobody()), Action.CLAIM, Owner.person(BETO), by_user_id=ANA)
    assert refused.value.code == "claim_for_self"
    with pytest.raises(OwnershipRefused) as refused:
        apply(OwnerState(Owner.person(BETO)), Action.CLAIM, Owner.person(ANA), by_user_id=ANA)
    assert refused.value.code == "owner_transition", "a person's conversation is transferred, not claimed"


def test_the_ai_hands_off_to_people_only():
    state = apply(OwnerState(Owner.agent(AGENT)), Action.HANDOFF, Owner.team(TEAM))
    assert state.owner.kind is OwnerKind.TEAM
    with pytest.raises(OwnershipRefused):
        apply(OwnerState(Owner.agent(AGENT)), Action.HANDOFF, Owner.agent(OTHER_AGENT))
    with pytest.raises(OwnershipRefused):
        apply(OwnerState(Owner.person(ANA)), Action.HANDOFF, Owner.team(TEAM))


def test_release_is_the_owners_and_goes_back_to_the_queue():
    state = apply(OwnerState(Owner.person(ANA, TEAM)), Action.RELEASE, Owner.team(TEAM), by_user_id=ANA)
    assert state.owner == Owner.team(TEAM)
    with pytest.raises(OwnershipRefused) as refused:
        apply(OwnerState(Owner.person(ANA)), Action.RELEASE, Owner.nobody(), by_user_id=BETO)
    assert refused.value.code == "not_owner"
    with pytest.raises(OwnershipRefused):
        apply(OwnerState(Owner.person(ANA)), Action.RELEASE, Owner.person(BETO), by_user_id=ANA)


def test_a_paused_ai_stays_paused_until_a_person_gives_the_conversation_to_an_agent():
    paused = OwnerState(Owner.person(ANA), ai_paused=True)
    moved = apply(paused, Action.TRANSFER, Owner.person(BETO), by_user_id=ANA)
    assert moved.ai_paused, "a transfer between people keeps the AI paused"
    returned = apply(paused, Action.RETURN, Owner.agent(AGENT))
    assert returned.ai_paused and not ai_may_reply(returned, AGENT), "the automatic return to the AI keeps it paused"
    handed = apply(paused, Action.TRANSFER, Owner.agent(AGENT), by_user_id=ANA)
    assert not handed.ai_paused and ai_may_reply(handed, AGENT), "a person handing it to the AI on purpose resumes it"


def test_a_transfer_to_the_same_owner_is_refused_and_owners_are_whole():
    with pytest.raises(OwnershipRefused) as refused:
        apply(OwnerState(Owner.person(ANA)), Action.TRANSFER, Owner.person(ANA), by_user_id=ANA)
    assert refused.value.code == "same_owner"
    with pytest.raises(ValueError):
        Owner(OwnerKind.PERSON)
    with pytest.raises(ValueError):
        Owner(OwnerKind.AGENT)
