"""Screenshots of every page, for people to look at: `make screenshots` (or `python -m tests.browser.screenshots`).

Starts the app on the demo data in a throw-away database (the browser tests' way: a werkzeug
server on a loopback port, Debian's chromium through Playwright), signs in as each role and
saves a full-page PNG of every page at 1280 px wide, and of the patient pages (and the agency's
secure-link page) at 360 px too, into build/screenshots/ (or --out). Nothing is fetched from
another host: a page that tries is reported and the run fails.

    python -m tests.browser.screenshots [--out DIR] [--only NAME-SUBSTRING]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from sqlalchemy import select
from werkzeug.serving import make_server

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


@contextmanager
def demo_server(workdir: Path) -> Iterator[tuple[object, str]]:
    """The app on a fresh SQLite database with the demo data loaded, served on a loopback port."""
    from flask_migrate import upgrade

    from referralnet import create_app
    from referralnet.demo import load_demo_data
    from referralnet.extensions import db
    from referralnet.search.backend import current_backend

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'screenshots.db'}",
                      "SECRET_KEY": "screenshots", "SEARCH_INDEX_DIR": str(workdir / "index"),
                      "LOGIN_RATE_LIMIT": "1000 per minute",
                      "MAP_TILE_URL": ""})  # no tile host: nothing is fetched from another host
    with app.app_context():
        upgrade()
        load_demo_data(echo=lambda *_: None)
        db.session.commit()
        current_backend().rebuild()  # as `make run` does (`flask search reindex`) before serving
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()


def _first(query):
    from referralnet.extensions import db

    return db.session.scalars(query).first()


def _pages_for(role: str) -> list[tuple[str, str]]:
    """(name, path) of every page `role` can open, with real ids from the demo data."""
    from referralnet.accounts.models import User
    from referralnet.directory.models import Location, Organization, Service
    from referralnet.referrals.models import Client, Referral, Status

    if role == "coordinator":
        me = _first(select(User).where(User.email == "coordinator@referralnet.test"))
        ours = select(Referral).where(Referral.sending_organization_id == me.organization_id)
        referral = _first(ours.where(Referral.status == Status.REQUESTED.value).order_by(Referral.id))
        closed = _first(ours.where(Referral.loop_closed_at.is_not(None)).order_by(Referral.id))
        client = _first(select(Client).where(Client.organization_id == me.organization_id).order_by(Client.id))
        service = _first(select(Service).where(Service.status == "active").order_by(Service.name))
        return [("home", "/"), ("worklist", "/worklist"), ("worklist-to-close", "/worklist?view=to-close"),
                ("clients", "/clients"), ("client", f"/clients/{client.id}"), ("client-new", "/clients/new"),
                ("client-edit", f"/clients/{client.id}/edit"), ("refer", f"/clients/{client.id}/refer"),
                ("search-empty", "/search"), ("search-results", "/search?q=food+pantry&near=94401"),
                ("search-crisis", "/search?q=I+want+to+kill+myself"),
                ("service", f"/services/{service.id}"), ("referral-open", f"/referrals/{referral.id}"),
                ("referral-print", f"/referrals/{referral.id}/print"),
                ("reports", "/reports"), ("reports-monthly", "/reports/monthly"), ("notifications", "/notifications"),
                ("two-factor", "/account/two-factor"), ("password", "/account/password")] + \
            ([("referral-closed", f"/referrals/{closed.id}")] if closed else [])
    if role == "partner":
        me = _first(select(User).where(User.email == "partner@referralnet.test"))
        inbound = select(Referral).where(Referral.receiving_organization_id == me.organization.directory_organization_id)
        referral = _first(inbound.where(Referral.status == Status.REQUESTED.value).order_by(Referral.id)) or \
            _first(inbound.order_by(Referral.id))
        service = _first(select(Service).where(Service.organization_id == me.organization.directory_organization_id)
                         .order_by(Service.name))
        pages = [("home", "/"), ("inbox", "/inbox"), ("inbox-finished", "/inbox?view=finished"),
                 ("listings", "/partner/listings"), ("capacity", f"/partner/listings/{service.id}/capacity"),
                 ("hours", f"/partner/listings/{service.id}/hours"), ("search", "/search?q=rent+help"),
                 ("reports", "/reports"), ("notifications", "/notifications")]
        if referral is not None:
            pages.insert(3, ("referral", f"/referrals/{referral.id}"))
        return pages
    organization = _first(select(Organization).order_by(Organization.name))
    coordinator = _first(select(User).where(User.email == "coordinator@referralnet.test"))
    service = _first(select(Service).order_by(Service.name))
    location = _first(select(Location).order_by(Location.name))
    return [("home", "/"), ("directory-organizations", "/admin/directory/organizations"),
            ("directory-organization", f"/admin/directory/organizations/{organization.id}"),
            ("directory-organization-edit", f"/admin/directory/organizations/{organization.id}/edit"),
            ("directory-services", "/admin/directory/services"),
            ("directory-service", f"/admin/directory/services/{service.id}"),
            ("directory-service-edit", f"/admin/directory/services/{service.id}/edit"),
            ("directory-locations", "/admin/directory/locations"),
            ("directory-location", f"/admin/directory/locations/{location.id}"),
            ("directory-location-new", "/admin/directory/locations/new"),
            ("users", "/admin/users"), ("user-new", "/admin/users/new"),
            ("user-edit", f"/admin/users/{coordinator.id}/edit"),
            ("organizations", "/admin/organizations"), ("organization-new", "/admin/organizations/new"),
            ("join-requests", "/admin/join-requests"), ("audit-log", "/admin/audit"),
            ("tokens", "/admin/tokens"), ("token-new", "/admin/tokens/new"),
            ("reports", "/reports"), ("search", "/search?q=shelter"), ("notifications", "/notifications")]


def _patient_pages() -> list[tuple[str, str]]:
    """The patient's status page and its printable summary (in both languages), and an agency's secure-link page."""
    from referralnet.referrals.agency_links import token_for as agency_token
    from referralnet.referrals.models import AgencyLink, Referral, Status
    from referralnet.referrals.patient_links import token_for

    waiting = _first(select(Referral).where(Referral.status == Status.REQUESTED.value,
                                            Referral.patient_token_hash.is_not(None)).order_by(Referral.id))
    done = _first(select(Referral).where(Referral.status == Status.COMPLETED.value,
                                         Referral.patient_token_hash.is_not(None)).order_by(Referral.id))
    pages = [("login", "/login"), ("forgot-password", "/login/forgot")]
    for name, referral in (("status-waiting", waiting), ("status-completed", done)):
        token = token_for(referral) if referral is not None else None
        if token:
            pages += [(name, f"/s/{token}?lang=en"), (name + "-es", f"/s/{token}?lang=es"),
                      (name + "-print", f"/s/{token}/print?lang=en")]
    link = _first(select(AgencyLink).order_by(AgencyLink.id))
    token = agency_token(link) if link is not None else None
    if token:
        pages.append(("agency-link", f"/a/{token}"))
    pages.append(("status-not-found", "/s/not-a-real-token"))
    return pages


def _shoot(context_factory: Callable, base: str, out: Path, prefix: str, pages: list[tuple[str, str]],
           only: Optional[str], external: list[str], email: Optional[str] = None, full_page: bool = True) -> list[Path]:
    context = context_factory()
    page = context.new_page()
    page.route(lambda url: not url.startswith(base) and not url.startswith(("data:", "about:")),
               lambda route: (external.append(f"{prefix}: {route.request.url}"), route.abort()))
    if email:
        sign_in(page, email)
    saved = []
    for name, path in pages:
        if only and only not in f"{prefix}-{name}":
            continue
        response = page.goto(base + path)
        page.wait_for_load_state("networkidle")
        target = out / f"{prefix}-{name}.png"
        page.screenshot(path=str(target), full_page=full_page)
        status = response.status if response else "?"
        print(f"{status} {path:<60} -> {target}")
        saved.append(target)
    context.close()
    return saved


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/screenshots", help="folder for the PNGs (default build/screenshots)")
    parser.add_argument("--only", help="only pages whose file name contains this")
    parser.add_argument("--first-screen", action="store_true", help="only what shows without scrolling")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    external: list[str] = []
    saved: list[Path] = []
    full = not args.first_screen
    with tempfile.TemporaryDirectory(prefix="referralnet-screenshots-") as tmp, demo_server(Path(tmp)) as (_app, base), \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        patient = _patient_pages()
        staff = {"coordinator": _pages_for("coordinator"), "partner": _pages_for("partner"),
                 "admin": _pages_for("admin")}

        def desktop():
            return browser.new_context(base_url=base, viewport=DESKTOP)

        def phone():
            return browser.new_context(base_url=base, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)

        saved += _shoot(desktop, base, out, "patient-1280", patient, args.only, external, full_page=full)
        saved += _shoot(phone, base, out, "patient-360", patient, args.only, external, full_page=full)
        for role, email in (("coordinator", "coordinator@referralnet.test"), ("partner", "partner@referralnet.test"),
                            ("admin", "admin@referralnet.test")):
            saved += _shoot(desktop, base, out, f"{role}-1280", staff[role], args.only, external, email, full_page=full)
        saved += _shoot(phone, base, out, "coordinator-360", [("home", "/"), ("worklist", "/worklist")],
                        args.only, external, "coordinator@referralnet.test", full_page=full)
        browser.close()
    print(f"{len(saved)} screenshots in {out}/")
    if external:
        print("Pages tried to load from other hosts:\n  " + "\n  ".join(external), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
