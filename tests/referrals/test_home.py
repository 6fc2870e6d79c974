"""The home pages' numbers: the coordinator's worklist and the partner's inbox (`referrals.home`), the
partner's listings to verify (`portal.listings`), the admin's network health (`reports.health`); and the
pages themselves, from each role's side and the attacker's (another organization's numbers never show)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from referralnet.audit.models import AuditLog
from referralnet.db import utcnow
from referralnet.errors import NotFound, NotPermitted
from referralnet.notifications.models import Notification
from referralnet.portal import listings
from referralnet.referrals import home, worklists
from referralnet.referrals.models import ReferralEvent, Status
from referralnet.reports.health import network_health
from tests.conftest import PASSWORD, csrf_token_from
from tests.referrals.conftest import signed_in

FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def _overdue(referral, days: int = 1):
    referral.response_due_at = utcnow() - timedelta(days=days)
    return referral


def _report(db, referral, code: str, *, days_ago: float = 0, on_behalf_of=None, actor=None):
    event = ReferralEvent(referral=referral, kind="report", report_code=code, at=utcnow() - timedelta(days=days_ago),
                          actor_kind="coordinator" if on_behalf_of else "patient", on_behalf_of=on_behalf_of,
                          actor_id=actor.id if actor else None)
    db.session.add(event)
    db.session.flush()
    return event


@pytest.fixture()
def busy(db, world, make_referral):
    """Referrals of Mission Clinic to Eastside (ours) and of Bayview Clinic to Westside (theirs), some overdue."""
    w = world
    w.ours_overdue = _overdue(make_referral(Status.REQUESTED), days=3)
    w.ours_overdue_later = _overdue(make_referral(Status.REQUESTED), days=1)
    w.ours_new = make_referral(Status.REQUESTED)
    w.ours_accepted = make_referral(Status.ACCEPTED)
    w.ours_rejected = make_referral(Status.REJECTED)
    w.theirs_overdue = [_overdue(make_referral(Status.REQUESTED, service=w.housing, sending_org=w.other_clinic,
                                               sender=w.other_coordinator)) for _ in range(4)]
    w.theirs_finished = make_referral(Status.COMPLETED, service=w.housing, sending_org=w.other_clinic,
                                      sender=w.other_coordinator)
    db.session.flush()
    return w


# --- the coordinator's home -------------------------------------------------------------------------

def test_coordinator_home_counts_are_the_worklist_tabs_of_their_own_organization(busy):
    work = home.coordinator_home(busy.coordinator)
    assert work.counts == worklists.counts(busy.coordinator, worklists.WORKLIST, worklists.Filters())
    assert work.counts["overdue"] == 2 and work.counts["refer-elsewhere"] == 1 and work.counts["waiting"] == 2
    assert work.attention == 3
    assert [r.id for r in work.overdue] == [busy.ours_overdue.id, busy.ours_overdue_later.id]  # longest overdue first
    assert work.overdue_total == 2

    theirs = home.coordinator_home(busy.other_coordinator)
    assert theirs.counts["overdue"] == 4 and theirs.overdue_total == 4
    assert {r.id for r in theirs.overdue} == {r.id for r in busy.theirs_overdue}
    assert not {r.id for r in theirs.overdue} & {busy.ours_overdue.id, busy.ours_overdue_later.id}


def test_the_overdue_list_is_short_and_says_how_many_there_are(db, world, make_referral):
    for days in range(1, 8):
        _overdue(make_referral(Status.REQUESTED), days=days)
    work = home.coordinator_home(world.coordinator)
    assert len(work.overdue) == home.HOME_LIST_LENGTH and work.overdue_total == 7


def test_recent_patient_reports_are_the_patients_own_recent_ones_on_our_referrals(db, busy):
    mine = _report(db, busy.ours_accepted, "not-heard-back", days_ago=1)
    newest = _report(db, busy.ours_new, "contacted", days_ago=0.1)
    _report(db, busy.ours_accepted, "got-help", days_ago=home.RECENT_REPORT_DAYS + 1)  # too old
    _report(db, busy.ours_accepted, "contacted", on_behalf_of="patient", actor=busy.coordinator)  # we recorded it
    theirs = _report(db, busy.theirs_finished, "got-help")
    assert [e.id for e in home.coordinator_home(busy.coordinator).reports] == [newest.id, mine.id]
    assert [e.id for e in home.recent_patient_reports(busy.other_coordinator)] == [theirs.id]


def test_nobody_else_sees_a_coordinators_reports(db, busy):
    _report(db, busy.ours_accepted, "not-heard-back")
    for user in (busy.other_coordinator, busy.admin):
        assert home.recent_patient_reports(user) == []
    busy.coordinator.active = False
    assert home.coordinator_home(busy.coordinator).overdue == []
    assert home.coordinator_home(busy.coordinator).reports == []


# --- the partner's home -----------------------------------------------------------------------------

def test_partner_home_counts_only_referrals_sent_to_their_agency(busy):
    work = home.partner_home(busy.partner)
    assert work.counts == worklists.counts(busy.partner, worklists.INBOX, worklists.Filters())
    assert work.counts["overdue"] == 2 and work.counts["new"] == 1 and work.counts["accepted"] == 1
    assert work.attention == 3
    assert {r.id for r in work.overdue} == {busy.ours_overdue.id, busy.ours_overdue_later.id}

    other = home.partner_home(busy.other_partner)
    assert other.counts["overdue"] == 4 and other.counts["finished"] == 1 and other.counts["new"] == 0
    assert {r.id for r in other.overdue} == {r.id for r in busy.theirs_overdue}


def test_an_unlinked_agency_and_an_admin_have_nothing_in_an_inbox(db, busy):
    busy.other_partner_org.directory_organization_id = None
    db.session.flush()
    assert home.partner_home(busy.other_partner).attention == 0
    assert home.partner_home(busy.other_partner).overdue == []
    assert sum(home.partner_home(busy.admin).counts.values()) == 0


# --- listings to verify -----------------------------------------------------------------------------

def test_listings_to_verify_are_the_agencys_active_services_oldest_verification_first(db, world, app):
    today = date(2026, 12, 1)
    world.pantry.assured_date = today - timedelta(days=10)
    world.meals.assured_date = today - timedelta(days=listings.DEFAULT_LISTING_VERIFY_DAYS + 1)
    world.full.assured_date = None
    world.housing.assured_date = None  # Westside's: never theirs to see
    db.session.flush()
    rows = listings.listings_to_verify(world.partner, today=today)
    assert [(r.service.id, r.due) for r in rows] == [("svc-full", True), ("svc-meals", True), ("svc-pantry", False)]
    assert [r.service.id for r in listings.listings_to_verify(world.other_partner, today=today)] == ["svc-housing"]
    assert listings.listings_to_verify(world.coordinator) == [] and listings.listings_to_verify(world.admin) == []

    before = app.config.get("LISTING_VERIFY_DAYS")
    app.config["LISTING_VERIFY_DAYS"] = 5
    try:
        assert [r.due for r in listings.listings_to_verify(world.partner, today=today)] == [True, True, True]
    finally:
        app.config["LISTING_VERIFY_DAYS"] = before


def test_confirming_a_listing_verifies_it_today_and_is_audited(db, world):
    service = listings.confirm_listing(world.partner, "svc-meals", today=date(2026, 12, 1))
    assert service.assured_date == date(2026, 12, 1)
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "listing.update", AuditLog.object_id == "svc-meals"))
    assert row.user_id == world.partner.id and row.details == {"fields": ["assured_date"]}


@pytest.mark.parametrize("who, service_id", [("other_partner", "svc-meals"), ("partner", "svc-housing"),
                                             ("coordinator", "svc-meals"), ("admin", "svc-meals"),
                                             ("partner", "no-such-service")])
def test_nobody_confirms_another_agencys_listing(db, world, who, service_id):
    before = db.session.get(type(world.meals), service_id)
    before_date = before.assured_date if before else None
    with pytest.raises(NotFound):
        listings.confirm_listing(getattr(world, who), service_id)
    if before is not None:
        assert before.assured_date == before_date


# --- network health -------------------------------------------------------------------------------

def test_network_health_counts_the_whole_network(db, busy, runner, tmp_path):
    db.session.add_all([
        Notification(event="referral.sent", channel="email", body="-", state="failed"),
        Notification(event="referral.sent", channel="email", body="-", state="failed",
                     created_at=utcnow() - timedelta(days=40)),  # long ago: dealt with
        Notification(event="referral.sent", channel="sms", body="-", state="pending", attempts=2),
        Notification(event="referral.sent", channel="sms", body="-", state="pending", attempts=0),
    ])
    busy.other_coordinator.active = False
    db.session.flush()
    health = network_health(busy.admin)
    assert health.members == {"referrer": 2, "partner": 2, "network": 1}
    assert health.users == 4
    assert health.open_referrals == 8 and health.overdue_referrals == 6
    assert health.failed_deliveries == 1 and health.retrying_deliveries == 1
    assert health.failed_imports == 0 and health.last_failed_import_at is None
    assert health.active_services == 5 and health.listings_to_verify == 5


def test_a_failed_import_is_recorded_and_counted(db, world, runner, tmp_path):
    db.session.commit()
    bad = tmp_path / "services.json"
    bad.write_text('[{"id": "s1", "name": "X", "status": "active", "minimum_age": "old"}]')
    result = runner.invoke(args=["directory", "import", str(bad)])
    assert result.exit_code == 1
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "directory.import.failed"))
    assert row.details == {"format": "auto", "errors": 1}
    health = network_health(world.admin)
    assert health.failed_imports == 1 and health.last_failed_import_at is not None
    assert db.session.scalar(select(type(world.pantry)).where(type(world.pantry).id == "s1")) is None


@pytest.mark.parametrize("who", ["coordinator", "partner", "other_partner"])
def test_only_network_admins_see_network_health(world, who):
    with pytest.raises(NotPermitted):
        network_health(getattr(world, who))


# --- the pages --------------------------------------------------------------------------------------

@pytest.fixture()
def web(app, db, busy):
    for user in busy.actors.values():
        user.password_hash = FAST_HASH
    _report(db, busy.ours_accepted, "not-heard-back")
    db.session.commit()
    busy.as_ = lambda user: signed_in(app, user)
    return busy


def text(response) -> str:
    return response.get_data(as_text=True)


def test_coordinator_home_page_shows_their_work_and_not_another_clinics(web):
    page = text(web.as_(web.coordinator).get("/"))
    assert "4 referrals need your attention." in page  # rejected, patient reported, 2 overdue
    assert 'href="/worklist?view=overdue"' in page and f'href="/referrals/{web.ours_overdue.id}"' in page
    assert "They have not heard back" in page
    assert 'action="/search"' in page and 'name="q"' in page
    assert not any(f'href="/referrals/{r.id}"' in page for r in web.theirs_overdue)


def test_partner_home_page_shows_their_inbox_and_listings(web):
    page = text(web.as_(web.partner).get("/"))
    assert "3 referrals are waiting for your response." in page
    assert 'href="/inbox?view=new"' in page and "Eastside Hot Meals" in page and "Never verified" in page
    assert "Westside Rapid Rehousing" not in page
    assert not any(f'href="/referrals/{r.id}"' in page for r in web.theirs_overdue)
    other = text(web.as_(web.other_partner).get("/"))
    assert "Westside Rapid Rehousing" in other and "Eastside Hot Meals" not in other
    assert f'href="/referrals/{web.ours_overdue.id}"' not in other


def test_admin_home_page_shows_network_health(web):
    page = text(web.as_(web.admin).get("/"))
    assert "Open referrals" in page and "Failed deliveries" in page and "Failed imports" in page
    assert "Partner agencies" in page and "Listings to verify" in page
    assert not any(r.client.full_name in page for r in web.theirs_overdue + [web.ours_overdue])


def test_partner_confirms_a_listing_from_home_and_not_another_agencys(web, db):
    browser = web.as_(web.partner)
    token = csrf_token_from(text(browser.get("/")))
    response = browser.post("/partner/listings/svc-meals/verify", data={"csrf_token": token, "next": "home"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "is marked as verified today" in text(browser.get("/"))
    db.session.expire_all()
    assert web.meals.assured_date is not None

    assert browser.post("/partner/listings/svc-housing/verify", data={"csrf_token": token}).status_code == 404
    assert browser.post("/partner/listings/svc-pantry/verify", data={}).status_code == 400  # no CSRF token
    coordinator = web.as_(web.coordinator)
    ctoken = csrf_token_from(text(coordinator.get("/")))
    assert coordinator.post("/partner/listings/svc-pantry/verify", data={"csrf_token": ctoken}).status_code == 403
    db.session.expire_all()
    assert web.housing.assured_date is None and web.pantry.assured_date is None


def test_logged_out_visitors_get_the_sign_in_page(client, db):
    assert client.get("/").headers["Location"].startswith("/login")
    response = client.post("/partner/listings/svc-meals/verify")
    assert response.status_code in (302, 400, 401)


def test_partner_marks_a_listing_verified_from_the_listings_page(web, db):
    browser = web.as_(web.partner)
    page = text(browser.get("/partner/listings"))
    assert 'action="/partner/listings/svc-meals/verify"' in page and "Last verified:" in page
    assert 'action="/partner/listings/svc-housing/verify"' not in page
    response = browser.post("/partner/listings/svc-meals/verify", data={"csrf_token": csrf_token_from(page)})
    assert response.headers["Location"] == "/partner/listings"
    db.session.expire_all()
    assert web.meals.assured_date is not None
