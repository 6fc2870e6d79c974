"""schemathesis against /api/v1/openapi.json, with every check it has.

Every operation is a test of its own (`schema.parametrize()`), run through schemathesis'
examples, coverage and fuzzing phases in positive and negative modes, and each response
goes through all of schemathesis' checks: no server error; only documented status codes,
content types and headers, with bodies matching the document; schema-valid input accepted
and schema-violating input refused; `Allow` on a 405 for an undeclared method; a missing
required header refused. The stateful test then chains operations through the document's
links (create a client, read it, record consent...), with the checks that need that.

Deterministic and bounded: a fixed seed, Hypothesis derandomized, a few examples per
operation. `RULES_JSON_SCHEMA_CANNOT_STATE` keeps generated valid input inside the rules
the document can only say in words; each of those rules has its own test below.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from tests.api.test_v1_flow import api, error_contract  # noqa: F401  (fixture)
from tests.referrals.conftest import consent_for, make_client, world  # noqa: F401  (fixtures)

load_all_checks()
ALL_CHECKS = CHECKS.get_all()
CONFIG = {
    "seed": 16,
    "generation": {"mode": "all", "max-examples": 12, "allow-x00": False},
}
# A known place for searches (the world's agencies are around it) and a real date.
PLACE = "94063"


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis' pytest plugin renames the test per operation through `_nodeid`, which pytest 9
    no longer has: give it one."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


SEEN: dict[str, set[int]] = {}


@pytest.fixture()
def api_schema(app, api):
    SEEN.clear()
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))
    # The run reached the operations' real work, not only their refusals.
    assert len(SEEN) >= 18, sorted(SEEN)
    for label, status in (("GET /api/v1/services", 200), ("GET /api/v1/referrals", 200),
                          ("POST /api/v1/clients", 201), ("PATCH /api/v1/clients/{client_id}", 200),
                          ("PATCH /api/v1/listings/{service_id}", 200)):
        assert status in SEEN[label], (label, SEEN[label])
    assert 405 in set().union(*SEEN.values())


schema = schemathesis.pytest.from_fixture("api_schema")


def keep_to_the_rules_in_words(case) -> None:
    """Rules the document states in its descriptions because JSON Schema cannot: applied to the
    generated *valid* input only (a negative case stays as generated). Each has a test below."""
    if not case.meta.generation.mode.is_positive:
        return
    label = case.operation.label
    if label == "GET /api/v1/services" and case.query:
        query = case.query
        if "near" in query:  # "a place the geocoder finds"
            query["near"] = PLACE
        has_place = "near" in query or "point" in query or "lat" in query
        if not has_place and ("radius" in query or query.get("sort") == "distance"):  # "needs near or lat/lon"
            query["near"] = PLACE
    body = case.body if isinstance(case.body, dict) else None
    if body and "date_of_birth" in body:  # "not in the future"
        born = date.fromisoformat(body["date_of_birth"])
        if born > date.today():
            body["date_of_birth"] = (born - timedelta(days=366)).isoformat()
    capacity = body.get("capacity") if body else None
    if isinstance(capacity, dict):  # "available not above maximum"
        if isinstance(capacity.get("available"), int) and isinstance(capacity.get("maximum"), int) \
                and capacity["available"] > capacity["maximum"]:
            capacity["available"], capacity["maximum"] = capacity["maximum"], capacity["available"]


@schema.parametrize()
@settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_operation_conforms_to_the_document(case, api, app):
    keep_to_the_rules_in_words(case)
    if case.meta.generation.mode.is_positive and "client_id" in (case.path_parameters or {}):
        # A client that exists: ids start at 1 on SQLite after each test's clean-up, but PostgreSQL's
        # sequences keep counting, so a generated small id would only ever be "not found" there.
        from sqlalchemy import func, select

        from referralnet.extensions import db as _db
        from referralnet.referrals.models import Client

        with app.app_context():
            newest = _db.session.scalar(select(func.max(Client.id)))
        if newest is not None and isinstance(case.path_parameters["client_id"], int):
            case.path_parameters["client_id"] = newest
    token = api.tokens["partner" if "/listings/" in case.path else "clinic"]
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=ALL_CHECKS)
    SEEN.setdefault(case.operation.label, set()).add(response.status_code)


# --- what the run relies on, said directly ---------------------------------------------------------

def test_every_operation_lists_the_errors_it_can_answer(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    operations = [(path, method, op) for path, item in document["paths"].items()
                  for method, op in item.items() if method in ("get", "post", "patch", "put", "delete")]
    assert len(operations) >= 18
    for path, method, op in operations:
        codes = set(op["responses"])
        assert "default" not in codes, (method, path)
        assert {"401", "403", "422", "429"} <= codes, (method, path, codes)
        assert ("404" in codes) == ("{" in path) or method == "post" and path == "/api/v1/referrals", (method, path)
        if "requestBody" in op:
            assert "400" in codes, (method, path)
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                name = response["$ref"].rsplit("/", 1)[1] if "$ref" in response else None
                content = (document["components"]["responses"][name] if name else response)["content"]
                assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    responses = document["components"]["responses"]
    assert responses["Unauthorized"]["headers"]["WWW-Authenticate"]["required"] is True
    assert responses["TooManyRequests"]["headers"]["Retry-After"]["required"] is True


def test_an_undeclared_method_is_405_with_allow(api):
    for method, path, allowed in (("DELETE", "/api/v1/clients/1", {"GET", "PATCH"}),
                                  ("PUT", "/api/v1/referrals", {"GET", "POST"}),
                                  ("TRACE", "/api/v1/services", {"GET"})):
        response = api.call("clinic", method, path)
        body = error_contract(response, 405)
        assert body["code"] == "method_not_allowed"
        assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}, response.headers


def test_patch_without_a_body_or_with_an_empty_one_is_422(api, db, make_client):
    client_id = make_client().id
    db.session.commit()
    for who, path in (("clinic", f"/api/v1/clients/{client_id}"), ("partner", "/api/v1/listings/svc-pantry")):
        for kwargs in ({}, {"json": {}}, {"data": "", "headers": {"Content-Type": "application/json"}}):
            body = error_contract(api.call(who, "PATCH", path, **kwargs), 422)
            assert body["errors"]["body"][0].startswith("Send at least one of:"), body
    assert api.call("partner", "PATCH", "/api/v1/listings/svc-pantry", data="{", headers={
        "Content-Type": "application/json"}).status_code == 400


def test_unknown_query_parameters_are_refused_naming_them(api):
    for path in ("/api/v1/referrals?colour=blue", "/api/v1/services?q=food&colour=blue",
                 "/api/v1/services/svc-pantry?colour=blue", "/api/v1/referrals/1/events?colour=blue"):
        body = error_contract(api.call("clinic", "GET", path), 422)
        assert list(body["errors"]) == ["colour"], (path, body)


@pytest.mark.parametrize("body,field", [
    ({"date_of_birth": (date.today() + timedelta(days=1)).isoformat()}, "date_of_birth"),
    ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
    ({"contact_preference": "sms"}, "phone"),
    ({"contact_preference": "email"}, "email"),
    ({"phone": "555-0101"}, "phone"),
    ({"phone": "(415) 555-0101 "}, "phone"),
    ({"email": "not-an-address"}, "email"),
    ({"zip_code": " 94110"}, "zip_code"),
    ({"given_name": "   "}, "given_name"),
    ({"preferred_language": "english"}, "preferred_language"),
])
def test_client_rules_are_422_naming_the_field(api, body, field):
    person = {"given_name": "Ana", "family_name": "Ruiz", "date_of_birth": "1980-04-23", **body}
    assert field in error_contract(api.call("clinic", "POST", "/api/v1/clients", json=person), 422)["errors"]


def test_clearing_a_contact_detail_says_how_to_contact_instead(api):
    created = api.call("clinic", "POST", "/api/v1/clients", json={
        "given_name": "Ana", "family_name": "Ruiz", "date_of_birth": "1980-04-23", "phone": "(650) 555-0101",
        "contact_preference": "sms"}).get_json()
    path = f"/api/v1/clients/{created['id']}"
    assert "phone" in error_contract(api.call("clinic", "PATCH", path, json={"phone": None}), 422)["errors"]
    cleared = api.call("clinic", "PATCH", path, json={"phone": None, "contact_preference": "do-not-contact"})
    assert cleared.status_code == 200 and cleared.get_json()["phone"] is None


def test_search_rules_in_words_are_422_naming_the_parameter(api):
    for query, name in (("radius=5", "near"), ("sort=distance", "near"), ("lat=37.5", "lon"),
                        ("open_day=mon", "open_time"), ("near=Atlantis%2C%20XX", "near")):
        assert name in error_contract(api.call("clinic", "GET", f"/api/v1/services?{query}"), 422)["errors"], query
    assert api.call("clinic", "GET", "/api/v1/services?near=94063&radius=5&sort=distance").status_code == 200


def test_a_429_says_when_to_retry(app, api):
    from referralnet.extensions import limiter

    limiter.reset()
    app.config["API_RATE_LIMIT"] = "2 per minute"
    responses = [api.call("read_only", "GET", "/api/v1/referrals") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    error_contract(responses[2], 429)
    assert 1 <= int(responses[2].headers["Retry-After"]) <= 61  # the rest of the minute, rounded up
    limiter.reset()
