"""The APIs say how each referral reached its agency: a REST field, a FHIR Task extension
(Task.owner stays the receiving directory organization on every route)."""
from __future__ import annotations

from fhir.resources.R4B.codesystem import CodeSystem

from referralnet.api.fhir.ids import fhir_id
from referralnet.referrals.models import Referral
from tests.api.test_fhir import _generous_rate_limit, check_task, fhir, ok  # noqa: F401  (fixtures)
from tests.api.test_v1_flow import api, error_contract  # noqa: F401  (fixture)
from tests.referrals.conftest import consent_for, make_client, make_referral, world  # noqa: F401  (fixtures)


def _route(db, referral: Referral, route: str, email: str | None = None) -> None:
    referral.delivery_route, referral.agency_email = route, email
    db.session.commit()


def test_fhir_task_says_how_it_was_delivered_and_keeps_the_owner(db, fhir, make_referral):
    w = fhir.world
    link = make_referral(service=w.unlisted_service)
    tracked = make_referral(service=w.unlisted_service)
    _route(db, link, "link", "intake@unlisted.example.org")
    _route(db, tracked, "tracked")
    for referral, code in ((fhir.referrals.new, "network"), (link, "link"), (tracked, "tracked")):
        body = ok(fhir.call("clinic", "GET", f"/fhir/Task/{referral.id}"))
        task = check_task(body)
        [extension] = task.extension
        assert extension.url.endswith("/StructureDefinition/referral-delivery-route")
        assert extension.valueCoding.code == code and extension.valueCoding.system.endswith(
            "/CodeSystem/referral-delivery-route")
        assert task.owner.reference == f"Organization/{fhir_id(referral.receiving_organization_id)}"
    system = ok(fhir.call("clinic", "GET", "/fhir/CodeSystem/referral-delivery-route"))
    CodeSystem.model_validate(system)
    assert {c["code"] for c in system["concept"]} == {"network", "link", "tracked"}


def test_rest_sends_on_each_route_and_reports_it(api, db):
    call, w = api.call, api.world
    w.unlisted.email = "intake@unlisted.example.org"
    db.session.commit()
    person = call("clinic", "POST", "/api/v1/clients", json={"given_name": "Ana", "family_name": "Ruiz",
                                                             "date_of_birth": "1980-01-02"}).get_json()
    for org in ("org-eastside", "org-unlisted"):
        assert call("clinic", "POST", f"/api/v1/clients/{person['id']}/consents",
                    json={"receiving_organization_id": org, "method": "verbal"}).status_code == 201
    body = {"client_id": person["id"], "category": "food-insecurity"}

    network = call("clinic", "POST", "/api/v1/referrals", json={**body, "service_id": "svc-pantry"},
                   headers={"Idempotency-Key": "r-1"}).get_json()
    assert (network["delivery_route"], network["agency_email"]) == ("network", None)
    link = call("clinic", "POST", "/api/v1/referrals", json={**body, "service_id": "svc-unlisted"},
                headers={"Idempotency-Key": "r-2"}).get_json()
    assert (link["delivery_route"], link["agency_email"]) == ("link", "intake@unlisted.example.org")
    cancelled = call("clinic", "POST", f"/api/v1/referrals/{link['id']}/transitions",
                     json={"to": "cancelled", "reason": "duplicate", "expected_version": link["version"]})
    assert cancelled.status_code in (200, 201), cancelled.get_json()
    tracked = call("clinic", "POST", "/api/v1/referrals",
                   json={**body, "service_id": "svc-unlisted", "delivery_route": "tracked"},
                   headers={"Idempotency-Key": "r-3"}).get_json()
    assert (tracked["delivery_route"], tracked["agency_email"]) == ("tracked", None)
    bad = error_contract(call("clinic", "POST", "/api/v1/referrals",
                              json={**body, "service_id": "svc-unlisted", "delivery_route": "pigeon"},
                              headers={"Idempotency-Key": "r-4"}), 422)
    assert "delivery_route" in bad["errors"]
