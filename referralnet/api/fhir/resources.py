"""Builders: our rows as FHIR R4 resources (plain dicts; `common.fhir_response` drops empty elements).

Mapping decisions (README "FHIR" has the operator's version):

- One referral is one SDOHCC Task (`Task/<referral id>`) *and* one SDOHCC ServiceRequest
  (`ServiceRequest/<referral id>`, the Task's focus). Both have `meta.versionId` = the
  referral's optimistic-lock version and `meta.lastUpdated` = its `updated_at` (= Task.lastModified).
- Task.status is our status as it is (our statuses are the SDOHCC referral task value set).
  ServiceRequest.status is the request's side: active while the referral is open, completed when
  completed, revoked when rejected, failed or cancelled, entered-in-error as such.
- Task.requester is the sending member organization (`Organization/rn.<id>`); Task.owner and
  ServiceRequest.performer are the receiving directory organization (and HealthcareService).
- Status reasons, outcomes and business statuses are coded in CodeSystems this server publishes
  at `<base>/CodeSystem/<id>` (each deployment is the authority for its own codes). statusReason.text
  is always present with a reason (the profile's rule): the reason's label, then ": " and the
  free text if there is one.
- Task.output (completed and failed) carries the partner's outcome: type `referral-task-output-type#outcome`,
  valueCodeableConcept `referral-outcome#<got-help|partly|did-not-get-help>`. The profile's output
  slices (resulting-activity Procedure) are open slices we do not fill: we record no procedures.
- Task.businessStatus: `loop-closed` (the coordinator verified the result), else `response-overdue`
  (still requested past the response due time), else `viewed` (the agency opened it).
- How the referral reached the receiving agency (Task.owner is the directory organization on every
  route): a Task extension `<base>/StructureDefinition/referral-delivery-route` whose valueCoding
  is `referral-delivery-route#<network|link|tracked>` — the member agency's inbox, a secure link
  emailed to an agency outside the network, or tracked by the coordinator (no electronic contact).
- The consent is contained in the ServiceRequest (supportingInfo `#consent`).
- No names in references (no `display` of the patient): patient details only through Patient read,
  which is audited.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from referralnet.accounts.models import NetworkOrganization, OrgKind
from referralnet.api.fhir.common import base_url, instant
from referralnet.api.fhir.ids import fhir_id, network_fhir_id
from referralnet.db import utcnow
from referralnet.directory import models as m
from referralnet.directory.sdoh import sdoh_terms
from referralnet.referrals.models import Client, Consent, Referral, Status
from referralnet.referrals.states import OUTCOME_LABELS, REASON_LABELS

TASK_PROFILE = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"
SERVICE_REQUEST_PROFILE = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ServiceRequest"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
SDOHCC_CODES = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
SNOMED = "http://snomed.info/sct"
BCP47 = "urn:ietf:bcp:47"

VERIFIED_OUTCOME_LABELS = {**OUTCOME_LABELS, "could-not-reach": "Could not reach the client"}
DELIVERY_ROUTE_LABELS = {
    "network": "In the network: sent to the member agency's inbox",
    "link": "By secure link: emailed to an agency outside the network, which works it without an account",
    "tracked": "Tracked by the coordinator: the agency has no electronic contact",
}
DELIVERY_ROUTE_EXTENSION = "StructureDefinition/referral-delivery-route"
BUSINESS_STATUS_LABELS = {"viewed": "Viewed by the receiving agency",
                          "response-overdue": "Response overdue", "loop-closed": "Loop closed"}

# Our CodeSystems: id -> (title, description, {code: display}).
CODE_SYSTEMS: dict[str, tuple[str, str, dict[str, str]]] = {
    "referral-status-reason": ("Referral status reasons",
                               "Why a referral was rejected, put on hold, cancelled or failed.", REASON_LABELS),
    "referral-outcome": ("Referral outcomes", "What the receiving agency reports when it completes or fails "
                                              "a referral, and what the coordinator verifies when closing the loop.",
                         VERIFIED_OUTCOME_LABELS),
    "referral-task-output-type": ("Referral task output types", "Kinds of Task.output this server writes.",
                                  {"outcome": "Outcome"}),
    "referral-business-status": ("Referral business statuses", "Finer states than Task.status.",
                                 BUSINESS_STATUS_LABELS),
    "referral-delivery-route": ("Referral delivery routes", "How a referral reached the receiving agency.",
                                DELIVERY_ROUTE_LABELS),
}

SERVICE_REQUEST_STATUS = {
    Status.REQUESTED: "active", Status.ACCEPTED: "active", Status.IN_PROGRESS: "active", Status.ON_HOLD: "active",
    Status.COMPLETED: "completed", Status.REJECTED: "revoked", Status.FAILED: "revoked",
    Status.CANCELLED: "revoked", Status.ENTERED_IN_ERROR: "entered-in-error",
}


def code_system_url(code_system_id: str) -> str:
    return f"{base_url()}/CodeSystem/{code_system_id}"


def delivery_route_extension_url() -> str:
    return f"{base_url()}/{DELIVERY_ROUTE_EXTENSION}"


def coding(code_system_id: str, code: str) -> dict:
    return {"system": code_system_url(code_system_id), "code": code,
            "display": CODE_SYSTEMS[code_system_id][2].get(code, code)}


def _meta(version: Optional[int], updated: datetime, profile: Optional[str] = None) -> dict:
    return {"versionId": str(version) if version is not None else None, "lastUpdated": instant(updated),
            "profile": [profile] if profile else None}


def organization_reference(directory_organization_id: str, name: Optional[str] = None) -> dict:
    return {"reference": f"Organization/{fhir_id(directory_organization_id)}", "display": name}


def member_reference(organization: NetworkOrganization) -> dict:
    return {"reference": f"Organization/{network_fhir_id(organization.id)}", "display": organization.name}


# --- referrals -------------------------------------------------------------------------------------

def status_reason_text(referral: Referral) -> Optional[str]:
    """statusReason.text: the reason's label, and the free text after ": " (free text alone without a code)."""
    label = REASON_LABELS.get(referral.status_reason_code or "")
    text = referral.status_reason_text
    if label and text:
        return f"{label}: {text}"
    return label or text


def business_status(referral: Referral, now: Optional[datetime] = None) -> Optional[dict]:
    if referral.loop_closed_at is not None:
        verified = referral.closure.verified_outcome if referral.closure else None
        text = BUSINESS_STATUS_LABELS["loop-closed"]
        if verified:
            text += ": " + VERIFIED_OUTCOME_LABELS.get(verified, verified)
        return {"coding": [coding("referral-business-status", "loop-closed")], "text": text}
    if referral.status == Status.REQUESTED.value:
        if referral.response_due_at is not None and referral.response_due_at < (now or utcnow()):
            code = "response-overdue"
        elif referral.first_viewed_at is not None:
            code = "viewed"
        else:
            return None
        return {"coding": [coding("referral-business-status", code)], "text": BUSINESS_STATUS_LABELS[code]}
    return None


def task(referral: Referral) -> dict:
    """The referral as an SDOHCC TaskForReferralManagement."""
    r = referral
    resource = {
        "resourceType": "Task",
        "id": str(r.id),
        "meta": _meta(r.version, r.updated_at, TASK_PROFILE),
        "extension": [{"url": delivery_route_extension_url(),
                       "valueCoding": coding("referral-delivery-route", r.delivery_route)}],
        "status": r.status,
        "businessStatus": business_status(r),
        "intent": "order",
        "priority": r.priority,
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill", "display": "Fulfill the focal request"}]},
        "focus": {"reference": f"ServiceRequest/{r.id}"},
        "for": {"reference": f"Patient/{r.client_id}"},
        "authoredOn": instant(r.requested_at),
        "lastModified": instant(r.updated_at),
        "requester": member_reference(r.sending_organization),
        "owner": organization_reference(r.receiving_organization_id, r.receiving_organization.name),
    }
    text = status_reason_text(r)
    if text:
        resource["statusReason"] = {
            "coding": [coding("referral-status-reason", r.status_reason_code)] if r.status_reason_code else None,
            "text": text,
        }
    if r.outcome:
        resource["output"] = [{
            "type": {"coding": [coding("referral-task-output-type", "outcome")], "text": "Outcome"},
            "valueCodeableConcept": {"coding": [coding("referral-outcome", r.outcome)],
                                     "text": OUTCOME_LABELS.get(r.outcome, r.outcome)},
        }]
    return resource


def _category(code: str) -> dict:
    term = sdoh_terms().get(code)
    name = term["name"] if term else code
    return {"coding": [{"system": SDOHCC_CODES, "code": code, "display": name}], "text": name}


def contained_consent(consent: Consent) -> dict:
    """The client's consent to share with the receiving organization, as an R4 Consent (contained)."""
    return {
        "resourceType": "Consent",
        "id": "consent",
        "status": "inactive" if consent.revoked_at else "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy", "display": "Privacy Consent"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}],
                      "text": f"Information disclosure ({consent.method})"}],
        "patient": {"reference": f"Patient/{consent.client_id}"},
        "dateTime": instant(consent.recorded_at),
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN",
                                   "display": "opt-in"}]},
        "provision": {
            "type": "permit",
            "period": {"start": instant(consent.recorded_at), "end": instant(consent.revoked_at)},
            "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                     "code": "IRCP", "display": "information recipient"}]},
                "reference": organization_reference(consent.receiving_organization_id,
                                                    consent.receiving_organization.name),
            }],
        },
    }


def service_request(referral: Referral, *, share_client_details: bool = True) -> dict:
    """The referral's request as an SDOHCC ServiceRequest (the Task's focus).

    Without `share_client_details` (an agency the client withdrew consent from, referrals.access), the
    client's availability is left out and contacting the client is marked prohibited.
    """
    r = referral
    notes = []
    if r.note_to_partner:
        notes.append({"text": r.note_to_partner})
    if r.client_availability and share_client_details:
        notes.append({"text": f"Client availability: {r.client_availability}"})
    performer = [{"reference": f"HealthcareService/{fhir_id(r.service_id)}", "display": r.service.name},
                 organization_reference(r.receiving_organization_id, r.receiving_organization.name)]
    order_detail = None
    if r.client.contact_preference == "do-not-contact" or not share_client_details:
        order_detail = [{"coding": [{"system": SDOHCC_CODES, "code": "contacting-subject-prohibited",
                                     "display": "Contacting subject prohibited"}]}]
    return {
        "resourceType": "ServiceRequest",
        "id": str(r.id),
        "meta": _meta(r.version, r.updated_at, SERVICE_REQUEST_PROFILE),
        "contained": [contained_consent(r.consent)],
        "replaces": [{"reference": f"ServiceRequest/{r.previous_referral_id}"}] if r.previous_referral_id else None,
        "status": SERVICE_REQUEST_STATUS[Status(r.status)],
        "intent": "order",
        "category": [_category(r.category)],
        "priority": r.priority,
        "code": {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}],
                 "text": f"Referral to {r.service.name}"},
        "orderDetail": order_detail,
        "subject": {"reference": f"Patient/{r.client_id}"},
        "authoredOn": instant(r.requested_at),
        "requester": member_reference(r.sending_organization),
        "performer": performer,
        "locationReference": [{"reference": f"Location/{fhir_id(r.location_id)}"}] if r.location_id else None,
        "supportingInfo": [{"reference": "#consent", "display": "Consent to share information"}],
        "note": notes,
    }


def patient(client: Client) -> dict:
    """A client as a Patient: what the receiving agency needs to reach them, nothing more."""
    preference = client.contact_preference
    telecom = []
    if client.phone:
        telecom.append({"system": "phone", "value": client.phone,
                        "rank": 1 if preference in ("phone", "sms") else None})
        if preference == "sms":
            telecom.append({"system": "sms", "value": client.phone, "rank": 1})
    if client.email:
        telecom.append({"system": "email", "value": client.email, "rank": 1 if preference == "email" else None})
    return {
        "resourceType": "Patient",
        "id": str(client.id),
        "meta": _meta(None, client.updated_at),
        "active": True,
        "name": [{"use": "official", "family": client.family_name, "given": [client.given_name],
                  "text": client.full_name}],
        "telecom": telecom,
        "birthDate": client.date_of_birth.isoformat() if client.date_of_birth else None,
        "address": [{"postalCode": client.zip_code}] if client.zip_code else None,
        "communication": [{"language": {"coding": [{"system": BCP47, "code": client.preferred_language}]},
                           "preferred": True}] if client.preferred_language else None,
        "managingOrganization": member_reference(client.organization),
    }


# --- directory ------------------------------------------------------------------------------------

def _phone(phone: m.Phone) -> dict:
    value = phone.number + (f" ext. {phone.extension}" if phone.extension else "")
    system = "fax" if (phone.type or "").lower() == "fax" else "phone"
    return {"system": system, "value": value, "use": "work"}


def directory_organization(org: m.Organization, phones: list[m.Phone]) -> dict:
    telecom = [_phone(p) for p in phones]
    if org.email:
        telecom.append({"system": "email", "value": org.email, "use": "work"})
    if org.website:
        telecom.append({"system": "url", "value": org.website, "use": "work"})
    return {
        "resourceType": "Organization",
        "id": fhir_id(org.id),
        "meta": _meta(None, org.updated_at),
        "identifier": [{"use": "secondary", "value": org.id}],
        "active": True,
        "name": org.name,
        "alias": [org.alternate_name] if org.alternate_name else None,
        "telecom": telecom,
        "partOf": organization_reference(org.parent_organization_id) if org.parent_organization_id else None,
    }


def member_organization(org: NetworkOrganization) -> dict:
    resource = {
        "resourceType": "Organization",
        "id": network_fhir_id(org.id),
        "meta": _meta(None, org.updated_at),
        "active": bool(org.active),
        "type": [{"text": OrgKind(org.kind).label}],
        "name": org.name,
    }
    if org.directory_organization_id:
        resource["partOf"] = organization_reference(org.directory_organization_id)
    return resource


def healthcare_service(service: m.Service, *, locations: list[str], phones: list[m.Phone],
                       domains: list[dict]) -> dict:
    telecom = [_phone(p) for p in phones]
    if service.email:
        telecom.append({"system": "email", "value": service.email, "use": "work"})
    if service.url:
        telecom.append({"system": "url", "value": service.url, "use": "work"})
    return {
        "resourceType": "HealthcareService",
        "id": fhir_id(service.id),
        "meta": _meta(None, service.updated_at),
        "identifier": [{"use": "secondary", "value": service.id}],
        "active": service.status == "active",
        "providedBy": organization_reference(service.organization_id) if service.organization_id else None,
        "category": [_category(d["code"]) for d in domains],
        "name": service.name,
        "comment": service.alternate_name,
        "extraDetails": service.description,
        "location": [{"reference": f"Location/{fhir_id(loc)}"} for loc in locations],
        "telecom": telecom,
        "eligibility": [{"comment": service.eligibility_description}] if service.eligibility_description else None,
    }


def location(loc: m.Location, address: Optional[m.Address], phones: list[m.Phone]) -> dict:
    """A directory location. Confidential places show no address, position or directions."""
    confidential = bool(loc.address_confidential)
    resource = {
        "resourceType": "Location",
        "id": fhir_id(loc.id),
        "meta": _meta(None, loc.updated_at),
        "identifier": [{"use": "secondary", "value": loc.id}],
        "status": "active",
        "mode": "instance",
        "name": loc.name,
        "alias": [loc.alternate_name] if loc.alternate_name else None,
        "description": loc.description,
        "telecom": [_phone(p) for p in phones],
        "managingOrganization": organization_reference(loc.organization_id) if loc.organization_id else None,
    }
    if loc.location_type == "virtual":
        resource["physicalType"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                                "code": "vi", "display": "Virtual"}]}
    if not confidential:
        if address is not None:
            resource["address"] = {
                "use": "work", "type": "physical" if address.address_type == "physical" else "postal",
                "line": [line for line in (address.address_1, address.address_2) if line],
                "city": address.city, "district": address.region, "state": address.state_province,
                "postalCode": address.postal_code, "country": address.country,
            }
        if loc.latitude is not None and loc.longitude is not None:
            resource["position"] = {"latitude": loc.latitude, "longitude": loc.longitude}
    return resource


def code_system(code_system_id: str) -> dict:
    title, description, concepts = CODE_SYSTEMS[code_system_id]
    return {
        "resourceType": "CodeSystem",
        "id": code_system_id,
        "url": code_system_url(code_system_id),
        "name": "".join(part.title() for part in code_system_id.split("-")),
        "title": title,
        "status": "active",
        "description": description,
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": [{"code": code, "display": display} for code, display in concepts.items()],
    }


def capability_statement(software_version: str = "1") -> dict:
    """What this server does (GET /fhir/metadata)."""
    base = base_url()
    last_updated = {"name": "_lastUpdated", "type": "date",
                    "documentation": "Prefixes gt, ge, lt, le, eq; for polling use gt<previous Bundle.meta.lastUpdated>."}

    def search(name: str, kind: str, doc: str) -> dict:
        return {"name": name, "type": kind, "documentation": doc}

    def read(kind: str, doc: str, *, profile: Optional[str] = None, searches: Optional[list] = None,
             interactions: tuple[str, ...] = ("read",), **extra) -> dict:
        interaction = [{"code": code} for code in interactions]
        if searches:
            interaction.append({"code": "search-type"})
        return {"type": kind, "documentation": doc, "supportedProfile": [profile] if profile else None,
                "interaction": interaction, "searchParam": searches, **extra}

    paging = "Paging with _count (0-100, default 20) and _page; sorted by _lastUpdated (or -_lastUpdated)."
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "publisher": "ReferralNet",
        "kind": "instance",
        "software": {"name": "ReferralNet", "version": software_version},
        "implementation": {"description": "ReferralNet closed-loop community referral network", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Authenticate with Authorization: Bearer <API token> (issued by the network's "
                             "admins). Scopes: referrals:read (Task, ServiceRequest, Patient), referrals:write "
                             "(Task update), directory:read (Organization, HealthcareService, Location). "
                             "Unknown search parameters are an error (400). " + paging,
            "security": {"cors": False, "description": "Bearer API tokens; each acts as one member organization."},
            "resource": [
                read("Task", "SDOHCC referral Tasks this organization sent or received. update: status, "
                             "statusReason and output only; If-Match: W/\"<versionId>\" is required.",
                     profile=TASK_PROFILE, interactions=("read", "update"),
                     versioning="versioned-update", readHistory=False, updateCreate=False,
                     conditionalUpdate=False,
                     searchInclude=["Task:focus"],
                     searches=[search("_id", "token", "Task ids, comma-separated."),
                               last_updated,
                               search("owner", "reference", "Organization/<id> receiving the referral."),
                               search("requester", "reference", "Organization/rn.<id> that sent it."),
                               search("status", "token", "Task status (also status:not)."),
                               search("patient", "reference", "Patient/<id> (Task.for); also subject."),
                               search("focus", "reference", "ServiceRequest/<id>."),
                               search("code", "token", "fulfill"),
                               search("intent", "token", "order")]),
                read("ServiceRequest", "The request each referral Task fulfils (same id as the Task).",
                     profile=SERVICE_REQUEST_PROFILE,
                     searches=[search("_id", "token", "ids, comma-separated."), last_updated,
                               search("subject", "reference", "Patient/<id>; also patient."),
                               search("category", "token", f"SDOH category, e.g. {SDOHCC_CODES}|food-insecurity."),
                               search("status", "token", "active, completed, revoked, entered-in-error."),
                               search("requester", "reference", "Organization/rn.<id>."),
                               search("performer", "reference", "Organization/<id> or HealthcareService/<id>.")]),
                read("Patient", "Clients of referrals this organization may see (read is audited)."),
                read("Organization", "Directory organizations (HSDS ids) and member organizations (rn.<id>)."),
                read("HealthcareService", "Directory services (HSDS ids)."),
                read("Location", "Directory locations (HSDS ids); confidential ones without address."),
                read("CodeSystem", "This server's code systems: " + ", ".join(CODE_SYSTEMS) + " (no token needed)."),
            ],
        }],
    }
