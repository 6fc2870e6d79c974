"""The map on the search results and service pages, in a real browser with axe-core: a marker for each
result with a place, list and map in sync (a marker focuses its result, "Show on map" finds its marker),
keyboard usable; without tiles (the tests' setting) and with tiles from another origin, which the CSP
allows because MAP_TILE_URL names it — no console errors, no CSP violations either way."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import sign_in
from tests.browser.test_referral_page import watch_problems

pytestmark = pytest.mark.browser
SEARCH = "/search?q=food+stamps&near=94063&radius=10&sort=distance"


def _focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_results_and_map_stay_in_sync_without_tiles(page, axe, demo):
    problems = watch_problems(page)
    sign_in(page, "coordinator@referralnet.test")
    page.goto(SEARCH)
    box = page.locator(".map-box")
    box.wait_for(state="visible")
    located = page.locator("#result-list > li[data-lat]")
    markers = page.locator(".leaflet-marker-icon")
    # One marker per place; results at the same address share it and it shows all their numbers.
    places = page.evaluate("Array.from(document.querySelectorAll('#result-list > li[data-lat]'), li => "
                           "(+li.dataset.lat).toFixed(5) + ',' + (+li.dataset.lon).toFixed(5))")
    assert located.count() >= 2 and markers.count() == len(set(places)) >= 1
    shown = {n.strip() for text in markers.all_inner_texts() for n in text.split(",")}
    numbers = page.evaluate("Array.from(document.querySelectorAll('#result-list > li'), (li, i) => "
                            "[li.hasAttribute('data-lat'), String(+li.parentElement.getAttribute('start') + i)])")
    assert shown == {n for has_place, n in numbers if has_place}
    assert page.locator(".leaflet-tile").count() == 0  # no tile host configured: markers only
    # The list comes first in the page; the map is an extra.
    assert page.evaluate("document.querySelector('#result-list').compareDocumentPosition("
                         "document.querySelector('.map-box')) & Node.DOCUMENT_POSITION_FOLLOWING") != 0
    axe(page)

    # A marker click focuses its result in the list (a marker no other one covers: nearby places overlap).
    number = page.evaluate("""Array.from(document.querySelectorAll('.leaflet-marker-icon')).map(m => {
        const r = m.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return m.contains(hit) ? m.dataset.number : null; }).find(n => n)""")
    first_id = page.evaluate("(n) => { const ol = document.getElementById('result-list');"
                             " return ol.children[n - (+ol.getAttribute('start'))].id; }", int(number))
    first = page.locator(f"#{first_id}")
    page.locator(f".leaflet-marker-icon[data-number='{number}']").click()
    assert _focused_id(page) == first_id
    assert "is-on-map" in (first.get_attribute("class") or "")

    # "Show on map" on another result finds its marker and says which it is.
    second = located.nth(1) if located.nth(0).get_attribute("id") == first_id else located.nth(0)
    second.get_by_role("button", name="Show on map").click()
    popup = page.locator(".leaflet-popup-content", has_text=second.get_attribute("data-name") or "")
    popup.wait_for(state="visible")
    assert page.locator(".map-pin-active").count() == 1
    assert "is-on-map" not in (first.get_attribute("class") or "")

    # Keyboard: a marker takes focus, and Enter on it focuses its result.
    marker = page.locator(f".leaflet-marker-icon[data-number='{number}']")
    marker.focus()
    page.keyboard.press("Enter")
    assert _focused_id(page) == first_id
    axe(page)

    # Each place has a directions link that opens off-site.
    directions = first.get_by_role("link", name="Directions")
    assert directions.get_attribute("href").startswith("https://www.openstreetmap.org/directions?route=%3B")
    assert directions.get_attribute("target") == "_blank"

    # The service page maps its locations too.
    first.get_by_role("heading").get_by_role("link").click()
    page.wait_for_load_state()
    page.locator(".map-box").wait_for(state="visible")
    assert page.locator(".leaflet-marker-icon").count() == page.locator("#places > .place[data-lat]").count() >= 1
    axe(page)
    assert problems == [] and page.external_requests == []


@pytest.fixture()
def tiled_server(app, live_server):
    """The same app served again, its map tiles coming from another origin (the first server, reached as
    localhost instead of 127.0.0.1): the CSP must name that origin for the tiles to load."""
    from referralnet import create_app

    tile_origin = live_server.replace("127.0.0.1", "localhost")
    tiled = create_app({key: app.config[key] for key in ("TESTING", "SQLALCHEMY_DATABASE_URI", "SECRET_KEY",
                                                         "SEARCH_INDEX_DIR", "SEARCH_SYNC", "SEARCH_BACKEND",
                                                         "LOGIN_RATE_LIMIT")}
                       | {"MAP_TILE_URL": tile_origin + "/static/vendor/leaflet/images/layers.png?z={z}&x={x}&y={y}",
                          "MAP_TILE_ATTRIBUTION": "Test tiles"})
    server = make_server("127.0.0.1", 0, tiled, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", tile_origin
    server.shutdown()


def test_tiles_from_the_configured_host_load_without_csp_violations(browser, axe, demo, tiled_server):
    url, tile_origin = tiled_server
    context = browser.new_context(base_url=url)
    page = context.new_page()
    elsewhere = []
    page.route(lambda u: not u.startswith((url, tile_origin, "data:", "about:")),
               lambda route: (elsewhere.append(route.request.url), route.abort()))
    problems = watch_problems(page)
    try:
        sign_in(page, "coordinator@referralnet.test")
        response = page.goto(SEARCH)
        assert tile_origin in response.headers["content-security-policy"]
        page.locator(".map-box").wait_for(state="visible")
        page.locator(".leaflet-tile-loaded").first.wait_for(state="attached", timeout=10000)
        assert page.locator(".leaflet-tile-loaded").count() >= 1
        assert "Test tiles" in page.locator(".leaflet-control-attribution").inner_text()
        assert "No map tiles are configured" not in page.content()
        axe(page)
        assert problems == [] and elsewhere == []
    finally:
        context.close()
