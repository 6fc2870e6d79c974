"""Real-browser fixtures: the app served on a loopback port, Debian's chromium driven by Playwright.

Chromium comes from Debian (`/usr/bin/chromium`, installed by `make test` / .ci/run); Playwright
never downloads a browser. axe-core comes from the axe-playwright-python wheel, so nothing is
fetched from the network at test time.
"""
from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does this when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    external = []

    def block_external(route):
        # No page may load anything from another host.
        external.append(route.request.url)
        route.abort()

    page.route(lambda url: not url.startswith(live_server) and not url.startswith(("data:", "about:")),
               block_external)
    page.external_requests = external
    yield page
    context.close()


@pytest.fixture()
def axe():
    from axe_playwright_python.sync_playwright import Axe

    def check(page):
        results = Axe().run(page, options={"runOnly": {"type": "tag",
                                                        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                                   "best-practice"]}})
        assert results.violations_count == 0, results.generate_report()
        return results

    return check


def sign_in(page, email: str, password: str | None = None) -> None:
    """Sign in through the login form as a demo user (and through the second step, if it asks), with the
    demo password unless `password` is given."""
    from referralnet.demo import DEMO_PASSWORD

    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password or DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    pass_second_factor(page, email)


def pass_second_factor(page, email: str) -> None:
    """Do what a person does at the second step: the first time, add the key to the app (read off the
    page, as scanning the QR code would) and enter its code, then continue past the recovery codes;
    later, enter the app's current code."""
    from tests.conftest import totp_code

    if page.url.endswith("/login/two-factor/setup"):
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code").fill(totp_code(secret))
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        page.get_by_role("link", name="I have saved them: continue").click()
        page.wait_for_load_state()
    elif page.url.endswith("/login/two-factor"):
        from referralnet.accounts.models import User
        from referralnet.extensions import db

        db.session.expire_all()
        user = db.session.scalar(db.select(User).where(User.email == email))
        page.get_by_label("Code").fill(totp_code(user.totp_secret, user.totp_last_step))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()
