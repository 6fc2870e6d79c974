"""One referral end to end in a real browser, axe-core on every page on the way:
the coordinator adds a client, searches for them, records consent and sends; the partner
accepts, starts and completes; the coordinator closes the loop."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser
SERVICE = "San Mateo Free Medical Clinic"  # a Samaritan House service; Samaritan House is a demo partner


def nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
    page.wait_for_load_state()


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")


def test_one_referral_from_search_to_closed_loop(page, axe, demo):
    # --- the coordinator adds the client --------------------------------------------------------
    sign_in(page, "coordinator@referralnet.test")
    nav(page, "Clients")
    axe(page)
    page.get_by_role("link", name="Add a client").click()
    page.get_by_label("Given name").fill("Rosa")
    page.get_by_label("Family name").fill("Delgado-Test")
    page.get_by_label("Date of birth").fill("1968-03-14")
    page.get_by_label("Preferred language").select_option("es")
    page.get_by_label("Phone").fill("(650) 555-0142")
    page.get_by_label("How to contact them").select_option("sms")
    page.get_by_label("ZIP code").fill("94401")
    axe(page)
    page.get_by_role("button", name="Save client").click()
    page.wait_for_url(re.compile(r".*/clients/\d+$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Rosa Delgado-Test"
    axe(page)

    # --- searches for her: near her ZIP, in her language, then widens ---------------------------
    page.get_by_role("link", name="Find services for Rosa").click()
    page.wait_for_load_state()
    assert page.get_by_label("Near (ZIP code, address or city)").input_value() == "94401"
    assert page.get_by_label("Language spoken").input_value() == "es"
    axe(page)
    page.get_by_label("What does the person need?").fill(SERVICE)
    page.get_by_label("Language spoken").select_option("")
    page.get_by_label("Within").select_option("")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    page.get_by_label(f"Select {SERVICE} for a referral").first.check()
    axe(page)
    page.get_by_role("button", name="Refer Rosa Delgado-Test to the selected services").click()
    page.wait_for_load_state()

    # --- records consent and sends -------------------------------------------------------------
    assert page.get_by_role("heading", level=1).inner_text() == "Refer Rosa Delgado-Test"
    axe(page)
    page.get_by_label("Rosa agreed to share their details with Samaritan House").check()
    page.get_by_label("Need").select_option("health-insurance-coverage-status")
    page.get_by_label("Note to the agency").fill("Needs a check-up; no insurance.")
    page.get_by_role("button", name="Send referrals").click()
    page.wait_for_url(re.compile(r".*/referrals/\d+$"))
    referral_url = page.url
    assert "Requested" in page.locator(".status-line").inner_text()
    axe(page)
    sign_out(page)

    # --- the partner accepts, starts and completes ---------------------------------------------
    sign_in(page, "partner@referralnet.test")
    nav(page, "Inbox")
    page.get_by_role("link", name=re.compile(r"^New")).click()
    page.wait_for_load_state()
    axe(page)
    page.get_by_role("link", name="Rosa Delgado-Test").first.click()
    page.wait_for_url(referral_url)
    assert "Needs a check-up; no insurance." in page.content()
    axe(page)
    # Each move is a button that opens its own small form.
    page.locator("#move-accepted > summary").click()
    page.locator("#move-accepted").get_by_role("button", name="Accept", exact=True).click()
    page.wait_for_load_state()
    assert "Accepted" in page.locator(".status-line").inner_text()
    page.locator("#move-in-progress > summary").click()
    page.locator("#move-in-progress").get_by_role("button", name="Start work", exact=True).click()
    page.wait_for_load_state()
    page.locator("#move-completed > summary").click()
    completed = page.locator("#move-completed")
    completed.get_by_label("Outcome").select_option("got-help")
    completed.get_by_label("Note").fill("Seen at the clinic on Tuesday.")
    completed.get_by_role("button", name="Complete", exact=True).click()
    page.wait_for_load_state()
    assert "Completed" in page.locator(".status-line").inner_text()
    axe(page)
    sign_out(page)

    # --- the coordinator sees it on the worklist and closes the loop ----------------------------
    sign_in(page, "coordinator@referralnet.test")
    nav(page, "Worklist")
    page.get_by_role("link", name=re.compile(r"^Finished, loop not closed")).click()
    page.wait_for_load_state()
    axe(page)
    page.get_by_role("link", name="Rosa Delgado-Test").first.click()
    page.wait_for_url(referral_url)
    page.get_by_label("Got help").check()
    page.get_by_role("button", name="Close the loop").click()
    page.wait_for_load_state()
    assert "Loop closed" in page.locator(".status-line").inner_text()
    axe(page)
    assert page.external_requests == []
