"""The outcome reports in a real browser, for each role: open them from the navigation, change the
period and a filter, see the charts drawn (SVG images, nothing fetched elsewhere, no CSP
violation) with their tables, and pass axe-core; the printable monthly summary too."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def open_reports(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Outcome report")


def charts_are_drawn(page, *, all_drawn: bool = False) -> None:
    """Each of the 3 charts is an image that loaded, or (when every number in it is zero or hidden under
    the small-cell rule) a line saying why it is not drawn."""
    images = page.locator("figure.report-chart img")
    explained = page.locator("p.report-chart-hidden")
    assert images.count() + explained.count() == 3
    assert not all_drawn or images.count() == 3
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
        assert "table" in images.nth(i).get_attribute("alt")
    for i in range(explained.count()):
        assert "not drawn" in explained.nth(i).inner_text()


@pytest.mark.parametrize("email, scope_text, filter_label", [
    ("admin@referralnet.test", "ReferralNet Network Office", "Need"),
    ("coordinator@referralnet.test", "Bayside Community Health Center", "Receiving agency"),
    ("partner@referralnet.test", "Samaritan House", "Sending organization"),
])
def test_each_role_reads_its_report(page, axe, demo, email, scope_text, filter_label):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in(page, email)
    open_reports(page)
    charts_are_drawn(page, all_drawn="admin" in email)  # the network office sees every count
    if "partner" in email:
        assert page.get_by_role("heading", name="Your agency and the network median").count() == 1
    funnel = page.get_by_role("table", name="From sending to a closed loop")
    assert funnel.get_by_role("row").count() == 6
    axe(page)

    # The last 30 days, one filter.
    start = (date.today() - timedelta(days=30)).isoformat()
    page.get_by_label("From", exact=True).fill(start)
    select = page.get_by_label(filter_label, exact=True)
    options = select.locator("option")
    assert options.count() > 1
    select.select_option(index=1)
    chosen = options.nth(1).get_attribute("value")
    page.get_by_role("button", name="Update report").click()
    page.wait_for_load_state()
    assert f"start={start}" in page.url and chosen in page.url
    assert page.get_by_label("From", exact=True).input_value() == start
    assert page.get_by_label(filter_label, exact=True).input_value() == chosen
    charts_are_drawn(page)
    axe(page)

    # A mistake in the period is explained next to the field.
    page.get_by_label("To", exact=True).fill("2020-01-01")
    page.get_by_role("button", name="Update report").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").count() >= 1
    assert "start date must be on or before" in page.get_by_role("alert").inner_text()
    axe(page)
    assert page.external_requests == [] and violations == []


def test_the_monthly_summary_prints(page, axe, demo):
    sign_in(page, "coordinator@referralnet.test")
    open_reports(page)
    page.get_by_role("link", name="Printable monthly summary").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Monthly summary: Bayside")
    assert page.get_by_role("button", name="Print").is_visible()
    axe(page)
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="Print").is_visible()
    assert page.external_requests == []
