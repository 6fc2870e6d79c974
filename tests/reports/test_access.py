"""Who sees which report, from the attacker's side: another clinic, another agency, a logged-out
visitor, a guessed organization id, an API token without the scope or of another organization.
"""
from __future__ import annotations

import csv
import io

import pytest

from referralnet.api.tokens import create_api_token
from tests.conftest import PASSWORD


@pytest.fixture()
def small_cells(cell_size):
    cell_size(2)  # counts of 1 hidden, so the small network's numbers show


def sign_in(client, login, user):
    """Sign `user` in on `client` (signing out whoever was signed in: a new cookie jar)."""
    client._cookies.clear()
    response = login(user, PASSWORD)
    assert response.status_code == 302


def funnel_csv(client, query: str = "") -> dict:
    response = client.get("/reports/funnel.csv" + query)
    assert response.status_code == 200, response.status_code
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return {row[0]: row[1] for row in rows[1:]}


@pytest.mark.parametrize("url", ["/reports", "/reports/funnel.csv", "/reports/monthly"])
def test_logged_out_visitors_are_sent_to_sign_in(client, network, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_clinic_sees_only_what_it_sent(client, login, network, small_cells):
    sign_in(client, login, network.coord_b)
    assert funnel_csv(client)["Sent"] == "2"
    # Filtering by another sender is ignored: the scope is fixed to its own referrals.
    assert funnel_csv(client, f"?sending_organization={network.clinic_a.id}")["Sent"] == "2"
    # Another organization's reports, by a guessed id, do not exist for it.
    for url in (f"/reports?organization={network.clinic_a.id}", f"/reports/funnel.csv?organization={network.clinic_a.id}",
                f"/reports/monthly?organization={network.clinic_a.id}", "/reports?organization=999999",
                "/reports?organization=abc"):
        assert client.get(url).status_code == 404, url
    page = client.get("/reports").get_data(as_text=True)
    assert "Clinic B" in page and "Clinic A" not in page


def test_an_agency_sees_only_what_it_received_and_no_other_agency_by_name(client, login, network, small_cells):
    sign_in(client, login, network.x.partner)
    assert funnel_csv(client)["Sent"] == "3"
    assert funnel_csv(client, "?receiving_organization=org-y")["Sent"] == "3"
    assert client.get(f"/reports?organization={network.y.member.id}").status_code == 404
    page = client.get("/reports").get_data(as_text=True)
    assert "network median" in page.lower()
    for other in ("Agency Y", "Agency Z", "org-y", "org-z"):
        assert other not in page
    comparison = client.get("/reports/comparison.csv").get_data(as_text=True)
    assert "Agency Y" not in comparison and "Agency Z" not in comparison


def test_a_clinic_has_no_agency_comparison(client, login, network):
    sign_in(client, login, network.coord_a)
    assert client.get("/reports/comparison.csv").status_code == 404
    assert client.get("/reports/nonsense.csv").status_code == 404


def test_the_network_office_sees_everything_and_any_organization(client, login, network, cell_size):
    cell_size(11)
    sign_in(client, login, network.admin)
    assert funnel_csv(client)["Sent"] == "7"  # no suppression in the network office
    assert funnel_csv(client, f"?organization={network.clinic_a.id}")["Sent"] == "5"
    assert funnel_csv(client, f"?organization={network.x.member.id}")["Sent"] == "3"
    assert client.get(f"/reports/monthly?organization={network.clinic_b.id}").status_code == 200


def test_deactivated_and_unlinked_organizations_get_no_reports(client, login, network, db):
    from tests import factories as f

    unlinked = f.network_org(db.session, "Unlinked Agency", "partner")
    person = f.user(db.session, "partner", unlinked, 99)
    person.set_password(PASSWORD)
    db.session.commit()
    sign_in(client, login, person)
    assert client.get("/reports").status_code == 403
    sign_in(client, login, network.coord_b)
    network.clinic_b.active = False
    db.session.commit()
    assert client.get("/reports").status_code in (302, 403)


def _bearer(db, admin, organization, scopes):
    _, secret = create_api_token(admin, organization, name="EHR", scopes=scopes)
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_api_reports_need_a_token_with_the_reports_scope(client, db, network, small_cells):
    assert client.get("/api/v1/reports").status_code == 401
    no_scope = _bearer(db, network.admin, network.clinic_b, ["referrals:read"])
    response = client.get("/api/v1/reports/funnel", headers=no_scope)
    assert response.status_code == 403 and "reports:read" in response.get_json()["message"]
    headers = _bearer(db, network.admin, network.clinic_b, ["reports:read"])
    body = client.get("/api/v1/reports/funnel", headers=headers).get_json()
    assert body["scope"] == {"kind": "sent", "name": "Clinic B"}
    assert body["tables"][0]["rows"][0] == {"stage": "Sent", "referrals": 2, "share": 100.0}
    # Another organization's reports, and session cookies, do not open anything.
    assert client.get(f"/api/v1/reports?organization={network.clinic_a.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/reports/nope", headers=headers).status_code == 404
    office = _bearer(db, network.admin, network.office, ["reports:read"])
    body = client.get(f"/api/v1/reports/funnel?organization={network.clinic_a.id}", headers=office).get_json()
    assert body["tables"][0]["rows"][0]["referrals"] == 5 and body["suppressed_below"] is None


def test_api_bad_filters_are_422_with_the_field(client, db, network):
    headers = _bearer(db, network.admin, network.office, ["reports:read"])
    response = client.get("/api/v1/reports?start=2026-02-30", headers=headers)
    assert response.status_code == 422 and "start" in response.get_json()["errors"]


def test_the_scope_is_documented_in_the_openapi_document(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/reports/{section}"]["get"]
    assert operation["security"] == [{"bearerAuth": ["reports:read"]}]
    assert {p["name"] for p in operation["parameters"]} >= {"start", "end", "category", "organization"}
