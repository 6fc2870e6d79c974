"""A coordinator searches, filters and opens a service in a real browser; axe-core on both pages."""
from __future__ import annotations

import pytest

from referralnet.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_search_filter_and_open_a_service(page, axe, demo):
    page.goto("/login")
    page.get_by_label("Email").fill("coordinator@referralnet.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Find services").first.click()
    page.wait_for_url("**/search")
    axe(page)

    # Keyboard only: type, tab through, submit with Enter.
    page.get_by_label("What does the person need?").fill("food stamps")
    page.get_by_label("Near (ZIP code, address or city)").fill("94063")
    page.get_by_label("Within").select_option("10")
    page.get_by_label("Near (ZIP code, address or city)").press("Enter")
    page.wait_for_url("**/search?**")
    status = page.get_by_role("region", name="Results").get_by_role("status")
    assert "near 94063" in status.inner_text()
    assert page.get_by_role("link", name="CalFresh Application Help").is_visible()
    axe(page)

    # Narrow by a domain facet and a language.
    page.get_by_label("Food Insecurity").check()
    page.get_by_label("Language spoken").select_option("zh")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="CalFresh Application Help").is_visible()
    assert "Low-Cost Internet" not in page.content()
    axe(page)

    page.get_by_role("link", name="CalFresh Application Help").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "CalFresh Application Help"
    assert page.get_by_role("heading", name="What to bring").count() == 0  # a dt, not a heading
    assert "What to bring" in page.content()
    axe(page)
    assert page.external_requests == []


def test_a_crisis_query_shows_the_hotline_first_and_each_result_says_why(page, axe, demo):
    page.goto("/login")
    page.get_by_label("Email").fill("coordinator@referralnet.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/search")
    page.get_by_label("What does the person need?").fill("mi esposo me pega")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    crisis = page.get_by_role("complementary", name="If someone is in danger right now, call 911.")
    assert crisis.is_visible()
    assert crisis.get_by_role("link", name="1-800-799-7233").get_attribute("href") == "tel:18007997233"
    # The hotline comes before the results, in reading order.
    assert crisis.bounding_box()["y"] < page.get_by_role("heading", name="Results").bounding_box()["y"]
    first = page.locator(".result").first
    assert "Matched: esposo pega → domestic violence help" in first.inner_text()
    axe(page)

    page.get_by_label("What does the person need?").fill("cheap dentis")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    status = page.get_by_role("region", name="Results").get_by_role("status")
    assert "spelling corrected from “cheap dentis”" in status.inner_text()
    assert "Understood as: cheap → free or low cost; dentist → dental care" in status.inner_text()
    assert page.get_by_role("complementary", name="If someone is in danger right now, call 911.").count() == 0
    axe(page)
    assert page.external_requests == []
