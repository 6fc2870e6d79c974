"""FHIR R4 as a partner system uses it with nothing but a token: poll for new Tasks, accept one,
complete another with an outcome, while the clinic sees it and other organizations see nothing.
Every Task, ServiceRequest and Patient parses with fhir.resources (R4B models) and carries the
SDOHCC required elements."""
from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization as FhirOrganization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from sqlalchemy import func, select

from referralnet.api.fhir.ids import fhir_id
from referralnet.api.fhir.resources import SERVICE_REQUEST_PROFILE, TASK_PROFILE
from referralnet.api.tokens import create_api_token
from referralnet.db import utcnow
from referralnet.directory.models import Address, Organization, Phone
from referralnet.audit.models import AuditLog
from referralnet.referrals.models import Referral, ReferralEvent, Status
from tests.referrals.conftest import consent_for, make_client, make_referral, world  # noqa: F401  (fixtures)

ALL = ["directory:read", "referrals:read", "referrals:write"]
FHIR_JSON = "application/fhir+json"


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")


@pytest.fixture()
def fhir(app, db, world, make_referral, make_client):
    """Referrals to Eastside (the partner) and Westside (another partner), committed; a token per
    organization; `call(who, method, path, **kw)` sends only `Authorization: Bearer`."""
    since = utcnow() - timedelta(seconds=1)
    client = make_client(zip_code="94110", email="rosa@example.org", preferred_language="es",
                         contact_preference="sms")
    referrals = SimpleNamespace(
        new=make_referral(Status.REQUESTED, client=client),
        working=make_referral(Status.IN_PROGRESS),
        westside=make_referral(Status.REQUESTED, service=world.housing),
    )
    tokens = {}
    for name, org, scopes in (("partner", world.partner_org, ALL), ("clinic", world.clinic, ALL),
                              ("other_partner", world.other_partner_org, ALL),
                              ("other_clinic", world.other_clinic, ALL),
                              ("partner_read", world.partner_org, ["referrals:read"]),
                              ("directory", world.partner_org, ["directory:read"])):
        _, tokens[name] = create_api_token(world.admin, org, name=f"{name} system", scopes=scopes)
    db.session.commit()

    def call(who: str | None, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if who is not None:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        if "resource" in kwargs:
            kwargs["data"] = json.dumps(kwargs.pop("resource"))
            headers.setdefault("Content-Type", FHIR_JSON)
        return app.test_client(use_cookies=False).open(path, method=method, headers=headers, **kwargs)

    return SimpleNamespace(call=call, referrals=referrals, world=world, since=since, client=client)


def ok(response, status: int = 200) -> dict:
    body = response.get_json(force=True)
    assert response.status_code == status, body
    assert response.mimetype == FHIR_JSON
    return body


def outcome(response, status: int) -> dict:
    body = ok(response, status)
    OperationOutcome.model_validate(body)
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["severity"] == "error"
    return body


def z(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def check_task(resource: dict) -> Task:
    """Parses as R4B and has what the SDOHCC TaskForReferralManagement profile requires."""
    task = Task.model_validate(resource)
    assert resource["meta"]["profile"] == [TASK_PROFILE]
    assert task.intent == "order"
    assert task.code.coding[0].system == "http://hl7.org/fhir/CodeSystem/task-code"
    assert task.code.coding[0].code == "fulfill"
    assert task.focus.reference.startswith("ServiceRequest/")
    assert resource["for"]["reference"].startswith("Patient/")
    assert task.authoredOn and task.lastModified
    assert task.requester.reference.startswith("Organization/rn.")
    assert task.owner.reference.startswith("Organization/")
    assert task.status in {s.value for s in Status}
    assert resource["meta"]["versionId"]
    if task.status in ("rejected", "cancelled", "on-hold", "failed"):
        assert task.statusReason.text, "the profile wants statusReason.text for this status"
    if task.statusReason is not None:
        assert task.statusReason.text
    if task.status in ("completed", "failed"):
        assert task.output and task.output[0].valueCodeableConcept.coding[0].code
    return task


def check_service_request(resource: dict) -> ServiceRequest:
    request = ServiceRequest.model_validate(resource)
    assert resource["meta"]["profile"] == [SERVICE_REQUEST_PROFILE]
    assert request.intent == "order" and request.status and request.code
    assert request.subject.reference.startswith("Patient/")
    assert request.requester.reference.startswith("Organization/rn.")
    assert request.authoredOn
    category = request.category[0].coding[0]
    assert category.system == "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
    assert category.code == "food-insecurity" or category.code == "housing-instability"
    assert {p.reference.split("/")[0] for p in request.performer} == {"HealthcareService", "Organization"}
    assert request.supportingInfo[0].reference == "#consent"
    assert resource["contained"][0]["resourceType"] == "Consent"
    return request


def put_task(call, who: str, task: dict, version, **changes):
    body = {**task, **changes}
    headers = {"If-Match": f'W/"{version}"'} if version is not None else {}
    return call(who, "PUT", f"/fhir/Task/{task['id']}", resource=body, headers=headers)


# --- conformance --------------------------------------------------------------------------------------

def test_metadata_needs_no_token_and_lists_what_we_support(fhir):
    body = ok(fhir.call(None, "GET", "/fhir/metadata"))
    statement = CapabilityStatement.model_validate(body)
    assert statement.fhirVersion == "4.0.1"
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {"Task", "ServiceRequest", "Patient", "Organization", "HealthcareService", "Location"} <= set(resources)
    assert resources["Task"]["searchInclude"] == ["Task:focus"]
    assert {"update", "read", "search-type"} <= {i["code"] for i in resources["Task"]["interaction"]}
    assert "_lastUpdated" in {p["name"] for p in resources["Task"]["searchParam"]}
    assert ok(fhir.call(None, "GET", "/fhir/metadata?_format=json"))["resourceType"] == "CapabilityStatement"
    outcome(fhir.call(None, "GET", "/fhir/metadata?_format=xml"), 406)
    CodeSystem.model_validate(ok(fhir.call(None, "GET", "/fhir/CodeSystem/referral-status-reason")))
    outcome(fhir.call(None, "GET", "/fhir/Nothing/1"), 404)
    outcome(fhir.call("partner", "DELETE", f"/fhir/Task/{fhir.referrals.new.id}"), 405)


def test_a_token_is_required_and_scopes_apply(fhir):
    response = fhir.call(None, "GET", "/fhir/Task")
    outcome(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    outcome(fhir.call("directory", "GET", "/fhir/Task"), 403)
    outcome(fhir.call("partner_read", "GET", "/fhir/Organization/org-eastside"), 403)
    task = ok(fhir.call("partner_read", "GET", f"/fhir/Task/{fhir.referrals.new.id}"))
    outcome(put_task(fhir.call, "partner_read", task, 1, status="accepted"), 403)


# --- the partner's loop ---------------------------------------------------------------------------------

def test_partner_polls_accepts_and_completes_and_the_clinic_sees_it(fhir, db):
    call, r = fhir.call, fhir.referrals
    # Poll for new and changed Tasks assigned to us, with their ServiceRequests.
    poll = ok(call("partner", "GET", f"/fhir/Task?owner=Organization/org-eastside&_lastUpdated=gt{z(fhir.since)}"
                                     "&_include=Task:focus"))
    Bundle.model_validate(poll)
    assert poll["type"] == "searchset" and poll["total"] == 2
    matches = [e for e in poll["entry"] if e["search"]["mode"] == "match"]
    included = [e for e in poll["entry"] if e["search"]["mode"] == "include"]
    assert sorted(int(e["resource"]["id"]) for e in matches) == sorted([r.new.id, r.working.id])
    assert {e["resource"]["resourceType"] for e in included} == {"ServiceRequest"}
    for entry in matches:
        check_task(entry["resource"])
        assert entry["fullUrl"] == f"http://localhost/fhir/Task/{entry['resource']['id']}"
    for entry in included:
        check_service_request(entry["resource"])
    assert poll["link"][0]["relation"] == "self"
    # The IG's spelling (_lastupdated) and an absolute owner URL work too; nothing newer than now.
    later = z(utcnow() + timedelta(seconds=5))
    empty = ok(call("partner", "GET", f"/fhir/Task?owner=http://localhost/fhir/Organization/org-eastside"
                                      f"&_lastupdated=gt{later}"))
    assert empty["total"] == 0 and "entry" not in empty

    # Accept the new one: read (ETag), PUT with If-Match.
    read = call("partner", "GET", f"/fhir/Task/{r.new.id}")
    task = ok(read)
    assert read.headers["ETag"] == 'W/"1"' and task["meta"]["versionId"] == "1"
    before_accept = utcnow()
    accepted = put_task(call, "partner", task, 1, status="accepted")
    body = ok(accepted)
    check_task(body)
    assert body["status"] == "accepted" and accepted.headers["ETag"] == 'W/"2"'
    # A poll since then finds exactly that change.
    changed = ok(call("partner", "GET", f"/fhir/Task?owner=Organization/org-eastside&_lastUpdated=gt{z(before_accept)}"))
    assert [e["resource"]["id"] for e in changed["entry"]] == [str(r.new.id)]

    # Complete the one in progress, with an outcome in output.
    task = ok(call("partner", "GET", f"/fhir/Task/{r.working.id}"))
    system = "http://localhost/fhir/CodeSystem/"
    output = [{"type": {"coding": [{"system": system + "referral-task-output-type", "code": "outcome"}]},
               "valueCodeableConcept": {"coding": [{"system": system + "referral-outcome", "code": "got-help"}]}}]
    done = ok(put_task(call, "partner", task, task["meta"]["versionId"], status="completed", output=output))
    check_task(done)
    assert done["status"] == "completed" and done["output"][0]["valueCodeableConcept"]["text"] == "Got help"

    # The clinic's side: the database, the timeline, and the clinic's own system.
    db.session.expire_all()
    assert db.session.get(Referral, r.new.id).status == "accepted"
    finished = db.session.get(Referral, r.working.id)
    assert (finished.status, finished.outcome) == ("completed", "got-help")
    moves = db.session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id.in_([r.new.id, r.working.id]),
                                                           ReferralEvent.kind == "status")).all()
    assert {(e.to_status, e.actor_kind) for e in moves} == {("accepted", "partner"), ("completed", "partner")}
    clinic = ok(call("clinic", "GET", f"/fhir/Task?requester=Organization/rn.{fhir.world.clinic.id}"
                                      "&status=accepted,completed"))
    assert {e["resource"]["status"] for e in clinic["entry"]} == {"accepted", "completed"}
    # An idempotent repeat of the same PUT (fresh version) changes nothing.
    again = ok(put_task(call, "partner", done, done["meta"]["versionId"]))
    assert again["meta"]["versionId"] == done["meta"]["versionId"]


def test_other_organizations_cannot_read_or_change_a_task(fhir, db):
    call, r = fhir.call, fhir.referrals
    task = ok(call("partner", "GET", f"/fhir/Task/{r.new.id}"))
    for who in ("other_partner", "other_clinic"):
        outcome(call(who, "GET", f"/fhir/Task/{r.new.id}"), 404)
        outcome(call(who, "GET", f"/fhir/ServiceRequest/{r.new.id}"), 404)
        outcome(call(who, "GET", f"/fhir/Patient/{r.new.client_id}"), 404)
        outcome(put_task(call, who, task, 1, status="accepted"), 404)
        found = ok(call(who, "GET", "/fhir/Task?owner=Organization/org-eastside"))
        assert found["total"] == 0
    outcome(call("partner", "GET", f"/fhir/Task/{r.westside.id}"), 404)
    db.session.expire_all()
    assert db.session.get(Referral, r.new.id).status == "requested"


def test_stale_or_missing_if_match_changes_nothing(fhir, db):
    call, r = fhir.call, fhir.referrals
    task = ok(call("partner", "GET", f"/fhir/Task/{r.new.id}"))
    events = db.session.scalar(select(func.count()).select_from(ReferralEvent))
    stale = put_task(call, "partner", task, 7, status="accepted")
    body = outcome(stale, 412)
    assert body["issue"][0]["code"] == "conflict" and stale.headers["ETag"] == 'W/"1"'
    outcome(put_task(call, "partner", task, None, status="accepted"), 428)
    db.session.expire_all()
    referral = db.session.get(Referral, r.new.id)
    assert (referral.status, referral.version) == ("requested", 1)
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent)) == events
    # The clinic cancels meanwhile; the partner's accept from its old read is refused (412).
    clinic_task = ok(call("clinic", "GET", f"/fhir/Task/{r.new.id}"))
    ok(put_task(call, "clinic", clinic_task, 1, status="cancelled", statusReason={"text": "Client asked to cancel"}))
    outcome(put_task(call, "partner", task, 1, status="accepted"), 412)
    db.session.expire_all()
    referral = db.session.get(Referral, r.new.id)
    assert (referral.status, referral.status_reason_code) == ("cancelled", "client-request")


def test_put_follows_the_referral_rules(fhir, db):
    call, r = fhir.call, fhir.referrals
    task = ok(call("partner", "GET", f"/fhir/Task/{r.new.id}"))
    # Only status, statusReason and output may change.
    body = outcome(put_task(call, "partner", task, 1, status="accepted", priority="stat"), 422)
    assert "priority" in body["issue"][0]["diagnostics"]
    outcome(put_task(call, "partner", task, 1, status="accepted",
                     owner={"reference": "Organization/org-westside"}), 422)
    outcome(call("partner", "PUT", f"/fhir/Task/{r.new.id}", resource={**task, "id": "999", "status": "accepted"},
                 headers={"If-Match": 'W/"1"'}), 400)
    outcome(call("partner", "PUT", f"/fhir/Task/{r.new.id}", data="{not json", headers={
        "If-Match": 'W/"1"', "Content-Type": FHIR_JSON}), 400)
    outcome(call("partner", "PUT", f"/fhir/Task/{r.new.id}", data="<Task/>", headers={
        "If-Match": 'W/"1"', "Content-Type": "application/fhir+xml"}), 415)
    # Not the partner's move, not allowed from requested, a reason missing, an unknown status.
    outcome(put_task(call, "clinic", ok(call("clinic", "GET", f"/fhir/Task/{r.new.id}")), 1, status="accepted"), 403)
    assert outcome(put_task(call, "partner", task, 1, status="completed"), 422)["issue"][0]["code"] == "business-rule"
    missing = outcome(put_task(call, "partner", task, 1, status="rejected"), 422)
    assert any(i.get("expression") == ["Task.statusReason"] for i in missing["issue"])
    outcome(put_task(call, "partner", task, 1, status="draft"), 422)
    outcome(put_task(call, "partner", task, 1, status="accepted", statusReason={"text": "why not"}), 422)
    # Reject with free text only: "other" with that text; statusReason.text comes back.
    rejected = ok(put_task(call, "partner", task, 1, status="rejected", statusReason={"text": "Moved away"}))
    check_task(rejected)
    assert rejected["statusReason"]["text"] == "Other: Moved away"
    assert rejected["statusReason"]["coding"][0]["code"] == "other"
    db.session.expire_all()
    referral = db.session.get(Referral, r.new.id)
    assert (referral.status, referral.status_reason_code, referral.status_reason_text) == \
        ("rejected", "other", "Moved away")


@pytest.mark.parametrize("status", [s for s in Status])
def test_every_status_renders_a_valid_task_and_service_request(fhir, make_referral, db, status):
    referral = make_referral(status)
    db.session.commit()
    task = ok(fhir.call("partner", "GET", f"/fhir/Task/{referral.id}"))
    check_task(task)
    assert task["status"] == status.value
    check_service_request(ok(fhir.call("partner", "GET", f"/fhir/ServiceRequest/{referral.id}")))


# --- patients, search parameters, directory ------------------------------------------------------------

def test_patient_read_is_scoped_and_audited(fhir, db):
    call, r = fhir.call, fhir.referrals
    body = ok(call("partner", "GET", f"/fhir/Patient/{r.new.client_id}"))
    patient = Patient.model_validate(body)
    assert patient.name[0].family == fhir.client.family_name and patient.birthDate == fhir.client.date_of_birth
    assert body["address"] == [{"postalCode": "94110"}]
    assert body["communication"][0]["language"]["coding"][0]["code"] == "es"
    assert {t["system"] for t in body["telecom"]} == {"phone", "sms", "email"}
    views = db.session.scalars(select(AuditLog).where(AuditLog.action == "client.view",
                                                      AuditLog.object_id == str(r.new.client_id))).all()
    assert len(views) == 1
    outcome(call("partner", "GET", "/fhir/Patient/not-a-number"), 404)


@pytest.mark.parametrize("query", [
    "_lastUpdated=gtbanana", "_lastUpdated=sa2026-01-01", "_lastUpdated=gt2026-13-01", "_count=abc", "_count=1000",
    "_page=0", "foo=bar", "status=bogus", "_include=Task:patient", "_sort=priority", "owner:missing=true",
])
def test_bad_search_parameters_are_400(fhir, query):
    body = outcome(fhir.call("partner", "GET", f"/fhir/Task?{query}"), 400)
    assert body["issue"][0]["code"] == "invalid"


def test_search_paging_and_service_request_search(fhir, make_referral, db):
    call = fhir.call
    for _ in range(3):
        make_referral(Status.REQUESTED)
    db.session.commit()
    first = ok(call("partner", "GET", "/fhir/Task?_count=2&status=requested"))
    assert first["total"] == 4 and len(first["entry"]) == 2
    links = {link["relation"]: link["url"] for link in first["link"]}
    second = ok(call("partner", "GET", links["next"].replace("http://localhost", "")))
    assert len(second["entry"]) == 2 and "next" not in {link["relation"] for link in second["link"]}
    seen = [e["resource"]["id"] for e in first["entry"] + second["entry"]]
    assert len(set(seen)) == 4
    counted = ok(call("partner", "GET", "/fhir/Task?_count=0"))
    assert counted["total"] == 5 and "entry" not in counted

    found = ok(call("clinic", "GET", f"/fhir/ServiceRequest?subject=Patient/{fhir.referrals.new.client_id}"
                                     f"&category=food-insecurity&status=active&_lastUpdated=ge{z(fhir.since)}"))
    assert [e["resource"]["id"] for e in found["entry"]] == [str(fhir.referrals.new.id)]
    for entry in found["entry"]:
        check_service_request(entry["resource"])
    sdoh = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
    assert ok(call("clinic", "GET", f"/fhir/ServiceRequest?category={sdoh}|food-insecurity"))["total"] == 6
    assert ok(call("clinic", "GET", "/fhir/ServiceRequest?category=http://other|food-insecurity"))["total"] == 0
    assert ok(call("clinic", "GET", "/fhir/ServiceRequest?category=housing-instability"))["total"] == 0
    outcome(call("clinic", "GET", "/fhir/ServiceRequest?status=requested"), 400)


def test_directory_reads(fhir, db):
    call, w = fhir.call, fhir.world
    db.session.add(Address(id="addr-eastside", location_id="loc-eastside", address_1="1 Main St", city="San Mateo",
                           state_province="CA", postal_code="94401", country="US"))
    db.session.add(Phone(id="ph-eastside", organization_id="org-eastside", number="650-555-0100"))
    odd = Organization(id="urn:odd id/with:colons", name="Odd Ids Inc", description="imported")
    db.session.add(odd)
    db.session.commit()
    org = ok(call("directory", "GET", "/fhir/Organization/org-eastside"))
    FhirOrganization.model_validate(org)
    assert org["name"] == "Eastside Food Bank" and org["telecom"][0]["value"] == "650-555-0100"
    member = ok(call("directory", "GET", f"/fhir/Organization/rn.{w.clinic.id}"))
    assert member["name"] == "Mission Clinic"
    mapped = fhir_id(odd.id)
    assert mapped.startswith("h.")
    assert ok(call("directory", "GET", f"/fhir/Organization/{mapped}"))["identifier"][0]["value"] == odd.id
    service = ok(call("directory", "GET", "/fhir/HealthcareService/svc-pantry"))
    HealthcareService.model_validate(service)
    assert service["providedBy"]["reference"] == "Organization/org-eastside"
    assert service["location"] == [{"reference": "Location/loc-eastside"}]
    closed = ok(call("directory", "GET", "/fhir/HealthcareService/svc-closed"))
    assert closed["active"] is False
    location = ok(call("directory", "GET", "/fhir/Location/loc-eastside"))
    FhirLocation.model_validate(location)
    assert location["address"]["postalCode"] == "94401"
    outcome(call("directory", "GET", "/fhir/Organization/nope"), 404)
    outcome(call("directory", "GET", "/fhir/Location/h.0000"), 404)


def test_a_page_of_tasks_costs_the_same_queries_however_many_clinics_sent_them(fhir, make_referral, db):
    """Each Task names its requester (the sending clinic) and owner: loaded with the page, not per Task."""
    from tests.conftest import counted_queries

    from tests import factories as f

    def statements_for_a_page() -> tuple[int, int]:
        with counted_queries(db.engine) as statements:
            page = ok(fhir.call("partner", "GET", "/fhir/Task?status=requested&_count=50"))
        requesters = {e["resource"]["requester"]["reference"] for e in page["entry"]}
        for entry in page["entry"]:
            check_task(entry["resource"])
        return len(statements), len(requesters)

    statements_for_a_page()  # the token's first use is audited: not part of what is compared
    few, clinics_before = statements_for_a_page()
    for n in range(5):
        clinic = f.network_org(db.session, f"Clinic {n}", "referrer")
        make_referral(Status.REQUESTED, sending_org=clinic)
    db.session.commit()
    many, clinics_after = statements_for_a_page()
    assert clinics_after == clinics_before + 5
    assert many == few
