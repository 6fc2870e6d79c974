"""schemathesis against /api/v1/openapi.json: generated requests to every operation, with a valid
token, never get a server error and every response matches the document (status, type, body)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.api.test_v1_flow import api  # noqa: F401  (fixture)
from tests.referrals.conftest import consent_for, make_client, world  # noqa: F401  (fixtures)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")


def test_api_conforms_to_its_openapi_document(app, api):
    """Each operation in turn (its own Hypothesis run, a few examples each: well under a minute)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api.tokens['clinic']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    seen: dict[str, set[int]] = {}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            seen.setdefault(operation.label, set()).add(response.status_code)

        run()
    # The run reached the operations' real work, not only their refusals.
    assert 200 in seen["GET /api/v1/services"] and 200 in seen["GET /api/v1/referrals"]
    assert 201 in seen["POST /api/v1/clients"], seen
