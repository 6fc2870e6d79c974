"""The per-request log line: one JSON object with the request id, the route template (never the
raw path), status, duration and the actor's ids, and nothing a patient would not want in a log."""
from __future__ import annotations

import json

import pytest

from referralnet import create_app
from referralnet.api.tokens import create_api_token
from referralnet.referrals import patient_links, services
from werkzeug.security import generate_password_hash

from tests.conftest import PASSWORD
from tests.referrals.conftest import consent_for, make_client, world  # noqa: F401  (fixtures)


@pytest.fixture()
def json_log(app, monkeypatch, capsys):
    """The request lines written since the fixture started, parsed (and the raw output)."""
    monkeypatch.setitem(app.config, "LOG_FORMAT", "json")
    capsys.readouterr()

    def read() -> tuple[list[dict], str]:
        out = capsys.readouterr().out
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("logger") == "referralnet.request"], out

    return read


@pytest.fixture()
def coordinator(db, world):
    """The world's coordinator, able to sign in with PASSWORD."""
    world.coordinator.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    db.session.commit()
    return world.coordinator


@pytest.fixture()
def patient_link(db, world, make_client, consent_for):
    person = make_client(given_name="Marisol", family_name="Quintanilla", phone="(415) 555-0142")
    consent_for(person)
    referral = services.send_referral(world.coordinator, person, "svc-pantry", category="food-insecurity")
    db.session.flush()
    token = patient_links.token_for(referral)
    db.session.commit()
    return token


def test_a_patient_link_is_logged_by_its_route_never_its_token_or_the_patient(client, json_log, patient_link):
    assert client.get(f"/s/{patient_link}").status_code == 200
    assert client.get(f"/s/{patient_link}/print").status_code == 200
    lines, out = json_log()
    assert [line["route"] for line in lines] == ["/s/<token>", "/s/<token>/print"]
    line = lines[0]
    assert set(line) == {"timestamp", "level", "logger", "request_id", "method", "route", "endpoint",
                         "status", "duration_ms", "cpu_ms", "db_queries", "db_ms"}  # not signed in: no user ids
    assert line["method"] == "GET" and line["status"] == 200 and line["endpoint"] == "status.status_page"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["timestamp"].endswith("+00:00")
    assert patient_link not in out
    for patient_detail in ("Marisol", "Quintanilla", "555-0142"):
        assert patient_detail not in out


def test_the_signed_in_persons_ids_and_never_the_query(client, json_log, login, world, coordinator):
    assert login(coordinator).status_code == 302
    json_log()
    assert client.get("/search?q=eviction+help+for+Marisol+Quintanilla").status_code == 200
    lines, out = json_log()
    assert len(lines) == 1
    assert lines[0]["route"] == "/search"
    assert lines[0]["user_id"] == world.coordinator.id and lines[0]["org_id"] == world.clinic.id
    assert "Marisol" not in out and "eviction" not in out


def test_an_api_token_is_logged_by_its_id(app, db, world, json_log, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")
    token, secret = create_api_token(world.admin, world.partner_org, name="EHR", scopes=["referrals:read"])
    db.session.commit()
    response = app.test_client(use_cookies=False).get("/fhir/Task", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    lines, out = json_log()
    assert lines[-1]["route"] == "/fhir/Task"
    assert lines[-1]["token_id"] == token.id and lines[-1]["org_id"] == world.partner_org.id
    assert secret not in out


def test_each_line_says_what_the_request_cost(client, json_log, login, world, coordinator):
    """CPU time of the serving thread and the SQL statements it ran, counted per request (not per process)."""
    from referralnet.extensions import db

    json_log()
    assert client.get("/healthz").status_code == 200  # as a load balancer asks: no session
    assert login(coordinator).status_code == 302
    assert client.get("/search?q=food").status_code == 200
    db.session.execute(db.text("SELECT 1"))  # outside any request: counted nowhere
    assert client.get("/worklist").status_code == 200
    lines, _ = json_log()
    health, search, worklist = lines[0], lines[-2], lines[-1]
    assert [health["route"], search["route"], worklist["route"]] == ["/healthz", "/search", "/worklist"]
    assert health["db_queries"] == 0 and health["db_ms"] == 0
    for line in (search, worklist):
        assert line["db_queries"] >= 2  # the signed-in user, then the page's own reads
        assert 0 <= line["db_ms"] <= line["duration_ms"]
        assert 0 < line["cpu_ms"]


def test_a_request_id_is_honoured_echoed_or_made(client, json_log):
    given = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2:9"})
    assert given.headers["X-Request-ID"] == "lb-7f3a.2:9"
    made = [client.get("/healthz").headers["X-Request-ID"] for _ in range(2)]
    assert made[0] != made[1] and all(len(rid) == 32 for rid in made)
    hostile = client.get("/healthz", headers={"X-Request-ID": 'x" injected <script>'})
    assert len(hostile.headers["X-Request-ID"]) == 32
    too_long = client.get("/healthz", headers={"X-Request-ID": "a" * 129})
    assert too_long.headers["X-Request-ID"] != "a" * 129
    lines, out = json_log()
    assert [line["request_id"] for line in lines] == ["lb-7f3a.2:9", *made, hostile.headers["X-Request-ID"],
                                                      too_long.headers["X-Request-ID"]]
    assert "injected" not in out


def test_an_unknown_path_is_logged_without_it(client, json_log):
    assert client.get("/no/such/page/Quintanilla").status_code == 404
    lines, out = json_log()
    assert lines[-1]["route"] is None and lines[-1]["status"] == 404
    assert "Quintanilla" not in out


def test_the_logged_status_is_the_one_sent_after_a_failed_commit(client, json_log, login, world, coordinator, monkeypatch):
    """A commit that cannot get the database's lock becomes a 503: the line says 503, not 200."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from referralnet.extensions import db

    assert login(coordinator).status_code == 302
    json_log()

    def busy_commit():
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(db.session, "commit", busy_commit)
    response = client.get("/search?q=food")
    assert response.status_code == 503
    lines, _ = json_log()
    assert lines[-1]["status"] == 503 and lines[-1]["route"] == "/search"


def test_text_format_is_one_readable_line(client, app, capsys, monkeypatch):
    monkeypatch.setitem(app.config, "LOG_FORMAT", "text")
    capsys.readouterr()
    response = client.get("/healthz", headers={"X-Request-ID": "abc"})
    out = capsys.readouterr().out
    assert response.status_code == 200
    assert "GET /healthz 200" in out and "request_id=abc" in out and not out.lstrip().startswith("{")
    assert "db=0 queries/0.0 ms" in out and "cpu=" in out


def test_an_unknown_log_format_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of json, text, not 'jsn'"):
        create_app({"LOG_FORMAT": "jsn", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
