"""The admin audit log pages (/admin/audit): who may see them, filters, bad input, pages, CSV.

Rows are written through `audit.services.audit` with fixed times, committed, and read back
through the test client logged in as a real admin.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from referralnet.extensions import db
from referralnet.audit import services as sv
from referralnet.audit import views as audit_views
from referralnet.referrals import services as referral_services
from referralnet.audit.models import AuditLog

URL = "/admin/audit"
PACIFIC = ZoneInfo("America/Los_Angeles")


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=PACIFIC)


def body_rows(html: str) -> list[str]:
    tbody = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    return re.findall(r"<tr>(.*?)</tr>", tbody.group(1), re.S) if tbody else []


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture()
def admin(login_as):
    return login_as("admin")


@pytest.fixture()
def log(db, make_user):
    """Two coordinators of different clinics and a system job, each with a few audit rows."""
    casey = make_user("coordinator", org_name="Bayside Clinic")
    jordan = make_user("coordinator", org_name="Coastside Clinic")
    # Start from a known log: drop the rows that creating these users (and the admin) wrote.
    # A bulk delete, below the ORM's append-only guard: test setup only.
    db.session.execute(delete(AuditLog).where(AuditLog.action.in_(["user.create", "organization.create",
                                                                    "user.two_factor_enroll"])))
    rows = {
        "casey_send": sv.audit(casey, "referral.send", "referral", 7, client_id=3, now=at(9, 9)),
        "casey_view": sv.audit(casey, "client.view", "client", 3, now=at(10, 23, 30)),  # 06:30 UTC on the 11th
        "jordan_send": sv.audit(jordan, "referral.send", "referral", 8, client_id=4, now=at(11, 8)),
        "remind": sv.audit(None, "referral.remind", "referral", 7, now=at(12, 10)),
    }
    db.session.commit()
    return type("Log", (), {"casey": casey, "jordan": jordan, **rows})


# --- who may see it -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [URL, URL + "?format=csv"])
def test_logged_out_users_are_sent_to_login(client, log, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["coordinator", "partner"])
@pytest.mark.parametrize("path", [URL, URL + "?format=csv", URL + "?action=referral.send"])
def test_coordinators_and_partners_are_refused(client, log, login_as, role, path):
    login_as(role)
    response = client.get(path)
    assert response.status_code == 403
    assert "referral.send" not in response.get_data(as_text=True)


# --- the page -------------------------------------------------------------------------------------------

def test_admin_sees_who_did_what_and_no_patient_data(client, db, named_client, admin, log):
    html = client.get(URL).get_data(as_text=True)
    assert "<caption>" in html and 'scope="col"' in html
    rows = body_rows(html)
    remind = next(r for r in rows if "referral.remind" in r)
    assert "System" in remind and "referral 7" in remind
    jordan = next(r for r in rows if "referral 8" in r)
    assert log.jordan.name in jordan and "Coastside Clinic" in jordan and "client_id: 4" in jordan
    # The client created through the service is audited by id; their name is nowhere on the page.
    assert "client.create" in html
    assert "Wilhelmina" not in html and "Okonkwo-Reyes" not in html


@pytest.fixture()
def named_client(db, make_user):
    """A client created through the real service, so the log has a client.create row with field names."""
    coordinator = make_user("coordinator", org_name="Harbor Clinic")
    referral_services.create_client(coordinator, given_name="Wilhelmina", family_name="Okonkwo-Reyes",
                     date_of_birth=date(1970, 5, 6), phone="650-555-0144")
    db.session.commit()


def test_rows_are_newest_first(client, admin, log):
    rows = body_rows(client.get(URL).get_data(as_text=True))
    times = [re.search(r'datetime="([^"]+)"', r).group(1) for r in rows]
    assert times == sorted(times, reverse=True)
    # Actions read as words, on one line (the code is the cell's title).
    assert [re.search(r'<td class="audit-action" title="([^"]+)">([^<]+)</td>', r).groups() for r in rows] == \
        [("referral.remind", "Reminder sent"), ("referral.send", "Referral sent"), ("client.view", "Client viewed"),
         ("referral.send", "Referral sent")]


@pytest.mark.parametrize("query, expected", [
    ("action=referral.send", {"jordan_send", "casey_send"}),
    ("object_type=client", {"casey_view"}),
    ("object_type=referral&object_id=7", {"casey_send", "remind"}),
    ("object_id=007", {"casey_send", "remind"}),
    ("user=system", {"remind"}),
    ("action=referral.send&date_from=2026-03-10", {"jordan_send"}),
    # Dates are the network's local dates: 11:30 pm on the 10th in California is the 10th.
    ("date_from=2026-03-10&date_to=2026-03-10", {"casey_view"}),
    ("date_from=2026-03-11&date_to=2026-03-11", {"jordan_send"}),
    ("date_to=2026-03-01", set()),
])
def test_filters(client, admin, log, query, expected):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200
    shown = {audit_id(r) for r in body_rows(response.get_data(as_text=True))}
    assert shown == {getattr(log, name).id for name in expected}


def test_filter_by_user_and_organization(client, admin, log):
    for query, expected in [(f"user={log.casey.id}", {"casey_send", "casey_view"}),
                            (f"organization={log.jordan.organization_id}", {"jordan_send"}),
                            (f"user={log.casey.id}&action=client.view", {"casey_view"}),
                            (f"user={log.casey.id}&organization={log.jordan.organization_id}", set())]:
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, query
        assert {audit_id(r) for r in body_rows(response.get_data(as_text=True))} == \
            {getattr(log, name).id for name in expected}, query


def audit_id(row_html: str) -> int:
    """Rows are identified by their (unique, fixed) time."""
    stamp = re.search(r'datetime="([^"]+)"', row_html).group(1)
    return db.session.scalar(select(AuditLog.id).where(AuditLog.at == datetime.fromisoformat(stamp)))


def test_filter_form_is_labelled_and_keeps_values(client, admin, log):
    html = client.get(f"{URL}?action=referral.send&object_id=7&date_from=2026-03-01").get_data(as_text=True)
    for name in audit_views.FILTER_NAMES:
        assert f'<label for="{name}">' in html and f'id="{name}" name="{name}"' in html
    assert '<option value="referral.send" selected>' in html
    assert 'name="object_id" inputmode="numeric" value="7"' in html
    assert 'value="2026-03-01"' in html


@pytest.mark.parametrize("query, field, message", [
    ("date_from=2026-13-01", "date_from", "Enter a date like 2026-03-31."),
    ("date_to=yesterday", "date_to", "Enter a date like 2026-03-31."),
    ("date_to=9999-12-31", "date_to", "Enter a date between 2000 and 2999."),
    ("date_from=0001-01-01", "date_from", "Enter a date between 2000 and 2999."),
    ("date_from=2026-03-12&date_to=2026-03-10", "date_to", "The end date must be on or after the start date."),
    ("object_id=abc", "object_id", "whole number"),
    ("object_id=-3", "object_id", "whole number"),
    ("object_id=99999999999999999999999", "object_id", "whole number"),
    ("user=abc", "user", "Choose a user from the list."),
    ("user=999999", "user", "Choose a user from the list."),
    ("organization=1e3", "organization", "Choose an organization from the list."),
    ("action=referral.delete", "action", "Choose an action from the list."),
    ("object_type=<script>", "object_type", "Choose an object type from the list."),
])
@pytest.mark.parametrize("fmt", ["", "&format=csv"])
def test_bad_filters_answer_400_with_the_message_on_the_field(client, admin, log, query, field, message, fmt):
    response = client.get(f"{URL}?{query}{fmt}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'<p class="error" id="{field}-error">' in html and message in html
    assert f'aria-describedby="{field}-error"' in html
    assert "<script>" not in html
    assert not body_rows(html)


# --- pages ----------------------------------------------------------------------------------------------

@pytest.fixture()
def many(db, make_user):
    """120 referral.view rows by one user (a minute apart) and 3 client.view rows."""
    user = make_user("coordinator")
    for n in range(120):
        sv.audit(user, "referral.view", "referral", n + 1, now=at(2, 8) + timedelta(minutes=n))
    for n in range(3):
        sv.audit(user, "client.view", "client", n + 1, now=at(3, 8, n))
    db.session.commit()
    return user


def test_pagination_keeps_the_filters(client, admin, many):
    html = client.get(f"{URL}?action=referral.view").get_data(as_text=True)
    assert len(body_rows(html)) == 50
    assert "120 entries match the filters · page 1 of 3." in html
    assert 'href="/admin/audit?page=2&amp;action=referral.view"' in html or \
        'href="/admin/audit?action=referral.view&amp;page=2"' in html
    next_link = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "action=referral.view" in next_link
    page2 = client.get(next_link).get_data(as_text=True)
    rows2 = body_rows(page2)
    assert len(rows2) == 50 and all("referral.view" in r for r in rows2)
    assert "referral 70" in rows2[0]  # 120 newest first: page 2 starts at the 51st newest
    page3 = body_rows(client.get(f"{URL}?action=referral.view&page=3").get_data(as_text=True))
    assert len(page3) == 20 and "referral 1<" in page3[-1]
    # Not a page of this list: the first page, not an error.
    for bad in ("0", "-1", "x", "4", "99999999999999999999"):
        response = client.get(f"{URL}?action=referral.view&page={bad}")
        assert response.status_code == 200
        assert "page 1 of 3" in response.get_data(as_text=True)


def test_csv_download_of_the_filtered_rows(client, db, admin, log, named_client):
    response = client.get(f"{URL}?format=csv&action=referral.send")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert [r["object_id"] for r in rows] == ["8", "7"]
    assert rows[0]["user_name"] == log.jordan.name and rows[0]["organization"] == "Coastside Clinic"
    assert rows[0]["details"] == '{"client_id": 4}'
    everything = client.get(f"{URL}?format=csv").get_data(as_text=True)
    assert "System" in everything and "Wilhelmina" not in everything
    # The export is itself audited, with the filter names only.
    export = db.session.scalar(select(AuditLog).where(AuditLog.action == "audit.export").order_by(AuditLog.id))
    assert export.user_id == admin.id and export.details == {"rows": 2, "filters": ["action"]}


def test_csv_is_capped_and_says_so(client, admin, many, monkeypatch):
    monkeypatch.setattr(audit_views, "CSV_MAX_ROWS", 5)
    response = client.get(f"{URL}?format=csv&action=referral.view")
    rows = csv_rows(response)
    assert len(rows) == 5 and rows[0]["object_id"] == "120"
    assert response.headers["X-Audit-Rows"] == "5" and response.headers["X-Audit-Row-Limit"] == "5"
    html = client.get(f"{URL}?action=referral.view").get_data(as_text=True)
    assert "the newest 5 entries at most" in html and "120 match" in html


def test_csv_cells_cannot_run_as_formulas(client, db, admin, make_user):
    user = make_user("coordinator", org_name="=HYPERLINK(\"http://x\")")
    sv.audit(user, "client.view", "client", 1, now=at(5))
    db.session.commit()
    rows = csv_rows(client.get(f"{URL}?format=csv&user={user.id}"))
    assert rows[0]["organization"].startswith("'=")
