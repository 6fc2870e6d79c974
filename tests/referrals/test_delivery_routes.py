"""Referrals to agencies outside the network: the three delivery routes, end to end.

- network: a member agency receives in its inbox (unchanged);
- secure link: an agency with an email address gets a link and works the referral through it,
  with the same state machine, timeline, notifications and audit as a member;
- tracked: no electronic contact; the coordinator records the agency's and client's moves.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from referralnet.audit.models import AuditLog
from referralnet.db import utcnow
from referralnet.errors import NotPermitted, ValidationFailed
from referralnet.notifications.models import Notification
from referralnet.notifications.outbox import AGENCY_LINK
from referralnet.notifications.rendering import Skip, render
from referralnet.referrals import agency_links
from referralnet.referrals import services as sv
from referralnet.referrals.actors import AgencyLinkActor, OnBehalf
from referralnet.referrals.models import AgencyLink, Referral, ReferralEvent, ReferralMessage, Status
from referralnet.referrals.worklists import WORKLIST, Filters, listing
from tests.conftest import csrf_token_from
from tests.referrals.test_pages import FAST_HASH, count, prefixed_token, text, web  # noqa: F401  (fixture)


@pytest.fixture()
def offnet(db, world, make_client):
    """Two agencies outside the network: one with an email address in the directory, one with none."""
    world.unlisted.email = "Intake@Unlisted.example.org"
    from tests import factories as f

    world.quiet = f.directory_org(db.session, "org-quiet", "Quiet Aid")
    world.quiet_service = f.service(db.session, "svc-quiet", world.quiet, "Quiet Aid Rides")
    world.person = make_client(given_name="Alice", family_name="Nguyen", contact_preference="sms")
    for org in (world.unlisted, world.quiet, world.eastside):
        sv.record_consent(world.coordinator, world.person, org.id, "verbal")
    db.session.flush()
    return world


def _send(world, service, **kw):
    return sv.send_referral(world.coordinator, world.person, service.id, category="food-insecurity", **kw)


def _agency_email_row(db, referral) -> Notification:
    return db.session.scalar(select(Notification).where(Notification.referral_id == referral.id,
                                                        Notification.recipient_user_id.is_(None),
                                                        Notification.recipient_client_id.is_(None))
                             .order_by(Notification.id.desc()).limit(1))


def _token_in(body: str) -> str:
    match = re.search(r"/a/([A-Za-z0-9_-]{43})", body)
    assert match, "no agency link in the message"
    return match.group(1)


# --- the route is decided when the referral is sent ------------------------------------------------

def test_each_route_is_decided_when_sent(db, offnet):
    w = offnet
    network, link, tracked = _send(w, w.pantry), _send(w, w.unlisted_service), _send(w, w.quiet_service)
    assert (network.delivery_route, network.agency_email) == ("network", None)
    assert (link.delivery_route, link.agency_email) == ("link", "intake@unlisted.example.org")
    assert (tracked.delivery_route, tracked.agency_email) == ("tracked", None)
    assert agency_links.current_link(link) is not None
    assert agency_links.current_link(network) is None and agency_links.current_link(tracked) is None
    sent = {r.object_id: r.details["delivery_route"] for r in db.session.scalars(
        select(AuditLog).where(AuditLog.action == "referral.send"))}
    assert sent == {str(network.id): "network", str(link.id): "link", str(tracked.id): "tracked"}


def test_the_coordinator_may_enter_an_address_or_choose_to_track(db, offnet):
    w = offnet
    entered = _send(w, w.quiet_service, agency_email=" Rides@Quiet.example.org ")
    assert (entered.delivery_route, entered.agency_email) == ("link", "rides@quiet.example.org")
    sv.change_status(entered, Status.CANCELLED, w.coordinator, reason="duplicate")
    by_hand = _send(w, w.unlisted_service, track=True)
    assert (by_hand.delivery_route, by_hand.agency_email) == ("tracked", None)
    # A member agency always gets it in its inbox, whatever was typed.
    member = _send(w, w.pantry, agency_email="someone@example.org")
    assert member.delivery_route == "network"


def test_a_bad_address_is_refused_by_field_and_nothing_is_written(db, offnet):
    before = count(db, Referral), count(db, AgencyLink), count(db, Notification)
    with pytest.raises(ValidationFailed) as caught:
        _send(offnet, offnet.quiet_service, agency_email="not an address")
    assert "agency_email" in caught.value.errors and "Quiet Aid" in caught.value.errors["agency_email"][0]
    assert (count(db, Referral), count(db, AgencyLink), count(db, Notification)) == before


@pytest.mark.parametrize("service_attr", ["unlisted_service", "quiet_service"])
def test_consent_is_still_required_off_the_network(db, world, make_client, service_attr):
    from tests import factories as f

    world.unlisted.email = "intake@unlisted.example.org"
    world.quiet_service = f.service(db.session, "svc-quiet", f.directory_org(db.session, "org-quiet", "Quiet Aid"),
                                    "Quiet Aid Rides")
    person = make_client()
    db.session.flush()
    with pytest.raises(ValidationFailed, match="consent"):
        sv.send_referral(world.coordinator, person, getattr(world, service_attr).id, category="food-insecurity")
    assert count(db, Referral) == 0 and count(db, AgencyLink) == 0


# --- secure link -----------------------------------------------------------------------------------

def test_link_route_emails_the_agency_a_working_link_without_the_clients_name(db, offnet):
    referral = _send(offnet, offnet.unlisted_service)
    row = _agency_email_row(db, referral)
    assert row.channel == "email" and row.address == "intake@unlisted.example.org"
    assert AGENCY_LINK in row.body and "Alice" not in row.body and "Nguyen" not in row.body
    message = render(row)
    token = _token_in(message.body)
    assert agency_links.find_link(token).referral_id == referral.id
    # The token is not stored: only its hash.
    link = agency_links.current_link(referral)
    assert token not in (link.token_hash, link.token_salt)
    # Revoked before delivery: the message is not sent at all.
    agency_links.revoke_link(offnet.coordinator, referral)
    with pytest.raises(Skip):
        render(row)


def test_the_agency_acts_through_its_link_like_a_member(db, offnet):
    w = offnet
    referral = _send(w, w.unlisted_service)
    agency = AgencyLinkActor(agency_links.current_link(referral))
    assert sv.mark_viewed(agency, referral) is True
    accepted = sv.change_status(referral, Status.ACCEPTED, agency)
    sv.post_message(agency, referral, "We will call her on Friday.")
    done = sv.change_status(referral, Status.COMPLETED, agency, outcome="got-help")
    assert referral.status == "completed" and referral.outcome == "got-help" and referral.responded_at is not None
    for event in (accepted, done):
        assert (event.actor_id, event.agency_link_id, event.actor_kind) == (None, agency.link.id, "partner")
    message = db.session.scalar(select(ReferralMessage))
    assert (message.author_id, message.agency_link_id) == (None, agency.link.id)
    # The coordinator hears of it as from a member; the patient too (accepted, completed: sms).
    coordinator_rows = db.session.scalars(select(Notification.event).where(
        Notification.recipient_user_id == w.coordinator.id, Notification.channel == "app")).all()
    assert {"referral.accepted", "referral.completed", "referral.message"} <= set(coordinator_rows)
    patient_rows = db.session.scalars(select(Notification.event).where(
        Notification.recipient_client_id == w.person.id)).all()
    assert {"referral.sent", "referral.accepted", "referral.completed"} <= set(patient_rows)
    # Audited as the agency via its link: no user, the link's id.
    rows = db.session.scalars(select(AuditLog).where(AuditLog.details["via"].as_string() == "agency-link")).all()
    assert {r.action for r in rows} == {"referral.view", "referral.transition", "referral.message"}
    assert all(r.user_id is None and r.details["agency_link_id"] == agency.link.id for r in rows)


def test_a_link_opens_only_its_own_referral_and_only_while_open(db, offnet):
    w = offnet
    referral = _send(w, w.unlisted_service)
    other = _send(w, w.pantry)
    agency = AgencyLinkActor(agency_links.current_link(referral))
    with pytest.raises(NotPermitted):
        sv.change_status(other, Status.ACCEPTED, agency)
    agency.link.expires_at = utcnow() - timedelta(minutes=1)
    with pytest.raises(NotPermitted):
        sv.change_status(referral, Status.ACCEPTED, agency)
    assert referral.status == "requested"


def test_reissuing_emails_a_new_link_and_the_old_one_stops_working(db, offnet):
    w = offnet
    referral = _send(w, w.unlisted_service)
    old = agency_links.token_for(agency_links.current_link(referral))
    agency_links.reissue_link(w.coordinator, referral, "director@unlisted.example.org")
    assert agency_links.find_link(old) is None
    row = _agency_email_row(db, referral)
    assert row.event == "referral.agency_link"
    message = render(row)
    assert message.to == "director@unlisted.example.org"
    assert agency_links.find_link(_token_in(message.body)).referral_id == referral.id
    with pytest.raises(NotPermitted):
        agency_links.reissue_link(w.other_coordinator, referral)
    with pytest.raises(ValidationFailed):
        agency_links.reissue_link(w.coordinator, referral, "nope")


def test_a_tracked_referral_moves_to_the_link_route_once_there_is_an_address(db, offnet):
    referral = _send(offnet, offnet.quiet_service)
    agency_links.reissue_link(offnet.coordinator, referral, "rides@quiet.example.org")
    assert (referral.delivery_route, referral.agency_email) == ("link", "rides@quiet.example.org")
    assert _agency_email_row(db, referral).event == "referral.agency_link"


def test_a_member_referral_has_no_agency_link(db, offnet):
    referral = _send(offnet, offnet.pantry)
    with pytest.raises(ValidationFailed):
        agency_links.reissue_link(offnet.coordinator, referral, "x@example.org")


# --- tracked by the coordinator ---------------------------------------------------------------------

def test_tracked_the_coordinator_records_the_agencys_and_clients_moves(db, offnet):
    w = offnet
    referral = _send(w, w.quiet_service)
    assert _agency_email_row(db, referral) is None  # nothing goes to the agency
    behalf = OnBehalf(w.coordinator, "agency")
    event = sv.change_status(referral, Status.ACCEPTED, behalf, note="Their intake desk said yes by phone.")
    assert (event.actor_id, event.on_behalf_of, event.actor_kind) == (w.coordinator.id, "agency", "partner")
    report = sv.record_report_for_client(w.coordinator, referral, "got-help")
    assert (report.actor_id, report.on_behalf_of, report.actor_kind) == (w.coordinator.id, "patient", "patient")
    sv.change_status(referral, Status.COMPLETED, behalf, outcome="got-help")
    sv.close_loop(w.coordinator, referral, "got-help")
    audited = db.session.scalars(select(AuditLog).where(AuditLog.details["on_behalf_of"].as_string() == "agency"))
    assert {r.action for r in audited} == {"referral.transition"}
    # Only the sending coordinators may, and only off the network; and only the agency's moves.
    with pytest.raises(NotPermitted):
        sv.change_status(_send(w, w.meals), Status.ACCEPTED, OnBehalf(w.coordinator, "agency"))
    with pytest.raises(NotPermitted):
        sv.record_report_for_client(w.other_coordinator, referral, "contacted")


def test_the_worklist_reminds_the_coordinator_to_follow_up_after_the_service_level(db, offnet):
    w = offnet
    tracked = _send(w, w.quiet_service, now=utcnow() - timedelta(days=6))
    _send(w, w.unlisted_service, now=utcnow() - timedelta(days=6))
    result = listing(w.coordinator, WORKLIST, "follow-up", Filters())
    assert [r.id for r in result.referrals] == [tracked.id]
    assert result.counts["follow-up"] == 1 and result.counts["overdue"] == 1
    fresh = _send(w, w.meals)  # a member referral, not due
    assert fresh.id not in [r.id for r in listing(w.coordinator, WORKLIST, "follow-up", Filters()).referrals]


def test_reminders_of_tracked_referrals_go_to_the_coordinator(db, offnet):
    from referralnet.referrals.reminders import queue_reminders

    w = offnet
    tracked = _send(w, w.quiet_service, now=utcnow() - timedelta(days=6))
    link = _send(w, w.unlisted_service, now=utcnow() - timedelta(days=6))
    monday_noon = utcnow()
    while monday_noon.weekday() != 0:
        monday_noon += timedelta(days=1)
    queue_reminders(now=monday_noon.replace(hour=19))
    to_coordinator = db.session.scalars(select(Notification.referral_id).where(
        Notification.event == "referral.reminder", Notification.recipient_user_id == w.coordinator.id)).all()
    assert set(to_coordinator) == {tracked.id}
    assert _agency_email_row(db, link).event == "referral.reminder"


# --- pages: the coordinator's walkthrough -----------------------------------------------------------

def _send_page(http, person_id, service_id):
    url = f"/clients/{person_id}/refer?service={service_id}"
    return url, text(http.get(url))


def test_walkthrough_to_an_agency_outside_the_network_ends_with_a_sent_referral(web, db):
    web.unlisted.email = "intake@unlisted.example.org"
    db.session.commit()
    http = web.as_(web.coordinator)
    service_page = text(http.get(f"/services/svc-unlisted?client={web.alice.id}"))
    assert "the agency is emailed a secure link" in service_page
    url, page = _send_page(http, web.alice.id, "svc-unlisted")
    assert 'value="intake@unlisted.example.org"' in page
    data = {"service_ids": ["svc-unlisted"], "category": "food-insecurity", "priority": "routine",
            "consent_method": "verbal", "consent_org_ids": ["org-unlisted"], "csrf_token": csrf_token_from(page),
            "route-svc-unlisted": "link", "agency_email-svc-unlisted": "intake@unlisted.example.org"}
    response = http.post(url, data=data)
    assert response.status_code == 302, text(response)
    referral = db.session.scalar(select(Referral))
    assert (referral.status, referral.delivery_route) == ("requested", "link")
    page = text(http.get(f"/referrals/{referral.id}"))
    assert "Sent by secure link" in page and "intake@unlisted.example.org" in page


def test_walkthrough_with_no_address_is_tracked_and_the_summary_can_be_printed(web, db):
    http = web.as_(web.coordinator)
    url, page = _send_page(http, web.alice.id, "svc-unlisted")
    data = {"service_ids": ["svc-unlisted"], "category": "food-insecurity", "priority": "routine",
            "consent_method": "verbal", "consent_org_ids": ["org-unlisted"], "csrf_token": csrf_token_from(page),
            "route-svc-unlisted": "tracked"}
    response = http.post(url, data=data)
    assert response.status_code == 302, text(response)
    referral = db.session.scalar(select(Referral))
    assert referral.delivery_route == "tracked"
    page = text(http.get(f"/referrals/{referral.id}"))
    assert "Tracked by you" in page and "Record what the agency told you" in page
    assert http.get(f"/referrals/{referral.id}/print").status_code == 200
    # Record the agency's acceptance for it: marked as such on the timeline.
    data = {"behalf-accepted-csrf_token": prefixed_token(page, "behalf-accepted"),
            "behalf-accepted-version": str(referral.version), "behalf-accepted-note": "Called them."}
    response = http.post(f"/referrals/{referral.id}/on-behalf/status/accepted", data=data)
    assert response.status_code == 302, text(response)
    page = text(http.get(f"/referrals/{referral.id}"))
    assert "for Unlisted Aid (as the agency told them)" in page
    data = {"report-csrf_token": prefixed_token(page, "report"), "report-report": "contacted"}
    assert http.post(f"/referrals/{referral.id}/on-behalf/report", data=data).status_code == 302
    assert "for the client (as the client told them)" in text(http.get(f"/referrals/{referral.id}"))
    assert "Unlisted Aid · tracked by you" in text(http.get("/worklist?view=waiting"))


def test_a_bad_address_on_the_send_page_says_which_agency_and_sends_nothing(web, db):
    http = web.as_(web.coordinator)
    url, page = _send_page(http, web.alice.id, "svc-unlisted")
    data = {"service_ids": ["svc-unlisted"], "category": "food-insecurity", "priority": "routine",
            "consent_method": "verbal", "consent_org_ids": ["org-unlisted"], "csrf_token": csrf_token_from(page),
            "route-svc-unlisted": "link", "agency_email-svc-unlisted": "intake at unlisted"}
    response = http.post(url, data=data)
    assert response.status_code == 400
    assert "Enter Unlisted Aid&#39;s email address" in text(response) or "Enter Unlisted Aid's email" in text(response)
    assert count(db, Referral) == 0


def test_other_organizations_cannot_record_moves_for_the_agency(web, db, make_referral):
    referral = make_referral(service=web.unlisted_service)
    referral.delivery_route = "tracked"
    db.session.commit()
    http = web.as_(web.other_coordinator)
    token = csrf_token_from(text(http.get("/worklist")))
    response = http.post(f"/referrals/{referral.id}/on-behalf/status/accepted",
                         data={"behalf-accepted-csrf_token": token})
    assert response.status_code == 404
    db.session.refresh(referral)
    assert referral.status == "requested"


# --- badges: how a referral travels, before anyone types anything ----------------------------------

def _cards(html: str) -> dict[str, str]:
    """Each search result's card, by service name."""
    cards = re.findall(r'<li class="result"[^>]*>.*?</li>\s*</ul>.*?</li>', html, re.S)
    return {re.search(r'<h3><a [^>]*>([^<]+)</a>', c).group(1): c for c in cards}


def test_search_cards_and_service_pages_say_how_each_referral_travels(web, db):
    from tests import factories as f

    web.unlisted.email = "intake@unlisted.example.org"
    quiet = f.directory_org(db.session, "org-quiet", "Quiet Aid")
    f.service(db.session, "svc-quiet", quiet, "Quiet Aid Vouchers")
    db.session.commit()
    http = web.as_(web.coordinator)
    expected = {
        "svc-pantry": ("In the network: goes to the agency's inbox", True),
        "svc-unlisted": ("Not in the network: the agency is emailed a secure link", False),
        "svc-quiet": ("Not in the network, no email on file: you track this referral", False),
    }
    for service_id, (badge, accepting) in expected.items():
        page = text(http.get(f"/services/{service_id}"))
        assert badge in page, service_id
        # "Accepting referrals" is the agency's word: only a member agency says it.
        assert ("Accepting referrals" in page) is accepting, service_id
        assert "Refer a client" in page  # and every one of them can be referred to

    cards = _cards(text(http.get("/search?q=vouchers")))
    assert "Not in the network: the agency is emailed a secure link" in cards["Unlisted Aid Vouchers"]
    assert "you track this referral" in cards["Quiet Aid Vouchers"]
    assert "Accepting referrals" not in cards["Unlisted Aid Vouchers"] + cards["Quiet Aid Vouchers"]
    cards = _cards(text(http.get("/search?q=pantry")))
    assert "In the network" in cards["Eastside Pantry"] and "Accepting referrals" in cards["Eastside Pantry"]


def test_choosing_the_link_with_no_address_is_refused_on_the_send_page(web, db):
    http = web.as_(web.coordinator)
    url, page = _send_page(http, web.alice.id, "svc-unlisted")
    assert 'id="route-tracked-1" value="tracked" checked' in page  # no address on file: tracked by default
    data = {"service_ids": ["svc-unlisted"], "category": "food-insecurity", "priority": "routine",
            "consent_method": "verbal", "consent_org_ids": ["org-unlisted"], "csrf_token": csrf_token_from(page),
            "route-svc-unlisted": "link", "agency_email-svc-unlisted": " "}
    response = http.post(url, data=data)
    assert response.status_code == 400
    assert "Enter Unlisted Aid&#39;s email address, or choose to track" in text(response)
    assert count(db, Referral) == 0


def test_the_agency_hears_by_email_what_a_member_hears_in_its_inbox(db, offnet):
    w = offnet
    referral = _send(w, w.unlisted_service)
    sv.post_message(w.coordinator, referral, "Any news?")
    assert _agency_email_row(db, referral).event == "referral.message"
    sv.change_status(referral, Status.CANCELLED, w.coordinator, reason="duplicate")
    row = _agency_email_row(db, referral)
    assert row.event == "referral.cancelled" and row.address == "intake@unlisted.example.org"
    assert "Any news?" not in row.body and "Alice" not in row.body
    events = db.session.scalars(select(Notification.event).where(
        Notification.address == "intake@unlisted.example.org").order_by(Notification.id)).all()
    assert events == ["referral.sent", "referral.message", "referral.cancelled"]
    # The agency's own moves are not emailed back to it.
    other = _send(w, w.unlisted_service)
    sv.change_status(other, Status.ACCEPTED, AgencyLinkActor(agency_links.current_link(other)))
    assert _agency_email_row(db, other).event == "referral.sent"
