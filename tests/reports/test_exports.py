"""The CSV files and the JSON documents say what the page says; small counts are hidden outside
the network office (the cell-size rule), in all three."""
from __future__ import annotations

import csv
import html
import io
import re

import pytest

from referralnet.api.tokens import create_api_token
from referralnet.reports.services import SECTIONS
from tests.reports.test_access import sign_in


def page_tables(page: str) -> dict[str, list[list[str]]]:
    found = {}
    for table_id, body in re.findall(r'<table class="table report-table" data-table="([^"]+)">(.*?)</table>', page,
                                     re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                         for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)])
        found[table_id] = rows
    return found


def normal(value) -> str:
    """A value as the page writes it, without its formatting (1,234 -> 1234, 12.5% -> 12.5, None -> —)."""
    if value is None or value == "":
        return "—"
    text = str(value).replace(",", "").removesuffix("%")
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def token_headers(db, network, organization):
    _, secret = create_api_token(network.admin, organization, name="BI", scopes=["reports:read"])
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("who", ["admin", "coord_a", "x_partner"])
def test_csv_and_json_match_the_page(client, login, db, network, cell_size, who):
    cell_size(3)
    user, organization = {"admin": (network.admin, network.office), "coord_a": (network.coord_a, network.clinic_a),
                          "x_partner": (network.x.partner, network.x.member)}[who]
    sign_in(client, login, user)
    query = f"?start={network.wednesday.isoformat()}&end={network.today.isoformat()}&category=food-insecurity"
    page = client.get("/reports" + query)
    assert page.status_code == 200
    shown = page_tables(page.get_data(as_text=True))
    document = client.get("/api/v1/reports" + query, headers=token_headers(db, network, organization)).get_json()
    json_tables = {t["id"]: t for t in document["tables"]}
    expected_ids = [s for s in SECTIONS if s != "comparison" or who == "x_partner"]
    assert set(json_tables) == set(expected_ids)
    for section in expected_ids:
        rows = list(csv.reader(io.StringIO(client.get(f"/reports/{section}.csv{query}").get_data(as_text=True))))
        table = json_tables[section]
        assert rows[0] == [c["label"] for c in table["columns"]]
        from_csv = [[normal(v) for v in row] for row in rows[1:]]
        from_json = [[normal(row[c["key"]]) for c in table["columns"]] for row in table["rows"]]
        from_page = [[normal(v) for v in row] for row in shown.get(section, [])[1:]]  # after the header row
        assert from_csv == from_json, section
        assert from_page == from_csv, section


def test_small_counts_are_hidden_outside_the_network_office(client, login, db, network, cell_size):
    cell_size(11)
    sign_in(client, login, network.coord_a)
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(client.get("/reports/funnel.csv").get_data(as_text=True)))}
    assert rows["Sent"] == ["fewer than 11", "fewer than 11"]
    page = client.get("/reports").get_data(as_text=True)
    assert "fewer than 11" in page and "Privacy:" in page
    funnel = page_tables(page)["funnel"]
    assert funnel[1] == ["Sent", "fewer than 11", "fewer than 11"]
    # Zero is not a small count: nothing to hide.
    assert page_tables(page)["patient-reports"][3] == ["I have not heard back", "0"]
    body = client.get("/api/v1/reports/funnel", headers=token_headers(db, network, network.clinic_a)).get_json()
    assert body["suppressed_below"] == 11
    assert body["tables"][0]["rows"][0] == {"stage": "Sent", "referrals": "fewer than 11", "share": "fewer than 11"}
    # Times computed from fewer than 11 referrals are hidden too (they would give single answers away).
    responsiveness = page_tables(page)["responsiveness"]
    assert responsiveness[2][2:] == ["fewer than 11"] * 4


def test_the_threshold_is_a_setting(client, login, network, cell_size):
    cell_size(2)
    sign_in(client, login, network.coord_a)
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(client.get("/reports/funnel.csv").get_data(as_text=True)))}
    assert rows["Sent"] == ["5", "100.0"]
    assert rows["Loop closed"] == ["fewer than 2", "fewer than 2"]  # 1 of 5
    cell_size(0)  # off
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(client.get("/reports/funnel.csv").get_data(as_text=True)))}
    assert rows["Loop closed"] == ["1", "20.0"]


def test_the_network_office_sees_small_counts(client, login, network, cell_size):
    cell_size(11)
    sign_in(client, login, network.admin)
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(client.get("/reports/funnel.csv").get_data(as_text=True)))}
    assert rows["Loop closed"] == ["1", "14.3"]


def test_csv_cells_never_start_a_formula(client, login, db, network, cell_size):
    cell_size(0)
    network.clinic_a.name = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    sign_in(client, login, network.admin)
    # The sending organization's name appears in no table; a need label could: check every CSV anyway.
    for section in SECTIONS[:-1]:
        text = client.get(f"/reports/{section}.csv").get_data(as_text=True)
        assert not any(line.startswith("=") for line in text.splitlines())


def test_bad_filters_on_the_page_say_what_is_wrong_and_show_the_default(client, login, network):
    sign_in(client, login, network.admin)
    response = client.get("/reports?start=31/12/2026&priority=soon")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter the date as YYYY-MM-DD" in page and "Choose a priority from the list." in page
    assert client.get("/reports/funnel.csv?start=nope").status_code == 422


def test_monthly_summary_is_printable(client, login, network):
    sign_in(client, login, network.coord_a)
    month = network.wednesday.strftime("%Y-%m")
    page = client.get(f"/reports/monthly?month={month}").get_data(as_text=True)
    assert "Monthly summary" in page and "Clinic A" in page and "print-button" in page
    assert 'data-table="funnel"' in page
    assert client.get("/reports/monthly?month=2026-13").status_code == 422
    assert client.get("/reports/monthly?month=2999-01").status_code == 422
