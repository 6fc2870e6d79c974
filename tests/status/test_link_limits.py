"""Patient links under hostile and careless use: limits that slow guessing but never refuse a
valid link, Retry-After on every 429, one budget for a page and its print version, no token in
any log, and a report sent twice recorded once."""
from __future__ import annotations

import logging
import re
import threading
import urllib.request
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from referralnet.extensions import limiter
from referralnet.logs import REDACTED, TOKEN_PATH_PATTERNS, TokenRedactingFilter, redact, register_token_path
from referralnet.notifications.models import Notification
from referralnet.referrals import patient_links, services
from referralnet.referrals.models import ReferralEvent
from referralnet.status.service import record_report
from tests.conftest import csrf_token_from

CLINIC = {"REMOTE_ADDR": "203.0.113.7"}  # one address in front of a whole clinic's patients


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def fresh_limits(app):
    limiter.reset()
    yield
    limiter.reset()


@contextmanager
def config(app, **values):
    before = {key: app.config.get(key) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(before)


@pytest.fixture()
def links(db, world, make_client, consent_for):
    """Three patients' links, sent through the service."""
    tokens = []
    for n in range(3):
        person = make_client(given_name=f"Pat{n}", phone="(415) 555-0100")
        consent_for(person)
        referral = services.send_referral(world.coordinator, person, "svc-pantry", category="food-insecurity")
        db.session.flush()
        tokens.append(patient_links.token_for(referral))
    db.session.commit()
    return tokens


def _guess(n: int) -> str:
    return f"/s/{'G' * 40}{n:03d}"


def test_an_address_over_its_bad_link_budget_still_opens_every_valid_link(app, client, links):
    with config(app, STATUS_BAD_TOKEN_LIMIT="3 per minute"):
        codes = [client.get(_guess(n), environ_base=CLINIC).status_code for n in range(5)]
        assert codes[:3] == [404, 404, 404] and codes[3:] == [429, 429]
        refused = client.get(_guess(9), environ_base=CLINIC)
        assert refused.headers["Retry-After"].isdigit() and int(refused.headers["Retry-After"]) <= 60
        # Every patient behind that address still gets in: page, print page and a report.
        for token in links:
            page = client.get(f"/s/{token}", environ_base=CLINIC)
            assert page.status_code == 200
            assert client.get(f"/s/{token}/print", environ_base=CLINIC).status_code == 200
        report = client.post(f"/s/{links[0]}?lang=en", environ_base=CLINIC,
                             data={"report": "contacted", "csrf_token": csrf_token_from(text(page))})
        assert report.status_code == 302
        # ... and guesses from it are still refused; another address has its own budget.
        assert client.get(_guess(10), environ_base=CLINIC).status_code == 429
        assert client.get(_guess(11), environ_base={"REMOTE_ADDR": "198.51.100.2"}).status_code == 404


def test_valid_links_never_count_against_the_address(app, client, links):
    with config(app, STATUS_BAD_TOKEN_LIMIT="2 per minute"):
        for _ in range(5):
            assert client.get(f"/s/{links[0]}", environ_base=CLINIC).status_code == 200
        assert client.get(_guess(1), environ_base=CLINIC).status_code == 404
        assert client.get(_guess(2), environ_base=CLINIC).status_code == 404
        assert client.get(_guess(3), environ_base=CLINIC).status_code == 429


def test_each_link_has_its_own_budget_shared_by_its_page_and_print_page(app, client, links):
    with config(app, STATUS_RATE_LIMIT="3 per minute"):
        first, second = links[0], links[1]
        assert client.get(f"/s/{first}", environ_base=CLINIC).status_code == 200
        assert client.get(f"/s/{first}/print", environ_base=CLINIC).status_code == 200
        assert client.get(f"/s/{first}", environ_base=CLINIC).status_code == 200
        over = client.get(f"/s/{first}/print", environ_base=CLINIC)
        assert over.status_code == 429 and over.headers["Retry-After"].isdigit()
        assert client.get(f"/s/{first}", environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 429
        # Other patients at the same clinic are not affected.
        for _ in range(3):
            assert client.get(f"/s/{second}", environ_base=CLINIC).status_code == 200


def test_every_429_carries_retry_after(app, client, db, world, links):
    from referralnet.api.tokens import create_api_token

    _, secret = create_api_token(world.admin, world.partner_org, name="agency", scopes=["referrals:read"])
    db.session.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    limits = dict(LOGIN_RATE_LIMIT="1 per minute", HSDS_RATE_LIMIT="1 per minute", API_RATE_LIMIT="1 per minute",
                  STATUS_RATE_LIMIT="1 per minute", STATUS_BAD_TOKEN_LIMIT="1 per minute")
    login_form = {"email": "x@example.org", "password": "nope", "csrf_token": csrf_token_from(text(client.get("/login")))}
    with config(app, **limits):
        attempts = {
            "login": lambda: client.post("/login", data=login_form),
            "hsds": lambda: client.get("/hsds/services"),
            "api": lambda: client.get("/api/v1/referrals", headers=bearer),
            "fhir": lambda: client.get("/fhir/Task", headers=bearer),
            "status page": lambda: client.get(f"/s/{links[2]}"),
            "bad link": lambda: client.get(_guess(1)),
        }
        for name, attempt in attempts.items():
            responses = [attempt() for _ in range(3)]
            limited = [r for r in responses if r.status_code == 429]
            assert limited, f"{name}: {[r.status_code for r in responses]}"
            for response in limited:
                assert response.headers.get("Retry-After", "").isdigit(), f"{name}: {dict(response.headers)}"


# --- logs ----------------------------------------------------------------------------------------------

@contextmanager
def dev_server(app):
    """The Flask/Werkzeug development server (the one `make run` starts) on a free port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def _fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_dev_servers_access_log_holds_no_token(app, links, caplog):
    logging.getLogger("werkzeug").disabled = False  # Alembic's fileConfig (test set-up) turns it off
    token = links[0]
    with caplog.at_level(logging.INFO), dev_server(app) as base:
        assert _fetch(f"{base}/s/{token}?lang=en") == 200
        assert _fetch(f"{base}/s/{token}/print") == 200
        assert _fetch(f"{base}/s/{token[:-3]}zzz") == 404
    access = [re.sub(r"\x1b\[[0-9;]*m", "", r.getMessage()) for r in caplog.records if r.name == "werkzeug"]
    assert any('"GET /s/[redacted]?lang=en HTTP/1.1" 200' in line for line in access), access
    assert any('"GET /s/[redacted]/print HTTP/1.1" 200' in line for line in access), access
    assert any('"GET /s/[redacted] HTTP/1.1" 404' in line for line in access), access
    assert token not in caplog.text and token[:20] not in caplog.text


def test_gunicorns_access_log_holds_no_token(tmp_path, links):
    """gunicorn.conf.py installs the filter; gunicorn logs its access line as a format and a dict of atoms."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("gunicorn_conf", Path(__file__).parents[2] / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    access = logging.getLogger("gunicorn.access")
    access.disabled = False  # Alembic's fileConfig (test set-up) turns existing loggers off
    out = tmp_path / "access.log"
    handler = logging.FileHandler(out)
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        conf.post_worker_init(worker=None)
        token = links[1]
        atoms = {"h": "203.0.113.7", "r": f"GET /s/{token}/print HTTP/1.1", "s": "200", "U": f"/s/{token}/print",
                 "f": f"https://referralnet.example/s/{token}"}
        access.info('%(h)s "%(r)s" %(s)s "%(f)s"', atoms)
    finally:
        access.removeHandler(handler)
        handler.close()
    line = out.read_text()
    assert token not in line
    assert '"GET /s/[redacted]/print HTTP/1.1" 200 "https://referralnet.example/s/[redacted]"' in line


def test_redaction_covers_any_token_path_and_is_easy_to_extend():
    token = "Ab3_-" * 8 + "xyz"  # 43 characters like every 256-bit link token
    # A link type nobody has listed yet is caught by its shape ...
    assert redact(f"GET /agency/links/{token} HTTP/1.1") == f"GET /agency/links/{REDACTED} HTTP/1.1"
    # ... a shorter token under a registered prefix by the prefix.
    before = list(TOKEN_PATH_PATTERNS)
    try:
        register_token_path("/a/")
        assert redact("GET /a/short-token-123/accept HTTP/1.1") == f"GET /a/{REDACTED}/accept HTTP/1.1"
    finally:
        TOKEN_PATH_PATTERNS[:] = before
    # Directory ids (UUIDs) and ordinary paths are left alone.
    uuid = "0b6a1e6c-8a2f-4d3e-9b1a-2f6c1d2e3f4a"
    assert redact(f"GET /directory/services/{uuid} HTTP/1.1") == f"GET /directory/services/{uuid} HTTP/1.1"
    assert redact("GET /referrals/12/status/accepted HTTP/1.1") == "GET /referrals/12/status/accepted HTTP/1.1"
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s', (f"GET /s/{token}", 200), None)
    assert TokenRedactingFilter().filter(record) and token not in record.getMessage()


# --- reports -------------------------------------------------------------------------------------------

def test_the_same_report_twice_in_a_day_is_recorded_once_and_the_page_says_so(client, db, links):
    token = links[0]
    page = text(client.get(f"/s/{token}?lang=en"))
    form = {"report": "not-heard-back", "csrf_token": csrf_token_from(page)}
    first = client.post(f"/s/{token}?lang=en", data=form, follow_redirects=True)
    assert "Your care team will follow up" in text(first)
    second = client.post(f"/s/{token}?lang=en", data=form, follow_redirects=True)
    assert second.status_code == 200
    assert "You already told us this today" in text(second)
    spanish = client.post(f"/s/{token}?lang=es", data=form, follow_redirects=True)
    assert "Ya nos dijo esto hoy" in text(spanish)
    reports = db.session.scalars(select(ReferralEvent).where(ReferralEvent.kind == "report")).all()
    assert [r.report_code for r in reports] == ["not-heard-back"]
    told = db.session.scalars(select(Notification.recipient_user_id).where(
        Notification.referral_id == reports[0].referral_id, Notification.event.like("%report%"),
        Notification.channel == "app")).all()
    assert len(told) == 1  # the coordinator is told once
    # A different report is news.
    other = client.post(f"/s/{token}?lang=en", data={**form, "report": "got-help"}, follow_redirects=True)
    assert "We are glad you got help" in text(other)


def test_a_report_repeated_after_a_day_is_recorded_again(db, links):
    referral = patient_links.find_referral(links[0])
    first = record_report(referral, "not-heard-back")
    again = record_report(referral, "not-heard-back", now=first.event.at + timedelta(hours=23))
    assert again.already_sent and again.event.id == first.event.id
    later = record_report(referral, "not-heard-back", now=first.event.at + timedelta(hours=25))
    assert not later.already_sent and later.event.id != first.event.id
