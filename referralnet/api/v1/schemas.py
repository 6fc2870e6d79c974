"""marshmallow schemas of /api/v1: arguments (load) and representations (dump), kept apart.

Load schemas check types and shapes only; the services check meaning (a known category,
consent on file, a move allowed from the current status) and answer with the same
`{code, status, message, errors}` 422 when they refuse. Unknown body fields are refused.
"""
from __future__ import annotations

from datetime import timezone

from flask import g
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_dump, validate, validates_schema

from referralnet.accounts.routes import DeliveryRoute
from referralnet.api.v1.common import PageArgs
from referralnet.referrals import states
from referralnet.referrals.models import (CONSENT_METHODS, CONTACT_PREFERENCES, PRIORITIES, VERIFIED_OUTCOMES,
                                          Status)
from referralnet.search.service import MAX_RADIUS_MILES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
TEXT = validate.Length(max=4000)


# --- directory -------------------------------------------------------------------------------------

class ServiceSearchArgs(PageArgs):
    """Every filter of the coordinator's search (referralnet.search.service.SearchQuery)."""

    q = fields.String(load_default="", validate=validate.Length(max=500),
                      metadata={"description": "free text; lay language is expanded (“food stamps” finds SNAP)"})
    domain = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list,
                         metadata={"description": "SDOH domain code (repeatable: any of them)"})
    term_id = fields.List(fields.String(validate=validate.Length(max=250)), load_default=list,
                          metadata={"description": "taxonomy term id (repeatable: any of them)"})
    near = fields.String(validate=validate.Length(min=1, max=200),
                         metadata={"description": "ZIP code, address, “City, ST” or “lat,lon”"})
    lat = fields.Float(validate=validate.Range(-90, 90), metadata={"description": "with lon, instead of near"})
    lon = fields.Float(validate=validate.Range(-180, 180))
    radius = fields.Float(validate=validate.Range(min=0, max=MAX_RADIUS_MILES, min_inclusive=False),
                          metadata={"description": "miles around near or lat/lon"})
    language = fields.String(validate=validate.Length(min=1, max=35), metadata={"description": "code or name"})
    open_now = fields.Boolean(load_default=False)
    open_day = fields.String(validate=validate.OneOf(DAYS),
                             metadata={"description": "open at this day (with open_time), local to each place"})
    open_time = fields.String(validate=validate.Regexp(HHMM), metadata={"description": "HH:MM (with open_day)"})
    accepting = fields.Boolean(load_default=False, metadata={"description": "only services accepting referrals"})
    free = fields.Boolean(load_default=False, metadata={"description": "only free services"})
    age = fields.Integer(validate=validate.Range(0, 130))
    sort = fields.String(load_default="relevance", validate=validate.OneOf(("relevance", "distance")))

    class Meta:
        unknown = EXCLUDE

    @validates_schema
    def _pairs(self, data, **_kwargs):
        errors = {}
        if ("lat" in data) != ("lon" in data):
            errors["lat" if "lat" not in data else "lon"] = ["Give both lat and lon."]
        if ("open_day" in data) != ("open_time" in data):
            errors["open_day" if "open_day" not in data else "open_time"] = ["Give both open_day and open_time."]
        if errors:
            raise ValidationError(errors)


class CapacitySchema(Schema):
    available = fields.Float(allow_none=True)
    maximum = fields.Float(allow_none=True)
    unit = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    updated = fields.DateTime(allow_none=True)


class ServiceHitSchema(Schema):
    """One place where a service is offered (search results are per place)."""

    service_id = fields.String(required=True)
    service_name = fields.String(required=True)
    organization_id = fields.String(allow_none=True)
    organization_name = fields.String(allow_none=True)
    location_id = fields.String(allow_none=True)
    location_name = fields.String(allow_none=True)
    confidential = fields.Boolean(metadata={"description": "a confidential place shows no address or coordinates"})
    latitude = fields.Float(allow_none=True, attribute="lat")
    longitude = fields.Float(allow_none=True, attribute="lon")
    address = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    languages = fields.List(fields.String())
    assured_date = fields.String(allow_none=True, metadata={"description": "last human verification (date)"})
    accepting_referrals = fields.Boolean(attribute="accepting")
    free = fields.Boolean()
    capacity = fields.Nested(CapacitySchema, allow_none=True)
    domains = fields.List(fields.String())
    minimum_age = fields.Integer(allow_none=True, attribute="min_age")
    maximum_age = fields.Integer(allow_none=True, attribute="max_age")
    distance_miles = fields.Float(allow_none=True)
    open_now = fields.Boolean(allow_none=True)
    next_open = fields.DateTime(allow_none=True)
    matched = fields.List(fields.String(), metadata={
        "description": "why this result matched: each part of the query it matches, and what lay words were "
                       "taken to mean (“eviction → tenant legal help”)"})

    @pre_dump
    def _flatten(self, hit, **_kwargs):
        return {**hit.card, "distance_miles": hit.distance_miles, "open_now": hit.open_now,
                "next_open": hit.next_open, "matched": hit.why}


class UnderstoodSchema(Schema):
    words = fields.String(metadata={"description": "words of the query"})
    means = fields.List(fields.String(), metadata={"description": "the service concepts they were taken to mean"})


class CrisisLineSchema(Schema):
    name = fields.String()
    phone = fields.String()
    text = fields.String(metadata={"description": "how to reach them by text message, if they can be"})
    url = fields.String()
    description = fields.String()


class SearchResultsSchema(Schema):
    items = fields.List(fields.Nested(ServiceHitSchema), required=True, attribute="hits")
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    facets = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "SDOH domain -> matches, counted without the domain filter"})
    did_you_mean = fields.String(allow_none=True)
    corrected_from = fields.String(allow_none=True, metadata={"description": "set when misspelt words were "
                                                                             "corrected: the results are for "
                                                                             "did_you_mean"})
    understood = fields.List(fields.Nested(UnderstoodSchema), metadata={
        "description": "the lay phrases found in the query and what they were taken to mean"})
    crisis_lines = fields.List(fields.Nested(CrisisLineSchema), metadata={
        "description": "crisis hotlines to show above the results (suicide, overdose, violence at home, child "
                       "abuse...); empty for other queries"})

    @pre_dump
    def _pages(self, results, **_kwargs):
        return {"hits": results.hits, "total": results.total, "page": results.page, "per_page": results.per_page,
                "pages": -(-results.total // results.per_page) if results.total else 0, "facets": results.facets,
                "did_you_mean": results.did_you_mean, "corrected_from": results.corrected_from,
                "understood": [{"words": w, "means": means} for w, means in results.expanded],
                "crisis_lines": results.crisis}


class PhoneSchema(Schema):
    number = fields.String()
    extension = fields.Integer(allow_none=True)
    type = fields.String(allow_none=True)
    description = fields.String(allow_none=True)


class HoursSchema(Schema):
    day = fields.String()
    hours = fields.String()


class PlaceSchema(Schema):
    location_id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    confidential = fields.Boolean()
    address = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    phones = fields.List(fields.Nested(PhoneSchema))
    languages = fields.List(fields.String())
    hours = fields.List(fields.Nested(HoursSchema), metadata={"description": "weekly hours, local time"})
    timezone = fields.String(allow_none=True)
    open_now = fields.Boolean(allow_none=True)
    next_open = fields.DateTime(allow_none=True)

    @pre_dump
    def _place(self, place, **_kwargs):
        loc, address, confidential = place.location, place.address, place.confidential
        return {
            "location_id": loc.id if loc else None, "name": loc.name if loc else None, "confidential": confidential,
            "address": ", ".join(p for p in [address.address_1, address.address_2, address.city,
                                             address.state_province, address.postal_code] if p) if address else None,
            "latitude": None if confidential or loc is None else loc.latitude,
            "longitude": None if confidential or loc is None else loc.longitude,
            "phones": place.phones, "languages": place.languages,
            "hours": [{"day": day, "hours": text} for day, text in place.hours.summary()],
            "timezone": getattr(place.hours.tz, "key", None), "open_now": place.open_now,
            "next_open": place.next_open,
        }


class ServiceDetailSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    alternate_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    organization_id = fields.String(allow_none=True)
    organization_name = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    eligibility_description = fields.String(allow_none=True)
    application_process = fields.String(allow_none=True)
    fees_description = fields.String(allow_none=True)
    free = fields.Boolean()
    minimum_age = fields.Integer(allow_none=True)
    maximum_age = fields.Integer(allow_none=True)
    accepting_referrals = fields.Boolean()
    assured_date = fields.Date(allow_none=True)
    languages = fields.List(fields.String())
    domains = fields.List(fields.String(), metadata={"description": "SDOH domain codes"})
    phones = fields.List(fields.Nested(PhoneSchema))
    places = fields.List(fields.Nested(PlaceSchema))
    required_documents = fields.List(fields.String())
    service_areas = fields.List(fields.String())
    capacity = fields.Nested(CapacitySchema, allow_none=True)

    @pre_dump
    def _view(self, view, **_kwargs):
        s = view.service
        return {
            **{k: getattr(s, k) for k in ("id", "name", "alternate_name", "description", "url", "email",
                                          "eligibility_description", "application_process", "fees_description",
                                          "minimum_age", "maximum_age", "accepting_referrals", "assured_date")},
            "organization_id": view.organization.id if view.organization else None,
            "organization_name": view.organization.name if view.organization else None,
            "free": view.free, "languages": view.languages, "domains": [d["code"] for d in view.domains],
            "phones": view.phones, "places": view.places,
            "required_documents": [d.document for d in view.documents if d.document],
            "service_areas": [a.name for a in view.areas if a.name], "capacity": view.capacity,
        }


# --- clients and consent ---------------------------------------------------------------------------

class ClientSchema(Schema):
    id = fields.Integer(required=True)
    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    date_of_birth = fields.Date(required=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    preferred_language = fields.String()
    contact_preference = fields.String()
    zip_code = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    organization_id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ClientListArgs(PageArgs):
    name = fields.String(validate=validate.Length(max=200),
                         metadata={"description": "words found in the given or family name"})

    class Meta:
        unknown = EXCLUDE


class DuplicateArgs(Schema):
    allow_duplicate = fields.Boolean(load_default=False, metadata={
        "description": "create even if a client with the same names and date of birth exists"})

    class Meta:
        unknown = EXCLUDE


def _client_fields(required: bool) -> dict:
    opt = {"allow_none": True}
    return {
        "given_name": fields.String(required=required, validate=validate.Length(max=100)),
        "family_name": fields.String(required=required, validate=validate.Length(max=100)),
        "date_of_birth": fields.Date(required=required),
        "phone": fields.String(validate=validate.Length(max=32), **opt),
        "email": fields.String(validate=validate.Length(max=254), **opt),
        "preferred_language": fields.String(validate=validate.Length(max=35), **opt),
        "contact_preference": fields.String(validate=validate.OneOf(CONTACT_PREFERENCES), **opt),
        "zip_code": fields.String(validate=validate.Length(max=10), **opt),
        "address": fields.String(validate=validate.Length(max=500), **opt),
    }


ClientCreateSchema = Schema.from_dict(_client_fields(True), name="ClientCreate")
ClientUpdateSchema = Schema.from_dict(_client_fields(False), name="ClientUpdate")


class ConsentSchema(Schema):
    id = fields.Integer(required=True)
    client_id = fields.Integer(required=True)
    receiving_organization_id = fields.String(required=True)
    receiving_organization_name = fields.Function(lambda c: c.receiving_organization.name)
    method = fields.String()
    note = fields.String(allow_none=True)
    recorded_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    active = fields.Function(lambda c: c.revoked_at is None)


class ConsentCreateSchema(Schema):
    receiving_organization_id = fields.String(required=True, validate=validate.Length(min=1, max=250),
                                              metadata={"description": "directory organization id"})
    method = fields.String(required=True, validate=validate.OneOf(CONSENT_METHODS))
    note = fields.String(allow_none=True, validate=TEXT)


# --- referrals -------------------------------------------------------------------------------------

STATUSES = tuple(s.value for s in Status)


class ClosureSchema(Schema):
    verified_outcome = fields.String()
    note = fields.String(allow_none=True)
    closed_at = fields.DateTime()


ROUTES = tuple(r.value for r in DeliveryRoute)


class ReferralSchema(Schema):
    id = fields.Integer(required=True)
    client_id = fields.Integer(required=True)
    service_id = fields.String(required=True)
    service_name = fields.Function(lambda r: r.service.name)
    location_id = fields.String(allow_none=True)
    receiving_organization_id = fields.String()
    receiving_organization_name = fields.Function(lambda r: r.receiving_organization.name)
    sending_organization_id = fields.Integer()
    sending_organization_name = fields.Function(lambda r: r.sending_organization.name)
    category = fields.String()
    priority = fields.String()
    note_to_partner = fields.String(allow_none=True)
    client_availability = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    status_reason_code = fields.String(allow_none=True)
    status_reason_text = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "send back as expected_version"})
    requested_at = fields.DateTime()
    response_due_at = fields.DateTime()
    responded_at = fields.DateTime(allow_none=True)
    first_viewed_at = fields.DateTime(allow_none=True)
    loop_closed_at = fields.DateTime(allow_none=True)
    closure = fields.Nested(ClosureSchema, allow_none=True)
    previous_referral_id = fields.Integer(allow_none=True)
    delivery_route = fields.String(validate=validate.OneOf(ROUTES), metadata={
        "description": "how it reached the agency: network (the member agency's inbox), link (a secure link "
                       "emailed to agency_email; the agency works it without an account) or tracked (no "
                       "electronic contact; the coordinator records the agency's moves)"})
    agency_email = fields.String(allow_none=True, metadata={"description": "where the secure link was sent"})
    allowed_transitions = fields.Method("_allowed", metadata={"description": "statuses this token may set now"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _allowed(self, referral):
        return [s.value for s in states.allowed_moves(referral, g.api_actor)]


class ReferralListArgs(PageArgs):
    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)), load_default=list,
                         metadata={"description": "repeatable: any of them"})
    category = fields.String(validate=validate.Length(max=64))
    client_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    service_id = fields.String(validate=validate.Length(max=250))
    updated_since = fields.AwareDateTime(default_timezone=timezone.utc,
                                         metadata={"description": "ISO 8601; UTC when no zone is given"})

    class Meta:
        unknown = EXCLUDE


class ReferralCreateSchema(Schema):
    client_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    service_id = fields.String(required=True, validate=validate.Length(min=1, max=250))
    location_id = fields.String(allow_none=True, validate=validate.Length(max=250))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "SDOH domain code, e.g. food-insecurity"})
    priority = fields.String(load_default="routine", validate=validate.OneOf(PRIORITIES))
    note_to_partner = fields.String(allow_none=True, validate=TEXT)
    client_availability = fields.String(allow_none=True, validate=validate.Length(max=1000))
    previous_referral_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1),
                                          metadata={"description": "refer elsewhere after this rejected, failed "
                                                                   "or cancelled referral"})
    agency_email = fields.String(allow_none=True, validate=validate.Length(max=254), metadata={
        "description": "for an agency outside the network: where to email its secure link (default: the "
                       "directory's address for the service; ignored for member agencies)"})
    delivery_route = fields.String(allow_none=True, validate=validate.OneOf(("link", "tracked")), metadata={
        "description": "for an agency outside the network: tracked to send nothing to the agency and track the "
                       "referral yourself; default link when there is an address, else tracked"})


class IdempotencyHeaders(Schema):
    idempotency_key = fields.String(required=True, data_key="Idempotency-Key",
                                    validate=[validate.Length(min=1, max=255), validate.Regexp(r"^[\x21-\x7e]+$")],
                                    metadata={"description": "unique per intended referral; a retry with the same "
                                                             "key and body returns the first response"})

    class Meta:
        unknown = EXCLUDE


class TransitionSchema(Schema):
    to = fields.String(required=True, validate=validate.OneOf([s for s in STATUSES if s != "requested"]))
    reason = fields.String(allow_none=True, validate=validate.Length(max=32),
                           metadata={"description": "required for rejected, cancelled, on-hold, failed"})
    reason_text = fields.String(allow_none=True, validate=TEXT, metadata={"description": "needed with reason other"})
    outcome = fields.String(allow_none=True, validate=validate.Length(max=20),
                            metadata={"description": "required for completed and failed"})
    note = fields.String(allow_none=True, validate=TEXT)
    expected_version = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**31 - 1),
                                      metadata={"description": "the version you acted on; 409 if it changed"})


class CloseSchema(Schema):
    verified_outcome = fields.String(required=True, validate=validate.OneOf(VERIFIED_OUTCOMES))
    note = fields.String(allow_none=True, validate=TEXT)


class EventSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    kind = fields.String(required=True)
    actor_kind = fields.String()
    actor_name = fields.Function(lambda e: e.actor.name if e.actor else None, allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    reason_code = fields.String(allow_none=True)
    reason_text = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    report_code = fields.String(allow_none=True)


class MessageSchema(Schema):
    id = fields.Integer(required=True)
    body = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    author_name = fields.Function(lambda m: m.author.name)
    author_organization_id = fields.Function(lambda m: m.author.organization_id)


class MessageCreateSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=4000))


# --- partner listings ------------------------------------------------------------------------------

class CapacityInSchema(Schema):
    available = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    maximum = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    unit = fields.String(allow_none=True, validate=validate.Length(max=40))
    description = fields.String(allow_none=True, validate=validate.Length(max=500))


class ListingUpdateSchema(Schema):
    accepting_referrals = fields.Boolean(metadata={"description": "the “accepting referrals” switch"})
    capacity = fields.Nested(CapacityInSchema, metadata={"description": "replaces the figures; updated becomes now"})

    @validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise ValidationError("Send accepting_referrals, capacity or both.", "accepting_referrals")


class ListingSchema(Schema):
    service_id = fields.String(required=True, attribute="id")
    name = fields.String(required=True)
    status = fields.String()
    accepting_referrals = fields.Boolean(required=True)
    capacity = fields.Nested(CapacitySchema, allow_none=True)
