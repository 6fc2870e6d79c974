"""The report charts are images the page links (/reports/charts/<token>.svg), drawn when asked for.

From the attacker's side: the link shows nothing to a logged-out visitor or to another user (it is
bound to the user the page was made for), and a token the app did not sign draws nothing.
"""
from __future__ import annotations

import re

import pytest

from referralnet.reports.charts import KINDS, _signer
from tests.conftest import PASSWORD


@pytest.fixture()
def small_cells(cell_size):
    cell_size(2)


def sign_in(client, login, user):
    client._cookies.clear()
    assert login(user, PASSWORD).status_code == 302


def chart_links(page: str) -> list[str]:
    return re.findall(r'<img src="(/reports/charts/[^"]+\.svg)"', page)


def test_the_page_links_its_charts_and_each_draws_the_numbers_it_shows(client, login, network, small_cells):
    sign_in(client, login, network.coord_a)
    page = client.get("/reports").get_data(as_text=True)
    links = chart_links(page)
    assert len(links) == 3 and "data:image" not in page  # weekly status, trend, funnel: not inlined
    for link in links:
        response = client.get(link)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert "private" in response.headers["Cache-Control"] and "immutable" in response.headers["Cache-Control"]
        svg = response.get_data(as_text=True)
        assert svg.lstrip().startswith("<svg") and "<script" not in svg
    funnel = client.get(links[-1]).get_data(as_text=True)
    sent = re.search(r'<th scope="row">Sent</th><td class="num">([\d,]+)</td>', page).group(1)
    assert f">{sent}<" in funnel  # the funnel's bar for "Sent" carries the table's number


def test_a_chart_link_shows_nothing_to_anyone_else(client, login, network, small_cells):
    sign_in(client, login, network.coord_a)
    link = chart_links(client.get("/reports").get_data(as_text=True))[0]
    client._cookies.clear()
    response = client.get(link)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    sign_in(client, login, network.coord_b)  # another clinic's coordinator, with the copied link
    assert client.get(link).status_code == 404
    sign_in(client, login, network.x.partner)  # an agency's partner
    assert client.get(link).status_code == 404


def test_only_tokens_the_app_signed_draw(app, client, login, network, small_cells):
    sign_in(client, login, network.coord_a)
    link = chart_links(client.get("/reports").get_data(as_text=True))[0]
    token = link.removeprefix("/reports/charts/").removesuffix(".svg")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/reports/charts/{tampered}.svg").status_code == 404
    assert client.get("/reports/charts/not-a-token.svg").status_code == 404
    with app.test_request_context():
        owner = str(network.coord_a.id)
        unknown_kind = _signer().dumps([owner, "Pie", [], ["a"], [["x", [1], []]]])
        assert "Pie" not in KINDS
        malformed = _signer().dumps([owner, "Line"])
    assert client.get(f"/reports/charts/{unknown_kind}.svg").status_code == 404
    assert client.get(f"/reports/charts/{malformed}.svg").status_code == 404


def test_a_chart_whose_numbers_are_all_hidden_is_not_drawn_and_the_page_says_why(client, login, network):
    """Outside the network office counts under 11 are hidden: a clinic with a handful of referrals gets no
    empty chart frames, but a line saying why each chart is missing (the tables show what they may)."""
    sign_in(client, login, network.coord_a)
    page = client.get("/reports").get_data(as_text=True)
    assert chart_links(page) == []
    assert page.count("not drawn, as every number in it is zero or hidden (fewer than 11)") == 3
    assert "fewer than 11" in page  # the tables are still there
