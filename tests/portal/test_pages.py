"""The partner listing pages over HTTP, with real CSRF tokens: what a partner sees and changes,
every kind of bad input (400, the message next to its field, nothing written), and everyone who
must not use the pages (another agency's staff: 404; coordinators and admins: 403; visitors:
sign in)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from referralnet.directory import models as m
from referralnet.audit.models import AuditLog
from tests.conftest import form_token
from tests.portal.conftest import BAYSIDE_AGENCY, UNLINKED_AGENCY

ROOT = "/partner/listings"


def page_of(response) -> str:
    return response.get_data(as_text=True)


def fresh(db, model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def weekly(db, **where) -> list[tuple[str, str, str]]:
    """(byday, opens_at, closes_at) of the plain weekly schedule rows matching `where`, sorted."""
    db.session.expire_all()
    rows = db.session.scalars(select(m.Schedule).filter_by(**where)).all()
    return sorted((s.byday, s.opens_at, s.closes_at) for s in rows if s.byday)


def schedule_snapshot(db) -> list[tuple]:
    db.session.expire_all()
    return sorted((s.id, s.service_id, s.location_id, s.service_at_location_id, s.byday, s.opens_at, s.closes_at)
                  for s in db.session.scalars(select(m.Schedule)))


def capacity_snapshot(db) -> list[tuple]:
    db.session.expire_all()
    return sorted((c.id, c.service_id, c.available, c.maximum, c.unit, c.description, c.updated)
                  for c in db.session.scalars(select(m.ServiceCapacity)))


def hours_data(token: str, rows: list[tuple[str, str, str]], blanks: int = 1) -> dict:
    data = {"csrf_token": token}
    for i, (day, opens, closes) in enumerate(rows + [("", "", "")] * blanks):
        data.update({f"rows-{i}-day": day, f"rows-{i}-opens": opens, f"rows-{i}-closes": closes})
    return data


# --- the list ---------------------------------------------------------------------------------

def test_listing_shows_only_own_services_active_first(client, partner):
    html = page_of(client.get(ROOT))
    assert "Your listings" in html and "Harbor Food Bank" in html
    assert html.index("Harbor Pantry") < html.index("Harbor Shelter") < html.index("Harbor Old Program")
    assert "Bayside" not in html
    assert "Inactive" in html and "not shown in search" in html
    # capacity, hours per location (in the location's zone), and how they came to apply
    assert "<td>3</td>" in html and "<td>20</td>" in html and "beds" in html and "Adults only" in html
    assert "9:00 AM – 5:00 PM" in html and "America/Los_Angeles" in html and "America/New_York" in html
    assert "The service-wide hours." in html and "The location's general hours" in html
    # every per-service control has its own accessible name
    for name in ("Harbor Pantry", "Harbor Shelter", "Harbor Old Program"):
        assert f'Stop accepting referrals<span class="visually-hidden"> for {name}</span>' in html
        assert f'<span class="visually-hidden"> of {name}</span>' in html
    assert f'href="{ROOT}/svc-shelter/hours/loc-annex"' in html and f'href="{ROOT}/svc-pantry/capacity"' in html


def test_unlinked_agency_gets_an_explanation(client, world, login_as):
    login_as("partner", org_name=UNLINKED_AGENCY)
    response = client.get(ROOT)
    assert response.status_code == 200
    html = page_of(response)
    assert "is not linked to a listing in the directory yet" in html
    assert "Harbor" not in html
    assert client.get(f"{ROOT}/svc-pantry/capacity").status_code == 404


# --- accepting referrals ----------------------------------------------------------------------

def test_accepting_switch_off_and_on(client, db, partner):
    token = form_token(client, ROOT)
    response = client.post(f"{ROOT}/svc-pantry/accepting", data={"csrf_token": token, "accepting": "no"})
    assert response.status_code == 302 and response.headers["Location"].endswith(ROOT)
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is False
    html = page_of(client.get(ROOT))
    assert "“Harbor Pantry” is no longer accepting referrals." in html
    assert 'Start accepting referrals<span class="visually-hidden"> for Harbor Pantry</span>' in html
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "listing.update"))
    assert row.object_type == "service" and row.object_id == "svc-pantry" and row.user_id == partner.id
    assert row.details["fields"] == ["accepting_referrals"]

    client.post(f"{ROOT}/svc-pantry/accepting", data={"csrf_token": token, "accepting": "yes"})
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is True
    # asking for the state it is already in changes nothing (a double submit cannot flip it back)
    client.post(f"{ROOT}/svc-pantry/accepting", data={"csrf_token": token, "accepting": "yes"})
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is True


def test_accepting_switch_refuses_a_bad_value(client, db, partner):
    token = form_token(client, ROOT)
    for value in ("maybe", ""):
        response = client.post(f"{ROOT}/svc-pantry/accepting", data={"csrf_token": token, "accepting": value})
        assert response.status_code == 400
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is True


# --- capacity -----------------------------------------------------------------------------------

def test_capacity_update(client, db, partner):
    url = f"{ROOT}/svc-shelter/capacity"
    form = page_of(client.get(url))
    assert 'value="3"' in form and 'value="20"' in form  # whole numbers, not 3.0
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    response = client.post(url, data={"csrf_token": form_token(client, url), "available": "5", "maximum": "20",
                                      "unit": "beds", "description": "Adults 18+"})
    assert response.status_code == 302
    cap = fresh(db, m.ServiceCapacity, "cap-shelter")
    assert (cap.available, cap.maximum, cap.unit, cap.description) == (5, 20, "beds", "Adults 18+")
    assert cap.updated >= before
    assert db.session.scalar(select(func.count()).select_from(m.ServiceCapacity)
                             .where(m.ServiceCapacity.service_id == "svc-shelter")) == 1
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "listing.update"))
    assert audit.details["fields"] == ["available", "description"] and audit.details["capacity_id"] == "cap-shelter"
    assert "Capacity of “Harbor Shelter” saved." in page_of(client.get(ROOT))


def test_capacity_added_where_there_was_none(client, db, partner):
    url = f"{ROOT}/svc-pantry/capacity"
    response = client.post(url, data={"csrf_token": form_token(client, url), "available": "0", "maximum": "",
                                      "unit": "food boxes", "description": ""})
    assert response.status_code == 302
    db.session.expire_all()
    cap = db.session.scalar(select(m.ServiceCapacity).where(m.ServiceCapacity.service_id == "svc-pantry"))
    assert (cap.available, cap.maximum, cap.unit, cap.description) == (0, None, "food boxes", None)


@pytest.mark.parametrize("data, field, message", [
    ({"available": "25", "maximum": "20"}, "available", "The number available (25) cannot be more than the maximum (20)."),
    ({"available": "-1", "maximum": "20"}, "available", "Enter the number available as a whole number from 0"),
    ({"available": "2.5", "maximum": "20"}, "available", "Enter the number available as a whole number, like 12."),
    ({"available": "many", "maximum": "20"}, "available", "Enter the number available as a whole number, like 12."),
    ({"available": "3", "maximum": "-4"}, "maximum", "Enter the maximum as a whole number from 0"),
    ({"available": "", "maximum": ""}, "available", "Enter how many are available now, the maximum, or both."),
    ({"available": "3", "maximum": "20", "unit": "b" * 41}, "unit", "Keep the unit short"),
    ({"available": "3", "maximum": "20", "description": "x" * 501}, "description", "500 characters or fewer"),
])
def test_capacity_errors_change_nothing(client, db, partner, data, field, message):
    url = f"{ROOT}/svc-shelter/capacity"
    before = capacity_snapshot(db)
    response = client.post(url, data={"csrf_token": form_token(client, url), "unit": "beds", **data})
    assert response.status_code == 400
    html = page_of(response)
    assert f'id="{field}-error"' in html and message in html
    assert f'aria-describedby="{field}-hint {field}-error"' in html and "There is a problem" in html
    assert capacity_snapshot(db) == before
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "listing.update")) == 0


# --- hours --------------------------------------------------------------------------------------

def test_hours_form_starts_from_current_hours(client, partner):
    html = page_of(client.get(f"{ROOT}/svc-pantry/hours"))
    assert "Opening hours of Harbor Pantry (service-wide)" in html
    for i, day in enumerate(("MO", "TU", "WE", "TH", "FR")):  # the one MO,TU,WE,TH,FR row, a row per day
        assert f'<option selected value="{day}">' in html and f'id="rows-{i}-opens"' in html
    assert 'id="rows-8-day"' in html and 'id="rows-9-day"' not in html  # 5 + 4 blank rows
    assert "1 other schedule entry" in html  # the holiday closure stays
    html = page_of(client.get(f"{ROOT}/svc-shelter/hours/loc-annex"))
    assert "Opening hours of Harbor Shelter at Harbor Annex" in html
    assert "location&#39;s general hours" in html and "America/New_York" in html
    assert '<option selected value="SA">' in html and 'value="10:00"' in html


def test_hours_at_a_location_several_ranges_a_day(client, db, partner):
    url = f"{ROOT}/svc-shelter/hours/loc-main"
    rows = [("MO", "09:00", "12:00"), ("MO", "13:00", "17:00"), ("SU", "18:00", "00:00")]
    response = client.post(url, data=hours_data(form_token(client, url), rows, blanks=2))
    assert response.status_code == 302
    assert weekly(db, service_at_location_id="sal-shelter-main") == [
        ("MO", "09:00", "12:00"), ("MO", "13:00", "17:00"), ("SU", "18:00", "00:00")]
    saved = db.session.scalars(select(m.Schedule).where(m.Schedule.service_at_location_id == "sal-shelter-main"))
    assert all(s.freq == "WEEKLY" and s.wkst == "MO" and s.service_id is None for s in saved)
    html = page_of(client.get(ROOT))
    assert "9:00 AM – 12:00 PM, 1:00 PM – 5:00 PM" in html and "6:00 PM – 12:00 AM" in html
    assert "Set for this service at this location." in html
    assert "Opening hours of “Harbor Shelter” at Harbor Main St saved." in html
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "listing.update"))
    assert audit.details == {"fields": ["schedule"], "location_id": "loc-main", "rows": 3}


def test_service_wide_hours_replace_weekly_rows_and_keep_exceptions(client, db, partner):
    url = f"{ROOT}/svc-pantry/hours"
    response = client.post(url, data=hours_data(form_token(client, url), [("TU", "10:00", "14:00")]))
    assert response.status_code == 302
    assert weekly(db, service_id="svc-pantry") == [("TU", "10:00", "14:00")]
    assert fresh(db, m.Schedule, "sch-pantry-holiday") is not None
    assert fresh(db, m.Schedule, "sch-pantry-week") is None


def test_empty_location_hours_fall_back_to_service_wide(client, db, partner):
    url = f"{ROOT}/svc-pantry/hours/loc-main"
    client.post(url, data=hours_data(form_token(client, url), [("SA", "09:00", "11:00")]))
    assert weekly(db, service_at_location_id="sal-pantry-main") == [("SA", "09:00", "11:00")]
    response = client.post(url, data=hours_data(form_token(client, url), [], blanks=3))
    assert response.status_code == 302
    assert weekly(db, service_at_location_id="sal-pantry-main") == []
    assert "The service-wide hours." in page_of(client.get(ROOT))


@pytest.mark.parametrize("rows, errors", [
    ([("MO", "17:00", "09:00")], {"rows-0-closes": "The closing time (09:00) must be later than the opening time (17:00)."}),
    ([("MO", "9am", "17:00")], {"rows-0-opens": "Enter the opening time as HH:MM on a 24-hour clock"}),
    ([("MO", "09:00", "25:00")], {"rows-0-closes": "Enter the closing time as HH:MM on a 24-hour clock"}),
    ([("XX", "09:00", "17:00")], {"rows-0-day": "Choose a day of the week from the list."}),
    ([("", "09:00", "17:00")], {"rows-0-day": "Choose the day these hours are for."}),
    ([("TU", "", "17:00")], {"rows-0-opens": "Enter the opening time, like 09:00."}),
    ([("MO", "09:00", "12:00"), ("MO", "11:00", "14:00")], {"rows-1-opens": "These hours overlap 9:00 AM – 12:00 PM on Monday."}),
    ([("WE", "09:00", "12:00"), ("FR", "13:00", "10:00"), ("ZZ", "08:00", "09:00")],
     {"rows-1-closes": "must be later than", "rows-2-day": "Choose a day of the week"}),
])
def test_bad_hours_are_explained_per_row_and_change_nothing(client, db, partner, rows, errors):
    url = f"{ROOT}/svc-pantry/hours"
    before = schedule_snapshot(db)
    response = client.post(url, data=hours_data(form_token(client, url), rows))
    assert response.status_code == 400
    html = page_of(response)
    assert "There is a problem" in html
    for field_id, message in errors.items():
        assert f'id="{field_id}-error"' in html and message in html.replace("&#39;", "'")
        assert f'href="#{field_id}"' in html  # the summary links to the field
        assert (f'aria-describedby="times-hint {field_id}-error"' in html  # time inputs also point to the hint
                or f'aria-describedby="{field_id}-error"' in html)
    assert schedule_snapshot(db) == before
    assert fresh(db, m.Service, "svc-pantry").last_modified is None
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "listing.update")) == 0


def test_hours_at_a_location_the_service_is_not_offered_at_is_404(client, db, partner):
    url = f"{ROOT}/svc-pantry/hours/loc-annex"
    assert client.get(url).status_code == 404
    token = form_token(client, ROOT)
    assert client.post(url, data=hours_data(token, [("MO", "09:00", "10:00")])).status_code == 404
    assert client.get(f"{ROOT}/svc-pantry/hours/loc-bay").status_code == 404
    assert weekly(db, location_id="loc-annex") == [("SA", "10:00", "14:00")]


# --- who may not ------------------------------------------------------------------------------

def _all_posts(token: str) -> list[tuple[str, dict]]:
    return [
        ("accepting", {"csrf_token": token, "accepting": "no"}),
        ("capacity", {"csrf_token": token, "available": "0", "maximum": "1", "unit": "x"}),
        ("hours", hours_data(token, [("MO", "01:00", "02:00")])),
        ("hours/loc-bay", hours_data(token, [("MO", "01:00", "02:00")])),
    ]


@pytest.mark.parametrize("service_id", ["svc-bay", "no-such-service", "svc-bay%00", "..%2F..%2Fadmin", "%20"])
def test_another_agencys_partner_gets_404_and_changes_nothing(client, db, world, login_as, service_id):
    login_as("partner", org_name=BAYSIDE_AGENCY)
    own_page = page_of(client.get(ROOT))
    assert "Bayside Rapid Rehousing" in own_page and "Harbor" not in own_page
    before = (schedule_snapshot(db), capacity_snapshot(db))
    token = form_token(client, ROOT)
    for target in ("svc-pantry", "svc-shelter", "svc-old"):
        for path in ("capacity", "hours", "hours/loc-main"):
            assert client.get(f"{ROOT}/{target}/{path}").status_code == 404, (target, path)
        for path, data in _all_posts(token):
            assert client.post(f"{ROOT}/{target}/{path}", data=data).status_code == 404, (target, path)
    # an id that is theirs only in another form, or no service at all: 404 too
    if service_id != "svc-bay":
        for path, data in _all_posts(token):
            assert client.post(f"{ROOT}/{service_id}/{path}", data=data).status_code == 404
        assert client.get(f"{ROOT}/{service_id}/capacity").status_code == 404
    assert (schedule_snapshot(db), capacity_snapshot(db)) == before
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is True
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "listing.update")) == 0


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_coordinators_and_admins_get_403(client, db, world, login_as, role):
    login_as(role)
    assert client.get(ROOT).status_code == 403
    assert client.get(f"{ROOT}/svc-pantry/capacity").status_code == 403
    token = form_token(client, "/")
    for path, data in _all_posts(token):
        assert client.post(f"{ROOT}/svc-pantry/{path}", data=data).status_code == 403
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is True


def test_visitors_are_sent_to_sign_in(client, world):
    for url in (ROOT, f"{ROOT}/svc-pantry/capacity", f"{ROOT}/svc-pantry/hours"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_post_without_csrf_token_is_400_and_changes_nothing(client, db, partner):
    before = (schedule_snapshot(db), capacity_snapshot(db))
    assert client.post(f"{ROOT}/svc-pantry/accepting", data={"accepting": "no"}).status_code == 400
    assert client.post(f"{ROOT}/svc-shelter/capacity", data={"available": "0", "maximum": "20"}).status_code == 400
    assert client.post(f"{ROOT}/svc-pantry/hours",
                       data={"rows-0-day": "MO", "rows-0-opens": "01:00", "rows-0-closes": "02:00"}).status_code == 400
    assert client.post(f"{ROOT}/svc-pantry/accepting",
                       data={"accepting": "no", "csrf_token": "forged"}).status_code == 400
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is True
    assert (schedule_snapshot(db), capacity_snapshot(db)) == before


def test_deactivated_partner_is_signed_out(client, db, partner):
    assert client.get(ROOT).status_code == 200
    token = form_token(client, ROOT)
    partner.active = False
    db.session.commit()
    response = client.post(f"{ROOT}/svc-pantry/accepting", data={"csrf_token": token, "accepting": "no"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert fresh(db, m.Service, "svc-pantry").accepting_referrals is True


def test_deactivated_agency_is_signed_out(client, db, world, partner):
    world.agency.active = False
    db.session.commit()
    response = client.get(ROOT)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
