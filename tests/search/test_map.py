"""The map on the search results and service pages, over HTTP: where its tiles come from and the CSP
that allows them, the places it shows (never a confidential one), and the directions links."""
from __future__ import annotations

import re
from html import escape
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from referralnet import create_app
from referralnet.demo import load_demo_data
from referralnet.directory import models as m
from referralnet.geo.maps import DEFAULT_TILE_URL, check_tile_url, csp_allowing_tiles, directions_url, tile_source


@pytest.fixture()
def demo(db):
    load_demo_data(echo=lambda *_: None)
    db.session.commit()
    return db


# --- tiles and the CSP ----------------------------------------------------------------------------

def test_tile_url_is_checked_and_its_host_is_the_only_source_added():
    assert check_tile_url("") is None and check_tile_url("  ") is None and check_tile_url(None) is None
    assert tile_source(DEFAULT_TILE_URL) == "https://tile.openstreetmap.org"
    assert tile_source("https://{s}.tiles.example.org:8443/{z}/{x}/{y}.png") == "https://*.tiles.example.org:8443"
    for bad in ("tile.openstreetmap.org/{z}/{x}/{y}.png", "javascript:alert(1)//{z}{x}{y}",
                "https://tiles.example.org/{z}/{x}.png", "ftp://tiles.example.org/{z}/{x}/{y}.png"):
        with pytest.raises(ValueError, match="MAP_TILE_URL .* must start with https://"):
            check_tile_url(bad)
    csp = {"img-src": ["'self'", "data:"], "script-src": "'self'"}
    assert csp_allowing_tiles(csp, "") == csp
    widened = csp_allowing_tiles(csp, DEFAULT_TILE_URL)
    assert widened["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]
    assert widened["script-src"] == "'self'" and csp["img-src"] == ["'self'", "data:"]  # a copy


def _csp_of(app_config: dict, tile_url) -> str:
    config = {key: app_config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR", "SEARCH_SYNC",
                                                      "SEARCH_BACKEND")}
    other = create_app({"TESTING": True, "SECRET_KEY": "x", **config, "MAP_TILE_URL": tile_url})
    return other.test_client().get("/login").headers["Content-Security-Policy"]


def test_the_csp_allows_the_tile_host_only_when_one_is_set(app):
    with_tiles = _csp_of(app.config, "https://tiles.example.org/{z}/{x}/{y}.png")
    assert re.search(r"img-src 'self' data: https://tiles\.example\.org(;|$)", with_tiles), with_tiles
    without = _csp_of(app.config, "")
    assert "img-src 'self' data:;" in without + ";" and "tiles.example.org" not in without
    assert "openstreetmap" not in without
    # Scripts and styles stay our own: Leaflet is served from static/, never a CDN.
    assert "script-src 'self'" in with_tiles and "style-src 'self'" in with_tiles


def test_a_bad_tile_url_stops_the_app_with_a_clear_message(app):
    with pytest.raises(ValueError, match="MAP_TILE_URL"):
        _csp_of(app.config, "not a url")


def test_directions_go_to_openstreetmap_with_only_the_destination():
    assert directions_url(37.4852, -122.2364) == \
        "https://www.openstreetmap.org/directions?route=%3B37.485200%2C-122.236400"


# --- the pages ------------------------------------------------------------------------------------

def _items(page: str) -> dict[str, str]:
    """Each result's list item (by id) -> its opening tag."""
    return {item_id: tag for tag, item_id in re.findall(r'(<li class="result" id="([^"]+)"[^>]*>)', page)}


def test_search_results_carry_their_place_for_the_map_and_a_directions_link(client, demo, login_as):
    login_as("coordinator")
    page = client.get("/search?q=food+stamps&near=94063&radius=10&sort=distance").get_data(as_text=True)
    assert 'data-map data-map-items="#result-list &gt; li[data-lat]"' in page
    assert re.search(r'<script src="/static/vendor/leaflet/leaflet.js" defer>', page)
    assert re.search(r'<script src="/static/map.js" defer>', page)
    located = [tag for tag in _items(page).values() if "data-lat" in tag]
    assert located, "no result with coordinates"
    for tag in located:
        lat, lon = (float(v) for v in re.search(r'data-lat="([^"]+)" data-lon="([^"]+)"', tag).groups())
        assert directions_url(lat, lon).replace("&", "&amp;") in page
    assert 'target="_blank" rel="noopener noreferrer"' in page and "(opens in a new tab)" in page
    assert 'data-tiles=""' in page  # the tests run without tiles: markers only, and the page says so
    assert "No map tiles are configured" in page


def test_a_confidential_place_is_never_on_the_map(client, demo, login_as):
    login_as("coordinator")
    loc = demo.session.scalar(select(m.Location).where(m.Location.latitude.is_not(None)))
    loc.address_confidential = True
    demo.session.commit()
    sal = demo.session.scalar(select(m.ServiceAtLocation).where(m.ServiceAtLocation.location_id == loc.id))
    page = client.get(f"/services/{sal.service_id}").get_data(as_text=True)
    assert "Confidential location" in page
    for coordinate in (loc.latitude, loc.longitude):
        assert f'"{coordinate}"' not in page
    assert directions_url(loc.latitude, loc.longitude).replace("&", "&amp;") not in page
    # (The name may hold an "&": sent encoded, found escaped.)
    search_page = client.get("/search?" + urlencode({"q": sal.service.name})).get_data(as_text=True)
    assert escape(sal.service.name) in search_page
    assert f'data-lat="{loc.latitude}"' not in search_page
    assert directions_url(loc.latitude, loc.longitude).replace("&", "&amp;") not in search_page


def test_the_service_page_maps_its_locations(client, demo, login_as):
    login_as("coordinator")
    service = demo.session.scalar(select(m.Service).where(m.Service.name == "CalFresh Application Help"))
    page = client.get(f"/services/{service.id}").get_data(as_text=True)
    assert 'data-map-items="#places &gt; .place[data-lat]"' in page
    places = re.findall(r'<article class="place" id="place-\d+"([^>]*)>', page)
    located = [p for p in places if "data-lat" in p]
    assert located
    lat, lon = (float(v) for v in re.search(r'data-lat="([^"]+)" data-lon="([^"]+)"', located[0]).groups())
    assert directions_url(lat, lon).replace("&", "&amp;") in page
