"""The REST API as another system uses it, with nothing but a token: search, clients and consent,
an idempotent referral, the partner's side through transitions, closing the loop, listings —
and another organization that never sees any of it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from referralnet.api.tokens import create_api_token
from referralnet.audit.models import AuditLog
from referralnet.referrals.models import Referral
from referralnet.search.backend import current_backend
from tests.referrals.conftest import consent_for, make_client, world  # noqa: F401  (fixtures)

ALL = ["directory:read", "referrals:read", "referrals:write"]


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    """The limiter's memory storage lives as long as the test session: keep it out of the way."""
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")


@pytest.fixture()
def api(app, db, world):
    """The `world` committed (so the search index has it), with a token per organization and a
    `call(token, method, path, **kw)` that sends only `Authorization: Bearer` — no cookie."""
    tokens = {}
    for name, org, scopes in (("clinic", world.clinic, ALL), ("partner", world.partner_org, ALL),
                              ("other_clinic", world.other_clinic, ALL),
                              ("other_partner", world.other_partner_org, ALL),
                              ("read_only", world.clinic, ["directory:read", "referrals:read"])):
        _, tokens[name] = create_api_token(world.admin, org, name=f"{name} system", scopes=scopes)
    db.session.commit()
    current_backend().rebuild()

    def call(who: str | None, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if who is not None:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        browser = app.test_client(use_cookies=False)
        return browser.open(path, method=method, headers=headers, **kwargs)

    return SimpleNamespace(call=call, tokens=tokens, world=world)


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def error_contract(response, status: int) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"code", "status", "message", "errors"} and body["status"] == status
    return body


def test_the_closed_loop_through_the_api(api, db):
    call = api.call
    # Find a service.
    found = call("clinic", "GET", "/api/v1/services?q=pantry&accepting=true&per_page=5")
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    assert body["total"] >= 1 and body["page"] == 1 and body["per_page"] == 5
    assert "svc-pantry" in [hit["service_id"] for hit in body["items"]]
    service = call("clinic", "GET", "/api/v1/services/svc-pantry").get_json()
    assert service["id"] == "svc-pantry" and service["organization_id"] == "org-eastside"
    assert call("clinic", "GET", "/api/v1/services/svc-closed").status_code == 404

    # A client, a duplicate check, consent.
    person = {"given_name": "Rosa", "family_name": "Diaz", "date_of_birth": "1975-06-01", "phone": "(415) 555-0101"}
    created = call("clinic", "POST", "/api/v1/clients", json=person)
    assert created.status_code == 201, created.get_json()
    client_id = created.get_json()["id"]
    duplicate = error_contract(call("clinic", "POST", "/api/v1/clients", json=person), 409)
    assert duplicate["errors"]["client_ids"] == [client_id]
    assert call("clinic", "POST", "/api/v1/clients?allow_duplicate=true", json=person).status_code == 201
    patched = call("clinic", "PATCH", f"/api/v1/clients/{client_id}", json={"zip_code": "94110"})
    assert patched.status_code == 200 and patched.get_json()["zip_code"] == "94110"

    referral_body = {"client_id": client_id, "service_id": "svc-pantry", "category": "food-insecurity",
                     "note_to_partner": "Prefers mornings"}
    # Well-formed, but the state of things refuses it: a conflict, not invalid input.
    no_consent = error_contract(call("clinic", "POST", "/api/v1/referrals", json=referral_body,
                                     headers={"Idempotency-Key": "k-0"}), 409)
    assert "consent" in no_consent["errors"] and no_consent["code"] == "conflict"
    consent = call("clinic", "POST", f"/api/v1/clients/{client_id}/consents",
                   json={"receiving_organization_id": "org-eastside", "method": "verbal"})
    assert consent.status_code == 201, consent.get_json()
    assert call("clinic", "GET", f"/api/v1/clients/{client_id}/consents").get_json()["total"] == 1

    # Send, idempotently.
    assert error_contract(call("clinic", "POST", "/api/v1/referrals", json=referral_body), 422)["errors"] \
        == {"Idempotency-Key": ["Missing data for required field."]}
    first = call("clinic", "POST", "/api/v1/referrals", json=referral_body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.get_json()
    assert first.headers["Idempotent-Replayed"] == "false"
    referral = first.get_json()
    assert referral["status"] == "requested" and referral["allowed_transitions"] == ["cancelled",
                                                                                      "entered-in-error"]
    again = call("clinic", "POST", "/api/v1/referrals", json=referral_body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == referral["id"]
    assert count(db, Referral) == 1
    changed = error_contract(call("clinic", "POST", "/api/v1/referrals", json={**referral_body, "priority": "urgent"},
                                  headers={"Idempotency-Key": "k-1"}), 422)
    assert "Idempotency-Key" in changed["errors"]
    assert count(db, Referral) == 1
    rid = referral["id"]

    # The coordinator side lists it; the partner side works it.
    listed = call("clinic", "GET", f"/api/v1/referrals?status=requested&client_id={client_id}").get_json()
    assert [r["id"] for r in listed["items"]] == [rid] and listed["total"] == 1
    inbox = call("partner", "GET", "/api/v1/referrals").get_json()
    assert [r["id"] for r in inbox["items"]] == [rid]
    seen = call("partner", "GET", f"/api/v1/referrals/{rid}").get_json()
    assert seen["first_viewed_at"] is not None and "accepted" in seen["allowed_transitions"]
    assert call("partner", "GET", f"/api/v1/clients/{client_id}").get_json()["family_name"] == "Diaz"
    not_yours = error_contract(call("clinic", "POST", f"/api/v1/referrals/{rid}/transitions",
                                    json={"to": "accepted"}), 403)
    assert not_yours["code"] == "not_permitted"
    accepted = call("partner", "POST", f"/api/v1/referrals/{rid}/transitions",
                    json={"to": "accepted", "note": "We will call", "expected_version": seen["version"]})
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["status"] == "accepted"
    stale = error_contract(call("partner", "POST", f"/api/v1/referrals/{rid}/transitions",
                                json={"to": "in-progress", "expected_version": seen["version"]}), 409)
    assert stale["errors"] == {"current_status": "accepted", "version": accepted.get_json()["version"]}
    wrong_detail = error_contract(call("partner", "POST", f"/api/v1/referrals/{rid}/transitions",
                                       json={"to": "in-progress", "reason_text": "x"}), 422)
    assert "reason_text" in wrong_detail["errors"]
    done = call("partner", "POST", f"/api/v1/referrals/{rid}/transitions",
                json={"to": "completed", "outcome": "got-help", "expected_version": accepted.get_json()["version"]})
    assert done.status_code == 200 and done.get_json()["outcome"] == "got-help"

    # Messages, the timeline, closing the loop.
    posted = call("clinic", "POST", f"/api/v1/referrals/{rid}/messages", json={"body": "Thank you!"})
    assert posted.status_code == 201
    messages = call("partner", "GET", f"/api/v1/referrals/{rid}/messages").get_json()
    assert [m["body"] for m in messages["items"]] == ["Thank you!"]
    assert error_contract(call("partner", "POST", f"/api/v1/referrals/{rid}/close",
                               json={"verified_outcome": "got-help"}), 403)
    closed = call("clinic", "POST", f"/api/v1/referrals/{rid}/close", json={"verified_outcome": "got-help"})
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["loop_closed_at"] and closed.get_json()["closure"]["verified_outcome"] == "got-help"
    events = call("clinic", "GET", f"/api/v1/referrals/{rid}/events?per_page=100").get_json()
    assert [e["to_status"] for e in events["items"] if e["kind"] == "status"] == ["requested", "accepted",
                                                                                  "completed"]
    assert events["items"][-1]["kind"] == "closed"

    # Another organization's tokens see none of it, and cannot tell it exists.
    for who in ("other_clinic", "other_partner"):
        assert error_contract(call(who, "GET", f"/api/v1/referrals/{rid}"), 404)["code"] == "not_found"
        assert call(who, "GET", f"/api/v1/referrals/{rid}/events").status_code == 404
        assert call(who, "GET", f"/api/v1/clients/{client_id}").status_code == 404
        assert call(who, "PATCH", f"/api/v1/clients/{client_id}", json={"zip_code": "94111"}).status_code == 404
        assert call(who, "GET", "/api/v1/referrals").get_json()["total"] == 0
        assert call(who, "GET", "/api/v1/clients").get_json()["total"] == 0
    # Another clinic's client is not found, as its page would be, with the field named.
    assert error_contract(call("other_clinic", "POST", "/api/v1/referrals", json=referral_body,
                               headers={"Idempotency-Key": "k-1"}), 404)["errors"] == {"client_id": ["No such client."]}
    # The actions are the organizations' own, in the audit log.
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"client.create", "consent.record", "referral.send", "referral.transition", "referral.close",
            "api_token.use"} <= actions


def test_partner_updates_its_own_listing(api, db):
    call = api.call
    response = call("partner", "PATCH", "/api/v1/listings/svc-pantry",
                    json={"accepting_referrals": False, "capacity": {"available": 3, "maximum": 10, "unit": "boxes"}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["accepting_referrals"] is False and body["capacity"]["available"] == 3
    found = call("clinic", "GET", "/api/v1/services?q=pantry&accepting=true").get_json()
    assert "svc-pantry" not in [hit["service_id"] for hit in found["items"]]
    bad = error_contract(call("partner", "PATCH", "/api/v1/listings/svc-pantry",
                              json={"capacity": {"available": 11, "maximum": 10}}), 422)
    assert "available" in bad["errors"]["capacity"]
    assert error_contract(call("partner", "PATCH", "/api/v1/listings/svc-pantry", json={}), 422)["errors"]
    for who in ("other_partner", "clinic"):
        assert call(who, "PATCH", "/api/v1/listings/svc-pantry", json={"accepting_referrals": True}).status_code == 404


def test_lists_are_paged(api, db, make_client):
    for n in range(5):
        make_client(given_name=f"Page{n}", family_name="Tester")
    db.session.commit()
    first = api.call("clinic", "GET", "/api/v1/clients?name=tester&per_page=2").get_json()
    assert (first["total"], first["page"], first["per_page"], first["pages"], len(first["items"])) == (5, 1, 2, 3, 2)
    last = api.call("clinic", "GET", "/api/v1/clients?name=tester&per_page=2&page=3").get_json()
    assert len(last["items"]) == 1
    past = api.call("clinic", "GET", "/api/v1/clients?name=tester&per_page=2&page=9").get_json()
    assert past["items"] == [] and past["total"] == 5
    bad = error_contract(api.call("clinic", "GET", "/api/v1/clients?per_page=1000"), 422)
    assert "per_page" in bad["errors"]


def test_search_filters_and_errors(api):
    call = api.call
    ok = call("clinic", "GET", "/api/v1/services?domain=food-insecurity&domain=housing-instability"
                               "&open_day=mon&open_time=09:30&free=false&age=30&language=en&sort=relevance")
    assert ok.status_code == 200, ok.get_json()
    assert set(ok.get_json()) >= {"items", "total", "page", "per_page", "pages", "facets"}
    assert "lon" in error_contract(call("clinic", "GET", "/api/v1/services?lat=37.7"), 422)["errors"]
    assert "near" in error_contract(call("clinic", "GET", "/api/v1/services?sort=distance"), 422)["errors"]
    assert "open_time" in error_contract(call("clinic", "GET", "/api/v1/services?open_day=mon&open_time=25:00"),
                                         422)["errors"]
    near = call("clinic", "GET", "/api/v1/services?lat=37.77&lon=-122.42&radius=5&sort=distance")
    assert near.status_code == 200, near.get_json()


def test_client_validation_uses_the_error_contract(api):
    bad = error_contract(api.call("clinic", "POST", "/api/v1/clients",
                                  json={"given_name": "A", "family_name": "B", "date_of_birth": "2999-01-01",
                                        "contact_preference": "sms"}), 422)
    assert {"date_of_birth", "phone"} <= set(bad["errors"])
    unknown = error_contract(api.call("clinic", "POST", "/api/v1/clients", json={"given_name": "A", "x": 1}), 422)
    assert {"x", "family_name", "date_of_birth"} <= set(unknown["errors"])
    assert error_contract(api.call("clinic", "POST", "/api/v1/clients", data="not json",
                                   headers={"Content-Type": "application/json"}), 400)["code"] == "bad_request"
    # A partner agency does not keep clients.
    assert error_contract(api.call("partner", "POST", "/api/v1/clients",
                                   json={"given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01"}),
                          403)["code"] == "not_permitted"


def test_search_says_what_it_understood_why_each_result_matched_and_crisis_lines(api):
    body = api.call("clinic", "GET", "/api/v1/services?q=no+tengo+para+comer").get_json()
    assert "svc-pantry" in [item["service_id"] for item in body["items"]]
    assert all(item["matched"] for item in body["items"])
    assert any("→ food pantry" in reason for item in body["items"] for reason in item["matched"])
    assert body["understood"][0]["words"] == "no comer" and "food pantry" in body["understood"][0]["means"]
    assert body["crisis_lines"] == []
    crisis = api.call("clinic", "GET", "/api/v1/services?q=my+husband+hits+me").get_json()
    assert crisis["crisis_lines"][0]["name"] == "National Domestic Violence Hotline"
    assert crisis["crisis_lines"][0]["phone"] == "1-800-799-7233"
