"""The referral page built around its status: the moves each side is offered (from states.py), the
reasons and outcomes that fit each move, the progress line and who acts next, and the sending
coordinator's contact details for the agency — tried from the attacker's side too."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referralnet.accounts import services as accounts
from referralnet.errors import ValidationFailed
from referralnet.referrals import states
from referralnet.referrals.models import Referral, ReferralEvent
from referralnet.referrals.progress import progress_of
from referralnet.referrals.states import Status, offered_moves, transition
from tests.conftest import csrf_token_from, counted_queries
from tests.referrals.test_pages import act, prefixed_token, text, web  # noqa: F401  (the `web` fixture)

S = Status
OPEN = (S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD)


# --- what states.py offers ------------------------------------------------------------------------

@pytest.mark.parametrize("status", list(Status), ids=[s.value for s in Status])
def test_offered_moves_are_the_allowed_moves_in_order_destructive_last(world, make_referral, status):
    referral = make_referral(status)
    for actor in world.actors.values():
        offered = offered_moves(referral, actor)
        assert {m.to for m in offered} == set(states.allowed_moves(referral, actor))
        kinds = [m.kind for m in offered]
        assert kinds == sorted(kinds, key=["forward", "aside", "destructive"].index), kinds
        assert {m.to for m in offered if m.kind == "destructive"} <= {S.CANCELLED, S.ENTERED_IN_ERROR}


def test_each_side_is_offered_only_its_moves(world, make_referral):
    requested = make_referral(S.REQUESTED)
    partner = [m.to for m in offered_moves(requested, world.partner)]
    coordinator = [m.to for m in offered_moves(requested, world.coordinator)]
    assert partner == [S.ACCEPTED, S.REJECTED, S.CANCELLED]
    assert coordinator == [S.CANCELLED, S.ENTERED_IN_ERROR]
    for outsider in (world.other_partner, world.other_coordinator, world.admin):
        assert offered_moves(requested, outsider) == []
    in_progress = make_referral(S.IN_PROGRESS)
    assert [m.to for m in offered_moves(in_progress, world.partner)] == \
        [S.COMPLETED, S.ON_HOLD, S.FAILED, S.CANCELLED]
    for terminal in states.TERMINAL:
        assert offered_moves(make_referral(terminal), world.partner) == []


def test_a_partners_cancel_reasons_are_a_partners(world, make_referral):
    referral = make_referral(S.ACCEPTED)
    [partner_cancel] = [m for m in offered_moves(referral, world.partner) if m.to == S.CANCELLED]
    [coordinator_cancel] = [m for m in offered_moves(referral, world.coordinator) if m.to == S.CANCELLED]
    assert "referred-elsewhere" not in partner_cancel.reasons
    assert set(partner_cancel.reasons) == {"client-request", "duplicate", "no-longer-needed", "other"}
    assert coordinator_cancel.reasons == states.CANCEL_REASONS
    # The state machine holds the same rule, whatever a form or an API client sends.
    with pytest.raises(ValidationFailed) as refused:
        transition(referral, S.CANCELLED, world.partner, reason="referred-elsewhere")
    assert set(refused.value.errors) == {"reason"} and referral.status == "accepted"
    transition(referral, S.CANCELLED, world.coordinator, reason="referred-elsewhere")
    assert (referral.status, referral.status_reason_code) == ("cancelled", "referred-elsewhere")


def test_could_not_help_never_offers_got_help(world, make_referral, db):
    referral = make_referral(S.IN_PROGRESS)
    moves = {m.to: m for m in offered_moves(referral, world.partner)}
    assert "got-help" not in moves[S.FAILED].outcomes
    assert set(moves[S.FAILED].outcomes) == {"partly", "did-not-get-help"}
    assert set(moves[S.COMPLETED].outcomes) == set(states.OUTCOMES)
    assert all(not m.outcomes for to, m in moves.items() if to not in (S.FAILED, S.COMPLETED))
    before = db.session.scalar(select(func.count()).select_from(ReferralEvent))
    with pytest.raises(ValidationFailed) as refused:
        transition(referral, S.FAILED, world.partner, reason="no-capacity", outcome="got-help")
    assert set(refused.value.errors) == {"outcome"}
    assert referral.status == "in-progress" and referral.outcome is None
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent)) == before


# --- the progress line and who acts ---------------------------------------------------------------

def _steps(referral):
    return [(step.key, step.state) for step in progress_of(referral).steps]


def test_progress_on_the_happy_path(world, make_referral):
    requested = make_referral(S.REQUESTED)
    assert _steps(requested) == [("sent", "current"), ("viewed", "todo"), ("accepted", "todo"),
                                 ("in-progress", "todo"), ("completed", "todo"), ("loop-closed", "todo")]
    progress = progress_of(requested)
    assert progress.next_actor == "agency" and progress.due_at == requested.response_due_at
    requested.first_viewed_at = requested.requested_at + timedelta(hours=1)
    assert _steps(requested)[:2] == [("sent", "done"), ("viewed", "current")]
    on_hold = make_referral(S.ON_HOLD)
    assert ("in-progress", "current") in _steps(on_hold) and progress_of(on_hold).on_hold
    assert progress_of(on_hold).due_at is None
    completed = make_referral(S.COMPLETED)
    assert _steps(completed)[-2:] == [("completed", "current"), ("loop-closed", "todo")]
    assert progress_of(completed).next_actor == "coordinator"


@pytest.mark.parametrize("status,reached", [
    (S.REJECTED, ["sent", "viewed"]),
    (S.FAILED, ["sent", "viewed", "accepted"]),
    (S.CANCELLED, ["sent"]),
])
def test_progress_off_the_path_shows_where_it_ended(world, make_referral, status, reached):
    referral = make_referral(status)
    steps = _steps(referral)
    assert steps == [(key, "done") for key in reached] + [(status.value, "ended"), ("loop-closed", "todo")]
    assert progress_of(referral).next_actor == "coordinator"


def test_entered_in_error_ends_the_line_and_nobody_acts(world, make_referral):
    referral = make_referral(S.ENTERED_IN_ERROR)
    assert _steps(referral)[-1] == ("entered-in-error", "ended")
    assert "loop-closed" not in dict(_steps(referral)) and progress_of(referral).next_actor is None


# --- the page -------------------------------------------------------------------------------------

def _options(page: str, select_id: str) -> list[str]:
    match = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no {select_id} on the page"
    return [v for v in re.findall(r'value="([^"]*)"', match.group(1)) if v]


def _summaries(page: str) -> list[str]:
    return [s.strip() for s in re.findall(r'<summary class="button[^"]*">([^<]*)</summary>', page)]


def test_partner_page_offers_its_moves_as_buttons_with_small_forms(web, db, make_referral):
    referral = make_referral(S.REQUESTED, client=web.alice)
    db.session.commit()
    page = text(web.as_(web.partner).get(f"/referrals/{referral.id}"))
    assert _summaries(page) == ["Accept", "Decline", "Cancel referral"]
    assert page.count('<details class="move') == 3 and " open" not in re.findall(r"<details[^>]*>", page)[0]
    # Cancel is the last and the quiet one; the first move is the page's main action.
    assert re.search(r'<summary class="button primary">Accept</summary>', page)
    assert re.search(r'<summary class="button quiet">Cancel referral</summary>', page)
    assert page.index("moves-destructive") > page.index("move-rejected")
    assert "referred-elsewhere" not in _options(page, "cancelled-reason")
    assert set(_options(page, "rejected-reason")) == set(states.REJECT_REASONS)
    assert "entered-in-error" not in page
    # The status header: where it stands, who must act and by when.
    assert "Your move:" in page and "accept or decline this referral by" in page and "Response due" in page
    assert 'aria-current="step"' in page


def test_outcomes_offered_fit_the_move(web, db, make_referral):
    referral = make_referral(S.IN_PROGRESS, client=web.alice)
    db.session.commit()
    partner = web.as_(web.partner)
    page = text(partner.get(f"/referrals/{referral.id}"))
    assert _options(page, "failed-outcome") == ["partly", "did-not-get-help"]
    assert _options(page, "completed-outcome") == list(states.OUTCOMES)
    assert _summaries(page) == ["Complete", "Put on hold", "Could not help", "Cancel referral"]
    # Posting "got help" with "could not help" anyway: refused on the form, nothing changed, that form open.
    response = act(partner, referral.id, "failed", page=page, version=referral.version,
                   reason="no-capacity", outcome="got-help")
    # Refused: back to the referral page (its address again), the move's form open with what was wrong.
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/referrals/{referral.id}")
    assert re.search(r'<details class="move move-aside" id="move-failed" open>',
                     text(partner.get(response.headers["Location"])))
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "in-progress"


def test_coordinator_page_offers_cancel_and_entered_in_error_last(web, db, make_referral):
    referral = make_referral(S.ACCEPTED, client=web.alice)
    db.session.commit()
    page = text(web.as_(web.coordinator).get(f"/referrals/{referral.id}"))
    assert _summaries(page) == ["Cancel referral", "Entered in error"]
    assert "referred-elsewhere" in _options(page, "cancelled-reason")
    assert "Waiting on Eastside Food Bank:" in page and "Your move:" not in page
    assert "Sent by" not in page  # the coordinator's own contact card is for the agency


def test_a_partner_cannot_post_a_partner_less_reason(web, db, make_referral):
    referral = make_referral(S.ACCEPTED, client=web.alice)
    db.session.commit()
    partner = web.as_(web.partner)
    response = act(partner, referral.id, "cancelled", version=referral.version, reason="referred-elsewhere")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/referrals/{referral.id}")
    assert "Not a valid choice" in text(partner.get(response.headers["Location"]))
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "accepted"


def test_a_partner_cannot_see_or_post_coordinator_only_moves(web, db, make_referral):
    referral = make_referral(S.ACCEPTED, client=web.alice)
    db.session.commit()
    partner = web.as_(web.partner)
    page = text(partner.get(f"/referrals/{referral.id}"))
    assert "Entered in error" not in _summaries(page) and 'id="move-entered-in-error"' not in page
    response = partner.post(f"/referrals/{referral.id}/status/entered-in-error", data={
        "entered-in-error-csrf_token": prefixed_token(page, "cancelled"),
        "entered-in-error-version": str(referral.version), "entered-in-error-reason_text": "wrong client"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/referrals/{referral.id}")
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "accepted"


def test_the_other_agencys_partner_gets_not_found(web, db, make_referral):
    referral = make_referral(S.REQUESTED, client=web.alice)
    db.session.commit()
    other = web.as_(web.other_partner)
    assert other.get(f"/referrals/{referral.id}").status_code == 404
    own_token = csrf_token_from(text(other.get("/")))  # a valid token of its own session
    for to, data in (("accepted", {}), ("cancelled", {"reason": "duplicate"}),
                     ("entered-in-error", {"reason_text": "x"})):
        fields = {f"{to}-{k}": v for k, v in {"csrf_token": own_token, **data}.items()}
        response = other.post(f"/referrals/{referral.id}/status/{to}", data=fields)
        assert response.status_code == 404 and "Nguyen" not in text(response), to
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "requested"


def test_the_referral_page_reads_the_referral_row_once(web, db, make_referral):
    """Whether anything followed it up and whether the agency may see the client's details come with the
    referral itself (each was one more round trip on the most requested page)."""
    referral = make_referral(S.ACCEPTED, client=web.alice)
    db.session.commit()
    for user in (web.partner, web.coordinator):
        http = web.as_(user)
        http.get(f"/referrals/{referral.id}")  # the first view is recorded once
        with counted_queries(db.engine) as statements:
            page = text(http.get(f"/referrals/{referral.id}"))
        reads = [s for s in statements if re.match(r"SELECT .*\sFROM referral\b", s, re.S)]
        assert "Alice Nguyen" in page, user.role
        assert len(reads) == 1, (user.role, reads)


def test_the_partner_sees_how_to_reach_the_sending_coordinator(web, db, make_referral):
    web.coordinator.phone = "(415) 555-0199"
    referral = make_referral(S.REQUESTED, client=web.alice)
    db.session.commit()
    page = text(web.as_(web.partner).get(f"/referrals/{referral.id}"))
    assert "Sent by" in page and web.coordinator.name in page
    assert 'href="tel:(415)555-0199"' in page and f'href="mailto:{web.coordinator.email}"' in page


def test_an_ended_referral_shows_where_it_ended_and_the_coordinators_next_step(web, db, make_referral):
    referral = make_referral(S.REJECTED, client=web.alice)
    db.session.commit()
    page = text(web.as_(web.coordinator).get(f"/referrals/{referral.id}"))
    assert "Declined" in page and "(where it ended)" in page
    assert "verify with Alice what happened, then close the loop" in page
    partner_page = text(web.as_(web.partner).get(f"/referrals/{referral.id}"))
    assert "Waiting on Mission Clinic:" in partner_page and "<details" not in partner_page


# --- the coordinator's work phone -----------------------------------------------------------------

def test_a_users_work_phone_is_checked_and_kept(db, world):
    user = accounts.create_user(email="new@example.org", name="New Person", password="long-enough-1",
                                role="coordinator", organization_id=world.clinic.id, phone=" 650 555 0100  x12 ")
    assert user.phone == "650 555 0100 x12"
    for bad in ("call me", "12", "+1 650 555 0100 0100 0100 0100", "650-555-0100; drop"):
        with pytest.raises(ValidationFailed) as refused:
            accounts.create_user(email="bad@example.org", name="Bad", password="long-enough-1",
                                 role="coordinator", organization_id=world.clinic.id, phone=bad)
        assert set(refused.value.errors) == {"phone"}, bad
    assert accounts.create_user(email="nophone@example.org", name="No Phone", password="long-enough-1",
                                role="coordinator", organization_id=world.clinic.id, phone="").phone is None
