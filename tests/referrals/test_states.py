"""The referral state machine: the whole transition table, reasons and outcomes, and conflicts."""
from __future__ import annotations

import os
import threading
from itertools import product

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referralnet.accounts.models import User
from referralnet.errors import Conflict, InvalidTransition, NotPermitted, ValidationFailed
from referralnet.referrals import states
from referralnet.referrals.models import Referral, ReferralEvent
from referralnet.referrals.states import Status, transition
from tests.referrals.conftest import ACTORS, VALID_DETAILS

# --- the specification, written out from DESIGN.md (independently of states.py) ---------------

ALLOWED_MOVES = {
    "requested": {"accepted", "rejected", "cancelled"},
    "accepted": {"in-progress", "on-hold", "completed", "failed", "cancelled"},
    "in-progress": {"on-hold", "completed", "failed", "cancelled"},
    "on-hold": {"in-progress", "completed", "failed", "cancelled"},
}
NON_TERMINAL = set(ALLOWED_MOVES)
for _status in NON_TERMINAL:  # any non-terminal status -> entered-in-error
    ALLOWED_MOVES[_status] = ALLOWED_MOVES[_status] | {"entered-in-error"}

PARTIES = {"sending_coordinator", "receiving_partner"}
SET_BY = {
    "accepted": {"receiving_partner"}, "rejected": {"receiving_partner"}, "in-progress": {"receiving_partner"},
    "on-hold": {"receiving_partner"}, "completed": {"receiving_partner"}, "failed": {"receiving_partner"},
    "cancelled": {"sending_coordinator", "receiving_partner"},
    "entered-in-error": {"sending_coordinator"},
    "requested": set(),  # only by sending a new referral, never by a move
}
STATUSES = [s.value for s in Status]


def expected_refusal(from_status: str, to_status: str, actor: str):
    """The error class a move must raise, or None if it must succeed (checks in states.transition's order)."""
    if actor not in PARTIES:
        return NotPermitted
    if to_status != "requested" and actor not in SET_BY[to_status]:
        return NotPermitted
    if to_status not in ALLOWED_MOVES.get(from_status, set()):
        return InvalidTransition
    return None


CASES = list(product(STATUSES, STATUSES, ACTORS))
ALLOWED_CASES = [c for c in CASES if expected_refusal(*c) is None]
REFUSED_CASES = [c for c in CASES if expected_refusal(*c) is not None]


def test_the_code_allows_exactly_the_designs_moves(world, make_referral):
    """What the code offers (`states.allowed_moves`, which the pages and APIs show) for every status and
    actor is exactly the design's table: 20 moves, cancelling by either party, 24 of 405 combinations."""
    assert len(CASES) == 9 * 9 * 5 and len(ALLOWED_CASES) == 24
    offered = set()
    for from_status in STATUSES:
        referral = make_referral(from_status)
        for actor_name in ACTORS:
            offered |= {(from_status, to.value, actor_name)
                        for to in states.allowed_moves(referral, world.actors[actor_name])}
    assert offered == set(ALLOWED_CASES)
    assert set(states.SETTABLE) == {Status(t) for t in STATUSES} - {Status.REQUESTED}


@pytest.mark.parametrize("to", states.SETTABLE, ids=[s.value for s in states.SETTABLE])
def test_details_for_names_what_transition_takes(world, make_referral, to):
    """The APIs refuse up front the details `details_for` leaves out; transition refuses exactly those too."""
    from_status = "requested" if to in (Status.ACCEPTED, Status.REJECTED) else "accepted"
    actor = world.coordinator if to == Status.ENTERED_IN_ERROR else world.partner
    outcome = (states.outcomes_for(to) or ("got-help",))[0]  # one that fits the move where it takes one
    for detail, value in (("reason", "other"), ("reason_text", "Some text"), ("outcome", outcome)):
        details = {**VALID_DETAILS.get(to, {}), detail: value}
        if detail in states.details_for(to):
            if detail == "reason":
                details["reason_text"] = "Some text"  # "other" needs its text
            transition(make_referral(from_status), to, actor, **details)
        else:
            with pytest.raises(ValidationFailed) as caught:
                transition(make_referral(from_status), to, actor, **details)
            assert set(caught.value.errors) == {detail}


def test_the_module_table_is_the_design_table():
    assert {s.value for s in states.TERMINAL} == set(STATUSES) - NON_TERMINAL
    for from_status in STATUSES:
        assert {s.value for s in states.TRANSITIONS[Status(from_status)]} == ALLOWED_MOVES.get(from_status, set())


def _event_count(db, referral) -> int:
    return db.session.scalar(select(func.count()).select_from(ReferralEvent)
                             .where(ReferralEvent.referral_id == referral.id))


def _snapshot(referral) -> dict:
    return {k: getattr(referral, k) for k in ("status", "version", "status_reason_code", "status_reason_text",
                                               "outcome", "responded_at", "updated_at")}


@pytest.mark.parametrize("from_status,to_status,actor_name", CASES,
                         ids=[f"{f}->{t}-by-{a}" for f, t, a in CASES])
def test_transition_table(db, world, make_referral, from_status, to_status, actor_name):
    referral = make_referral(from_status)
    actor = world.actors[actor_name]
    before, events_before = _snapshot(referral), _event_count(db, referral)
    refusal = expected_refusal(from_status, to_status, actor_name)
    details = VALID_DETAILS.get(Status(to_status), {})

    if refusal is None:
        event = transition(referral, to_status, actor, expected_version=referral.version, **details)
        db.session.expire_all()
        stored = db.session.get(Referral, referral.id)
        assert stored.status == to_status
        assert stored.version == before["version"] + 1
        assert _event_count(db, stored) == events_before + 1
        assert (event.kind, event.from_status, event.to_status, event.actor_id) == \
            ("status", from_status, to_status, actor.id)
        assert event.actor_kind == ("coordinator" if actor_name == "sending_coordinator" else "partner")
        assert event.patient_visible is (to_status != "entered-in-error")
        return

    with pytest.raises(refusal) as caught:
        transition(referral, to_status, actor, expected_version=referral.version, **details)
    message = caught.value.message
    if refusal is InvalidTransition:
        assert Status(to_status).label in message
        assert Status(from_status).label in message
    else:
        assert message.startswith("Only ")
    assert _snapshot(referral) == before  # nothing changed in memory...
    db.session.flush()
    db.session.expire_all()
    stored = db.session.get(Referral, referral.id)
    assert _snapshot(stored) == before  # ...nor in the database
    assert _event_count(db, stored) == events_before


def test_refusal_messages_are_clear(world, make_referral):
    completed = make_referral("completed")
    with pytest.raises(InvalidTransition, match=r"^A referral that is Completed cannot be moved to Accepted\.$"):
        transition(completed, "accepted", world.partner)
    with pytest.raises(NotPermitted, match=r"^Only the receiving agency can accept a referral\.$"):
        transition(make_referral("requested"), "accepted", world.coordinator)
    with pytest.raises(NotPermitted, match="Only coordinators of the sending organization and staff of the "
                                           "receiving agency"):
        transition(make_referral("requested"), "cancelled", world.admin, reason="duplicate")
    with pytest.raises(InvalidTransition, match="already Accepted"):
        transition(make_referral("accepted"), "accepted", world.partner)


def test_unknown_status_is_a_validation_error(world, make_referral):
    with pytest.raises(ValidationFailed) as caught:
        transition(make_referral(), "teleported", world.partner)
    assert "status" in caught.value.errors


def test_inactive_users_and_unlinked_partners_may_not_act(db, world, make_referral):
    referral = make_referral()
    world.partner.active = False
    with pytest.raises(NotPermitted):
        transition(referral, "accepted", world.partner)
    world.partner.active = True
    world.partner_org.directory_organization_id = None
    db.session.flush()
    with pytest.raises(NotPermitted):
        transition(referral, "accepted", world.partner)
    assert referral.status == "requested"


# --- reasons and outcomes ------------------------------------------------------------------------

@pytest.mark.parametrize("from_status,to_status,reasons", [
    ("requested", "rejected", states.REJECT_REASONS),
    ("accepted", "cancelled", states.PARTNER_CANCEL_REASONS),  # the agency's own list (see below)
    ("in-progress", "on-hold", states.HOLD_REASONS),
    ("in-progress", "failed", states.FAIL_REASONS),
])
def test_a_reason_is_required_from_its_list(db, world, make_referral, from_status, to_status, reasons):
    extra = {"outcome": "did-not-get-help"} if to_status == "failed" else {}
    for bad, field in ((None, "reason"), ("", "reason"), ("because", "reason"), ("other", "reason_text")):
        referral = make_referral(from_status)
        before = _snapshot(referral)
        with pytest.raises(ValidationFailed) as caught:
            transition(referral, to_status, world.partner, reason=bad, **extra)
        assert field in caught.value.errors, (bad, caught.value.errors)
        assert _snapshot(referral) == before and _event_count(db, referral) == 0
    for reason in reasons:
        referral = make_referral(from_status)
        text = "Moved to another county" if reason == "other" else None
        event = transition(referral, to_status, world.partner, reason=reason, reason_text=text, **extra)
        assert (referral.status_reason_code, referral.status_reason_text) == (reason, text)
        assert (event.reason_code, event.reason_text) == (reason, text)


def test_other_with_text_is_stored(world, make_referral):
    referral = make_referral()
    transition(referral, "rejected", world.partner, reason="other", reason_text="  Only serves veterans  ")
    assert referral.status_reason_text == "Only serves veterans"


def test_the_expected_reasons(world):
    assert states.REJECT_REASONS == ("not-eligible", "no-capacity", "out-of-service-area", "could-not-contact",
                                     "client-declined", "other")
    assert states.CANCEL_REASONS == ("client-request", "duplicate", "referred-elsewhere", "no-longer-needed",
                                     "other")
    assert states.HOLD_REASONS == ("waiting-on-client", "waiting-on-documents", "waitlist", "other")
    assert states.FAIL_REASONS == ("could-not-contact", "client-declined", "not-eligible", "no-capacity", "other")
    # ... and "consent-withdrawn", which only the system gives (services.revoke_consent).
    assert states.SYSTEM_REASONS == {Status.CANCELLED: ("consent-withdrawn",)}
    assert set(states.REASON_LABELS) == set(states.REJECT_REASONS + states.CANCEL_REASONS + states.HOLD_REASONS
                                            + states.FAIL_REASONS + ("consent-withdrawn",))


def test_a_reason_from_another_list_is_refused(world, make_referral):
    with pytest.raises(ValidationFailed, match="waitlist"):
        transition(make_referral(), "rejected", world.partner, reason="waitlist")


@pytest.mark.parametrize("to_status,extra", [("completed", {}), ("failed", {"reason": "no-capacity"})])
def test_an_outcome_is_required_for_completed_and_failed(db, world, make_referral, to_status, extra):
    for bad in (None, "fine", "could-not-reach"):
        referral = make_referral("in-progress")
        with pytest.raises(ValidationFailed) as caught:
            transition(referral, to_status, world.partner, outcome=bad, **extra)
        assert "outcome" in caught.value.errors
        assert referral.status == "in-progress" and referral.outcome is None
    for outcome in states.outcomes_for(Status(to_status)):
        referral = make_referral("in-progress")
        transition(referral, to_status, world.partner, outcome=outcome, **extra)
        assert (referral.status, referral.outcome) == (to_status, outcome)


def test_reasons_and_outcomes_are_refused_where_they_do_not_belong(world, make_referral):
    referral = make_referral()
    with pytest.raises(ValidationFailed) as caught:
        transition(referral, "accepted", world.partner, reason="no-capacity", outcome="got-help")
    assert set(caught.value.errors) == {"reason", "outcome"}
    with pytest.raises(ValidationFailed):
        transition(referral, "accepted", world.partner, reason_text="free text belongs in the note")
    assert referral.status == "requested"


def test_entered_in_error_takes_free_text_and_is_hidden_from_the_patient(world, make_referral):
    referral = make_referral("accepted")
    event = transition(referral, "entered-in-error", world.coordinator, reason_text="Wrong client chosen")
    assert referral.status_reason_text == "Wrong client chosen"
    assert event.patient_visible is False


def test_moving_on_clears_the_previous_reason(world, make_referral):
    referral = make_referral("in-progress")
    transition(referral, "on-hold", world.partner, reason="waiting-on-documents")
    transition(referral, "in-progress", world.partner)
    assert referral.status_reason_code is None


def test_responded_at_is_set_by_the_first_accept_or_reject_only(world, make_referral):
    from datetime import datetime, timezone

    referral = make_referral()
    first = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    transition(referral, "accepted", world.partner, now=first)
    transition(referral, "in-progress", world.partner, now=datetime(2026, 3, 3, tzinfo=timezone.utc))
    assert referral.responded_at == first
    rejected = make_referral()
    transition(rejected, "rejected", world.partner, reason="not-eligible", now=first)
    assert rejected.responded_at == first


def test_note_is_kept_on_the_event(world, make_referral):
    event = transition(make_referral(), "accepted", world.partner, note="  Will call Tuesday  ")
    assert event.note == "Will call Tuesday"


def test_allowed_moves_for_buttons(world, make_referral):
    referral = make_referral("accepted")
    assert set(states.allowed_moves(referral, world.partner)) == {
        Status.IN_PROGRESS, Status.ON_HOLD, Status.COMPLETED, Status.FAILED, Status.CANCELLED}
    assert set(states.allowed_moves(referral, world.coordinator)) == {Status.CANCELLED, Status.ENTERED_IN_ERROR}
    assert states.allowed_moves(referral, world.admin) == []
    assert states.allowed_moves(referral, world.other_partner) == []


# --- conflicts -----------------------------------------------------------------------------------

def test_a_stale_expected_version_is_a_conflict(db, world, make_referral):
    referral = make_referral()
    opened_at = referral.version
    transition(referral, "accepted", world.partner, expected_version=opened_at)
    before, events = _snapshot(referral), _event_count(db, referral)
    with pytest.raises(Conflict) as caught:
        transition(referral, "cancelled", world.coordinator, reason="duplicate", expected_version=opened_at)
    assert caught.value.message == "This referral changed since you opened it: it is now Accepted."
    assert caught.value.errors == {"current_status": "accepted", "version": opened_at + 1}
    assert _snapshot(referral) == before and _event_count(db, referral) == events


def test_expected_version_from_a_form_may_be_a_string(world, make_referral):
    referral = make_referral()
    transition(referral, "accepted", world.partner, expected_version=str(referral.version))
    assert referral.status == "accepted"


def _two_sessions(db, world, make_referral):
    referral = make_referral()
    db.session.commit()
    ids = referral.id, world.partner.id, world.coordinator.id
    return ids, Session(db.engine), Session(db.engine)


def test_two_sessions_changing_one_referral_one_wins(db, world, make_referral):
    """Partner and coordinator open the same referral; the partner's accept commits first.

    The coordinator's cancel, based on what they loaded, must not overwrite it: Conflict,
    with the current state, and the row shows the accept.
    """
    (referral_id, partner_id, coordinator_id), first, second = _two_sessions(db, world, make_referral)
    try:
        mine, theirs = first.get(Referral, referral_id), second.get(Referral, referral_id)
        partner, coordinator = first.get(User, partner_id), second.get(User, coordinator_id)
        assert mine.version == theirs.version == 1

        transition(mine, "accepted", partner, expected_version=1)
        first.commit()
        with pytest.raises(Conflict) as caught:
            transition(theirs, "cancelled", coordinator, reason="client-request", expected_version=1)
        assert caught.value.message == "This referral changed since you opened it: it is now Accepted."
        assert caught.value.errors == {"current_status": "accepted", "version": 2}
        second.commit()  # the loser's session is usable again and has nothing to write
    finally:
        first.close()
        second.close()

    db.session.expire_all()
    stored = db.session.get(Referral, referral_id)
    assert (stored.status, stored.version, stored.status_reason_code) == ("accepted", 2, None)
    events = db.session.scalars(select(ReferralEvent.to_status).where(ReferralEvent.referral_id == referral_id))
    assert list(events) == ["accepted"]


@pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
                    reason="simultaneous writers need row locks (PostgreSQL); SQLite serializes whole writes")
def test_simultaneous_writes_on_postgresql(db, world, make_referral):
    """Both write before either commits: the second UPDATE waits on the row lock, then finds the version gone."""
    (referral_id, partner_id, coordinator_id), first, second = _two_sessions(db, world, make_referral)
    outcome = []
    try:
        mine, theirs = first.get(Referral, referral_id), second.get(Referral, referral_id)
        partner, coordinator = first.get(User, partner_id), second.get(User, coordinator_id)
        coordinator.organization  # noqa: B018 - load it before the other thread uses the session
        transition(mine, "accepted", partner)  # flushed: holds the row lock

        def cancel():
            try:
                transition(theirs, "cancelled", coordinator, reason="duplicate")
                outcome.append("cancelled")
            except Conflict as exc:
                outcome.append(exc.errors["current_status"])

        racer = threading.Thread(target=cancel)
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive(), "the second writer should be waiting for the row lock"
        first.commit()
        racer.join(timeout=10)
        assert outcome == ["accepted"]
    finally:
        first.close()
        second.close()
    db.session.expire_all()
    assert db.session.get(Referral, referral_id).status == "accepted"


def test_an_unreadable_expected_version_is_a_validation_error(world, make_referral):
    referral = make_referral()
    with pytest.raises(ValidationFailed):
        transition(referral, "accepted", world.partner, expected_version="v1")
    assert referral.status == "requested"
