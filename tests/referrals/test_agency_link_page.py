"""The agency's secure-link page, from the agency's side and the attacker's.

An agency outside the network, with no account, works its referral through `/a/<token>`:
accept, decline with a reason, hold, complete with an outcome, message, ask to join. The
token rules: expired, revoked, reissued, guessed and malformed tokens all get the same
not-found page; the page shows no client data beyond the portal's; every view and action is
audited as the agency via its link.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from referralnet.audit.models import AuditLog
from referralnet.db import utcnow
from referralnet.portal.models import JoinRequest
from referralnet.referrals import agency_links, patient_links
from referralnet.referrals import services as sv
from referralnet.referrals.models import AgencyLink, Referral, ReferralEvent, ReferralMessage, Status
from tests.conftest import PASSWORD, complete_second_factor, csrf_token_from
from tests.referrals.test_pages import FAST_HASH, count, prefixed_token, text


@pytest.fixture(autouse=True)
def fresh_limits(app):
    """Each test starts with the link pages' per-address budgets untouched (they are per minute, and the
    tests of this file together make more than one minute's worth of requests from one address)."""
    from referralnet.extensions import limiter

    with app.app_context():
        limiter.reset()


@pytest.fixture()
def linked(app, db, world, make_client):
    """A referral to Unlisted Aid (not a member; email on file) by secure link, committed; and the link's token."""
    world.unlisted.email = "intake@unlisted.example.org"
    for user in world.actors.values():
        user.password_hash = FAST_HASH
    person = make_client(given_name="Alice", family_name="Nguyen", phone="(415) 555-0199",
                         address="12 Secret Lane")
    for org in (world.unlisted, world.eastside):
        sv.record_consent(world.coordinator, person, org.id, "verbal")
    referral = sv.send_referral(world.coordinator, person, world.unlisted_service.id, category="food-insecurity",
                                note_to_partner="Prefers mornings.", client_availability="Weekdays 9-12")
    member = sv.send_referral(world.coordinator, person, world.pantry.id, category="food-insecurity",
                              note_to_partner="Prefers mornings.", client_availability="Weekdays 9-12")
    token = agency_links.token_for(agency_links.current_link(referral))
    db.session.commit()
    world.person, world.referral, world.member_referral, world.token = person, referral, member, token
    return world


def _fresh(db, linked) -> Referral:
    """The referral as the database has it now (requests ran in other sessions)."""
    db.session.expire_all()
    return db.session.get(Referral, linked.referral.id)


def _as(app, user):
    browser = app.test_client()
    page = text(browser.get("/login"))
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD,
                                            "csrf_token": csrf_token_from(page)})
    response = complete_second_factor(browser, response, user.email)  # admins sign in with two factors
    assert response.status_code == 302
    return browser


def _panel(html: str) -> str:
    match = re.search(r'<section aria-labelledby="client-heading".*?</section>', html, re.S)
    assert match, "no client panel"
    return match.group(0)


def _act(client, token: str, to: str, **fields):
    page = text(client.get(f"/a/{token}"))
    data = {f"{to}-csrf_token": prefixed_token(page, to), f"{to}-version": re.search(
        rf'id="{to}-version" name="{to}-version" type="hidden" value="(\d+)"', page).group(1)}
    data.update({f"{to}-{k}": v for k, v in fields.items()})
    return client.post(f"/a/{token}/status/{to}", data=data)


def test_the_agency_opens_its_referral_without_an_account_and_it_is_audited(client, db, linked):
    response = client.get(f"/a/{linked.token}")
    page = text(response)
    assert response.status_code == 200
    assert "Unlisted Aid Vouchers" in page and "Alice Nguyen" in page and "Prefers mornings." in page
    assert response.headers["Cache-Control"] == "no-store" and 'name="referrer" content="no-referrer"' in page
    view = db.session.scalar(select(AuditLog).where(AuditLog.action == "referral.view"))
    assert view.user_id is None and view.details["via"] == "agency-link"
    assert view.details["agency_link_id"] == agency_links.current_link(linked.referral).id
    viewed = db.session.scalar(select(ReferralEvent).where(ReferralEvent.kind == "viewed"))
    assert viewed.agency_link_id is not None and viewed.actor_id is None
    assert agency_links.current_link(linked.referral).last_used_at is not None


def test_the_page_shows_no_client_data_beyond_the_portals(app, client, db, linked):
    agency_page = text(client.get(f"/a/{linked.token}"))
    partner_page = text(_as(app, linked.partner).get(f"/referrals/{linked.member_referral.id}"))
    # The same client panel as the member agency sees in its portal, nothing more.
    assert _panel(agency_page) == _panel(partner_page)
    # Not: the client's other referrals, the coordinator's client page, the patient's status link, consents.
    assert "Eastside Pantry" not in agency_page
    assert f"/clients/{linked.person.id}" not in agency_page
    assert patient_links.token_for(linked.referral) not in agency_page and "/s/" not in agency_page
    assert "Consent" not in agency_page


def test_accept_then_complete_through_the_link_same_as_a_member(client, db, linked):
    assert _act(client, linked.token, "accepted").status_code == 302
    refused = _act(client, linked.token, "completed")
    assert refused.status_code == 303 and refused.headers["Location"] == f"/a/{linked.token}"
    assert "Choose an outcome." in text(client.get(refused.headers["Location"]))
    assert _act(client, linked.token, "completed", outcome="got-help", note="Groceries delivered.").status_code == 302
    referral = _fresh(db, linked)
    assert (referral.status, referral.outcome) == ("completed", "got-help")
    moves = db.session.scalars(select(ReferralEvent).where(ReferralEvent.kind == "status",
                                                           ReferralEvent.to_status != "requested")).all()
    assert [(e.to_status, e.actor_id, e.actor_kind) for e in moves] == [("accepted", None, "partner"),
                                                                         ("completed", None, "partner")]
    transitions = db.session.scalars(select(AuditLog).where(AuditLog.action == "referral.transition")).all()
    assert len(transitions) == 2 and all(r.details["via"] == "agency-link" for r in transitions)
    page = text(client.get(f"/a/{linked.token}"))
    assert "Unlisted Aid (through its secure link)" in page


def test_decline_needs_a_reason(client, db, linked):
    refused = _act(client, linked.token, "rejected")
    assert refused.status_code == 303 and refused.headers["Location"] == f"/a/{linked.token}"
    assert "Choose a reason." in text(client.get(refused.headers["Location"]))
    assert _fresh(db, linked).status == "requested"
    assert _act(client, linked.token, "rejected", reason="no-capacity").status_code == 302
    referral = _fresh(db, linked)
    assert (referral.status, referral.status_reason_code) == ("rejected", "no-capacity")


def test_hold_needs_a_reason_and_work_resumes(client, db, linked):
    assert _act(client, linked.token, "accepted").status_code == 302
    refused = _act(client, linked.token, "on-hold")
    assert refused.status_code == 303 and refused.headers["Location"] == f"/a/{linked.token}"
    assert "Choose a reason." in text(client.get(refused.headers["Location"]))
    assert _act(client, linked.token, "on-hold", reason="waitlist").status_code == 302
    assert (_fresh(db, linked).status, _fresh(db, linked).status_reason_code) == ("on-hold", "waitlist")
    assert _act(client, linked.token, "in-progress").status_code == 302
    assert _fresh(db, linked).status == "in-progress"


def test_the_audit_log_names_the_agency_link_as_the_actor(app, client, db, linked):
    client.get(f"/a/{linked.token}")
    page = text(_as(app, linked.admin).get("/admin/audit?action=referral.view"))
    assert "Receiving agency (secure link" in page


def test_the_agency_writes_to_the_coordinator(app, client, db, linked):
    page = text(client.get(f"/a/{linked.token}"))
    response = client.post(f"/a/{linked.token}/messages",
                           data={"message-csrf_token": prefixed_token(page, "message"), "message-body": "Call us?"})
    assert response.status_code == 302
    message = db.session.scalar(select(ReferralMessage))
    assert message.author_id is None and message.agency_link_id is not None
    coordinator_page = text(_as(app, linked.coordinator).get(f"/referrals/{linked.referral.id}"))
    assert "Call us?" in coordinator_page and "Unlisted Aid (through its secure link)" in coordinator_page


def test_a_stale_page_is_told_and_changes_nothing(client, db, linked):
    page = text(client.get(f"/a/{linked.token}"))
    sv.change_status(_fresh(db, linked), Status.CANCELLED, linked.coordinator,
                     reason="duplicate")
    db.session.commit()
    data = {"accepted-csrf_token": prefixed_token(page, "accepted"), "accepted-version": "1"}
    response = client.post(f"/a/{linked.token}/status/accepted", data=data)
    assert response.status_code == 303
    assert "nothing you entered was saved" in text(client.get(response.headers["Location"]))
    assert _fresh(db, linked).status == "cancelled"


# --- the token rules ----------------------------------------------------------------------------------

def _not_found_body(client, token: str) -> tuple[int, str]:
    response = client.get(f"/a/{token}")
    return response.status_code, text(response)


def test_expired_revoked_reissued_guessed_all_get_the_same_not_found_page(app, client, db, linked):
    app.config["AGENCY_LINK_BAD_TOKEN_LIMIT"] = "1000 per minute"
    try:
        guessed = _not_found_body(client, "A" * 43)
        assert guessed[0] == 404 and "Alice" not in guessed[1]
        assert _not_found_body(client, "x") == guessed
        assert _not_found_body(client, "A" * 200) == guessed

        link = agency_links.current_link(linked.referral)
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert _not_found_body(client, linked.token) == guessed
        link.expires_at = utcnow() + timedelta(days=1)
        db.session.commit()
        assert client.get(f"/a/{linked.token}").status_code == 200

        agency_links.reissue_link(linked.coordinator, _fresh(db, linked))
        db.session.commit()
        assert _not_found_body(client, linked.token) == guessed
        new = agency_links.token_for(agency_links.current_link(linked.referral))
        assert client.get(f"/a/{new}").status_code == 200

        agency_links.revoke_link(linked.coordinator, _fresh(db, linked))
        db.session.commit()
        assert _not_found_body(client, new) == guessed
        # Actions with a closed link change nothing either.
        token = csrf_token_from(text(client.get("/login")))
        assert client.post(f"/a/{new}/status/accepted", data={"accepted-csrf_token": token}).status_code == 404
        assert _fresh(db, linked).status == "requested"
        # A patient's token is not an agency's.
        assert _not_found_body(client, patient_links.token_for(linked.referral)) == guessed
    finally:
        app.config["AGENCY_LINK_BAD_TOKEN_LIMIT"] = "10 per minute"


def test_repeated_bad_tokens_are_rate_limited(app, client, linked):
    app.config["AGENCY_LINK_BAD_TOKEN_LIMIT"] = "3 per minute"
    try:
        codes = [client.get("/a/" + "C" * 42 + str(i)).status_code for i in range(5)]
    finally:
        app.config["AGENCY_LINK_BAD_TOKEN_LIMIT"] = "10 per minute"
    assert codes[:3] == [404, 404, 404] and codes[-1] == 429


def test_posting_needs_the_pages_csrf_token(client, db, linked):
    response = client.post(f"/a/{linked.token}/status/accepted", data={"accepted-version": "1"})
    assert response.status_code == 400
    assert _fresh(db, linked).status == "requested"


def test_tokens_are_stored_hashed(db, linked):
    link = db.session.scalar(select(AgencyLink))
    assert linked.token not in (link.token_hash, link.token_salt) and len(linked.token) >= 43


# --- joining the network -----------------------------------------------------------------------------

def test_the_agency_asks_to_join_and_an_admin_makes_it_a_member(app, client, db, linked):
    page = text(client.get(f"/a/{linked.token}"))
    bad = client.post(f"/a/{linked.token}/join", data={"join-csrf_token": prefixed_token(page, "join"),
                                                       "join-contact_name": "Dana", "join-contact_email": "nope"})
    assert bad.status_code == 400 and count(db, JoinRequest) == 0
    response = client.post(f"/a/{linked.token}/join", data={
        "join-csrf_token": prefixed_token(page, "join"), "join-contact_name": "Dana Intake",
        "join-contact_email": "dana@unlisted.example.org", "join-message": "We get many referrals."})
    assert response.status_code == 302
    assert "asked to join ReferralNet" in text(client.get(f"/a/{linked.token}"))
    row = db.session.scalar(select(JoinRequest))
    assert (row.state, row.directory_organization_id) == ("pending", "org-unlisted")

    # Not for coordinators; admins decide.
    coordinator = _as(app, linked.coordinator)
    assert coordinator.get("/admin/join-requests").status_code == 403
    admin = _as(app, linked.admin)
    listing = text(admin.get("/admin/join-requests"))
    assert "Unlisted Aid" in listing and "dana@unlisted.example.org" in listing
    approved = admin.post(f"/admin/join-requests/{row.id}/approve", data={"csrf_token": csrf_token_from(listing)})
    assert approved.status_code == 200
    password = re.search(r'id="password" readonly value="([^"]+)"', text(approved)).group(1)
    db.session.expire_all()
    row = db.session.get(JoinRequest, row.id)
    assert row.state == "approved" and row.network_organization.directory_organization_id == "org-unlisted"
    assert {a.action for a in db.session.scalars(select(AuditLog))} >= {
        "join_request.create", "join_request.approve", "organization.create", "user.create"}

    # The new member's first user signs in and finds the referral in the inbox.
    member = app.test_client()
    page = text(member.get("/login"))
    assert member.post("/login", data={"email": "dana@unlisted.example.org", "password": password,
                                       "csrf_token": csrf_token_from(page)}).status_code == 302
    assert "Unlisted Aid Vouchers" in text(member.get("/inbox"))
    # New referrals to it now travel in the network.
    from referralnet.accounts.routes import expected_routes

    assert expected_routes(["svc-unlisted"])["svc-unlisted"].value == "network"


def test_the_agencys_link_never_reaches_a_log(linked):
    """Access-log lines (dev server, gunicorn) pass through referralnet.logs.redact: the agency's token is hidden."""
    from referralnet.logs import redact

    for path in (f"/a/{linked.token}", f"/a/{linked.token}/status/accepted", f"/a/{linked.token}/messages"):
        line = redact(f'203.0.113.7 - - [01/Dec/2026 09:00:00] "POST {path} HTTP/1.1" 303 -')
        assert linked.token not in line and "/a/[redacted]" in line
