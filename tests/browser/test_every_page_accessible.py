"""Every page passes axe-core: each page `make screenshots` shows (every staff page of each role at
1280 px, the patient pages and the agency's link page at 1280 and 360 px) opened in chromium on the
demo data, checked with the WCAG 2.1 A/AA and best-practice rules, and loading nothing from another host."""
from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in
from tests.browser.screenshots import PHONE, _pages_for, _patient_pages

pytestmark = pytest.mark.browser

STAFF = {"coordinator": "coordinator@referralnet.test", "partner": "partner@referralnet.test",
         "admin": "admin@referralnet.test"}


def _check_each(page, axe, pages, expected_missing=("status-not-found",)):
    failures = []
    for name, path in pages:
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        wanted = 404 if name in expected_missing else 200
        if response is None or response.status != wanted:
            failures.append(f"{name} {path}: HTTP {response.status if response else '?'} (wanted {wanted})")
            continue
        if "/login" in page.url and not path.startswith("/login"):
            failures.append(f"{name} {path}: sent to the sign-in page")
            continue
        try:
            axe(page)
        except AssertionError as exc:
            failures.append(f"{name} {path}:\n{exc}")
    assert not failures, "\n\n".join(failures)
    assert page.external_requests == []


@pytest.mark.parametrize("role", list(STAFF))
def test_every_staff_page_passes_axe(page, axe, demo, role):
    pages = _pages_for(role)
    assert len(pages) >= 9
    sign_in(page, STAFF[role])
    _check_each(page, axe, pages)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_patient_page_passes_axe(page, axe, demo, viewport):
    if viewport == "phone":
        page.set_viewport_size(PHONE)
    pages = _patient_pages()
    assert {"status-waiting", "status-waiting-es", "agency-link"} <= {name for name, _ in pages}
    _check_each(page, axe, pages)
