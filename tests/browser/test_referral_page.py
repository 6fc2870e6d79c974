"""The referral page built around its status, in a real browser with axe-core: the partner and the
coordinator each see where the referral stands, who must act, and only their own moves, each behind
its own button (opened with the keyboard too); no console errors, no CSP violations."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def watch_problems(page) -> list[str]:
    """Console errors, page errors and CSP violations seen by `page` from now on."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));")
    return problems


def _fresh_referral_id(db, agency: str) -> int:
    """A demo referral to `agency`, not answered yet, sent by the demo coordinator (Casey)."""
    from referralnet.accounts.models import User
    from referralnet.directory.models import Organization
    from referralnet.referrals.models import Referral

    org = db.session.scalar(select(Organization.id).where(Organization.name == agency))
    casey = db.session.scalar(select(User.id).where(User.email == "coordinator@referralnet.test"))
    return db.session.scalar(select(Referral.id).where(Referral.receiving_organization_id == org,
                                                      Referral.sender_id == casey,
                                                      Referral.status == "requested",
                                                      Referral.delivery_route == "network")
                             .order_by(Referral.id))


def test_partner_and_coordinator_work_the_redesigned_page(page, axe, demo, db):
    problems = watch_problems(page)
    referral_id = _fresh_referral_id(db, "Samaritan House")
    sign_in(page, "partner@referralnet.test")
    page.goto(f"/referrals/{referral_id}")
    header = page.get_by_role("region", name="Status", exact=True)
    assert "Your move:" in header.inner_text() and "accept or decline this referral by" in header.inner_text()
    steps = page.get_by_role("list", name="Progress").get_by_role("listitem")
    assert steps.count() == 6 and "Sent" in steps.nth(0).inner_text() and "Loop closed" in steps.nth(5).inner_text()
    # The agency sees how to reach the coordinator who sent it.
    assert "Casey Coordinator" in header.inner_text() and "(650) 555-0142" in header.inner_text()
    assert header.get_by_role("link", name="coordinator@referralnet.test").is_visible()
    # Its moves, closed: no open forms; cancel last, and no coordinator move.
    summaries = page.locator("details.move > summary")
    assert summaries.all_inner_texts() == ["Accept", "Decline", "Cancel referral"]
    assert page.locator("details.move[open]").count() == 0 and not page.get_by_label("Reason").first.is_visible()
    axe(page)

    # Keyboard: Tab to "Decline", Enter opens its small form; the partner's cancel reasons are its own.
    page.locator("#move-rejected > summary").focus()
    page.keyboard.press("Enter")
    decline = page.locator("#move-rejected")
    assert decline.get_attribute("open") is not None and decline.get_by_label("Reason").is_visible()
    page.locator("#move-cancelled > summary").click()
    cancel_reasons = page.locator("#move-cancelled").get_by_label("Reason").locator("option").all_inner_texts()
    assert "Referred elsewhere" not in cancel_reasons and "Duplicate referral" in cancel_reasons
    axe(page)

    # Declining without a reason: told why, on the same move, which stays open.
    decline.get_by_role("button", name="Decline", exact=True).click()
    page.wait_for_load_state()
    decline = page.locator("#move-rejected")
    assert decline.get_attribute("open") is not None and "Choose a reason" in decline.inner_text()
    assert page.url.endswith(f"/referrals/{referral_id}")  # the refusal leads back to the page's own address
    assert problems == []
    axe(page)
    decline.get_by_label("Reason").select_option("no-capacity")
    with page.expect_navigation():
        decline.get_by_role("button", name="Decline", exact=True).click()
    assert re.search(rf"/referrals/{referral_id}(#.*)?$", page.url), page.url
    assert "Declined" in page.locator(".status-line").inner_text()
    assert page.locator(".step-ended").inner_text().startswith("Declined")
    assert page.locator("details.move").count() == 0
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")

    # The coordinator: the line shows where it ended, and the next step is theirs.
    sign_in(page, "coordinator@referralnet.test")
    page.goto(f"/referrals/{referral_id}")
    header = page.get_by_role("region", name="Status", exact=True)
    assert "Your move:" in header.inner_text() and "close the loop" in header.inner_text()
    assert "Sent by" not in header.inner_text()
    axe(page)
    assert problems == [] and page.external_requests == []


def test_coordinator_sees_only_cancel_and_entered_in_error_last_and_quiet(page, axe, demo, db):
    problems = watch_problems(page)
    referral_id = _fresh_referral_id(db, "Samaritan House")
    sign_in(page, "coordinator@referralnet.test")
    page.goto(f"/referrals/{referral_id}")
    header = page.get_by_role("region", name="Status", exact=True)
    assert "Waiting on Samaritan House:" in header.inner_text()
    assert page.locator(".moves-destructive details.move > summary").all_inner_texts() == \
        ["Cancel referral", "Entered in error"]
    assert page.locator("details.move").count() == 2
    page.locator("#move-cancelled > summary").click()
    reasons = page.locator("#move-cancelled").get_by_label("Reason").locator("option").all_inner_texts()
    assert "Referred elsewhere" in reasons
    page.locator("#move-entered-in-error > summary").click()
    assert page.locator("#move-entered-in-error").get_by_label("Details").is_visible()
    axe(page)
    assert problems == [] and page.external_requests == []
