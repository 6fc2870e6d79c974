"""Each role's home page in a real browser, with axe-core: what to do now, at 1280 px and on a phone;
the admin menu fits on one line; the cards lead to the lists they count."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def _card(page, label: str):
    return page.locator("a.stat-card", has=page.locator(".stat-label", has_text=re.compile(f"^{re.escape(label)}$")))


def test_coordinator_home_answers_what_to_do_now(page, axe, demo):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "coordinator@referralnet.test")
    assert page.get_by_role("heading", level=1).inner_text() == "Welcome, Casey Coordinator"
    assert re.match(r"^\d+ referrals? needs? your attention\.$", page.locator(".page-header .lead").inner_text())
    assert page.locator(".button.primary:visible").count() == 1  # one primary action per page (the idle warning is hidden)
    for heading in ("Find services", re.compile(r"^Overdue for a response"), "Recent patient reports"):
        assert page.get_by_role("heading", level=2, name=heading).is_visible()
    axe(page)

    overdue = _card(page, "Overdue for a response")
    number = overdue.locator(".stat-number").inner_text()
    overdue.click()
    page.wait_for_load_state()
    assert page.url.endswith("/worklist?view=overdue")
    assert page.get_by_role("link", name=re.compile(r"^Overdue for a response")).get_attribute("aria-current") == "page"
    assert page.get_by_role("heading", level=2, name=re.compile(r"^Overdue for a response")).inner_text().endswith(f"({number})")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    page.get_by_role("searchbox", name="What does the person need?").fill("food pantry")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert "/search?q=food+pantry" in page.url
    assert page.external_requests == []


def test_partner_home_shows_the_inbox_and_listings_to_verify(page, axe, demo):
    sign_in(page, "partner@referralnet.test")
    assert page.get_by_role("heading", level=2, name="Listings to verify").is_visible()
    axe(page)
    verify = page.get_by_role("button", name=re.compile(r"^Mark as verified \("))
    before = verify.count()
    assert before >= 1
    name = verify.first.get_attribute("aria-label") or verify.first.inner_text()
    verify.first.click()
    page.wait_for_load_state()
    assert page.url.endswith("/")
    assert "is marked as verified today" in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("button", name=re.compile(r"^Mark as verified \(")).count() == before - 1, name
    axe(page)

    _card(page, "New").click()
    page.wait_for_load_state()
    assert page.url.endswith("/inbox?view=new")
    assert page.external_requests == []


def test_admin_home_shows_network_health_and_the_menu_fits_one_line(page, axe, demo):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "admin@referralnet.test")
    for heading in ("Referrals", "Members", "Directory"):
        assert page.get_by_role("heading", level=2, name=heading).is_visible()
    for label in ("Open referrals", "Overdue for a response", "Failed deliveries", "Partner agencies",
                  "Join requests", "Listings to verify", "Failed imports"):
        assert page.locator(".stat-label", has_text=re.compile(f"^{label}$")).count() == 1, label
    axe(page)

    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    tops = {round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}
    assert len(tops) == 1, f"the admin menu wraps onto {len(tops)} lines at 1280 px"

    # headings breathe below the header
    header_bottom = page.locator(".site-header").bounding_box()
    h1 = page.get_by_role("heading", level=1).bounding_box()
    assert h1["y"] - (header_bottom["y"] + header_bottom["height"]) >= 24

    _card(page, "Active users").click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/users")
    assert page.external_requests == []


def test_home_on_a_phone(browser, live_server, axe, demo):
    context = browser.new_context(base_url=live_server, viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True)
    phone = context.new_page()
    try:
        sign_in(phone, "coordinator@referralnet.test")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # nothing overflows sideways
        axe(phone)
    finally:
        context.close()


def test_focus_is_visible(page, demo):
    sign_in(page, "partner@referralnet.test")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the brand
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle + ' ' + "
                            "getComputedStyle(document.activeElement).outlineWidth")
    assert outline.startswith("solid") and not outline.endswith(" 0px"), outline


def test_pills_keep_a_gap(page, demo):
    sign_in(page, "coordinator@referralnet.test")
    page.goto("/search?q=food+pantry&near=94401")
    gaps = page.evaluate("""() => {
        const out = [];
        for (const b of document.querySelectorAll('.badge')) {
            const next = b.nextElementSibling;
            if (!next || !next.classList.contains('badge')) continue;
            const r1 = b.getBoundingClientRect(), r2 = next.getBoundingClientRect();
            if (Math.abs(r1.top - r2.top) < 2) out.push(r2.left - r1.right);  // side by side on one line
            else out.push(r2.top - r1.bottom);  // wrapped onto the next line
        }
        return out;
    }""")
    assert gaps, "the search results should show pills side by side"
    assert min(gaps) >= 4, gaps
