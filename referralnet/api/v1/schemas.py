"""marshmallow schemas of /api/v1: arguments (load) and representations (dump), kept apart.

Load schemas say exactly what is accepted, and the OpenAPI document says the same (formats,
lengths, enums, patterns, ranges, and which fields go together: `OPENAPI_EXTRA` adds the
JSON Schema that marshmallow fields cannot carry, and a `validates_schema` enforces it). So
input the document calls valid is accepted unless the state of things refuses it — a
reference to something not found (404), no consent on file or a move not allowed now (409) —
and input it calls invalid is a 422 that names each field. Unknown body fields are refused.
The few rules JSON Schema cannot state (a date of birth not in the future, available not above
maximum, a place the geocoder finds) are in the field descriptions.
"""
from __future__ import annotations

import re
from datetime import date, timezone

from flask import g
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_dump, validate, validates_schema

from referralnet.accounts.routes import DeliveryRoute
from referralnet.api.v1.common import PageArgs
from referralnet.directory.sdoh import sdoh_terms
from referralnet.portal.listings import MAX_CAPACITY, MAX_CAPACITY_DESCRIPTION, MAX_UNIT_LENGTH
from referralnet.referrals import states
from referralnet.referrals.access import client_details_shared
from referralnet.referrals.models import (CONSENT_METHODS, CONTACT_PREFERENCES, MAX_TEXT, PRIORITIES,
                                          VERIFIED_OUTCOMES, Status)
from referralnet.referrals.services import MAX_AGE_YEARS, MAX_NAME
from referralnet.search.service import MAX_RADIUS_MILES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
TEXT = validate.Length(max=MAX_TEXT)
# Text that is not blank once stripped (the services strip what people type). Anchored, so that
# marshmallow's match and JSON Schema's search agree.
# What Python's str.strip() and re's \s take for white space is not what the document's (ECMA) \s is:
# Python adds \x1c-\x1f and \x85, ECMA adds \ufeff. The patterns name the union, so the document
# and the services agree on what is blank (schemathesis sends each of these).
_SPACE = r"\s\x1c-\x1f\x85\ufeff"
NOT_BLANK = rf"^[{_SPACE}]*[^{_SPACE}]"
BLANK_OR_NULL = [None, ""]


def not_blank(max_length: int) -> list:
    return [validate.Length(min=1, max=max_length), validate.Regexp(NOT_BLANK, error="Must not be blank.")]


def _decade_pattern(first: int, last: int) -> str:
    """A regex matching the years first..last (four digits), a decade at a time: 190[1-9]|19[1-9][0-9]..."""
    parts = []
    year = first
    while year <= last:
        decade_end = min(year - year % 10 + 9, last)
        low, high = year % 10, decade_end % 10
        parts.append(f"{year // 10}" + (str(low) if low == high else f"[{low}-{high}]"))
        year = decade_end + 1
    return "|".join(parts)


class PatchSchema(Schema):
    """A PATCH body: at least one field (no body, or `{}`, is a 422 that says what may be sent)."""

    OPENAPI_EXTRA: dict = {"minProperties": 1}

    @validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise ValidationError(f"Send at least one of: {', '.join(self.fields)}.", "body")


# --- directory -------------------------------------------------------------------------------------

class ServiceSearchArgs(PageArgs):
    """Every filter of the coordinator's search (referralnet.search.service.SearchQuery)."""

    OPENAPI_PARAMETER_GROUPS = {
        "point": ("a place by coordinates, instead of near: `lat` and `lon` together", ("lat", "lon")),
        "open_at": ("open at this day and time, local to each place: `open_day` and `open_time` together",
                    ("open_day", "open_time")),
    }

    q = fields.String(load_default="", validate=validate.Length(max=500),
                      metadata={"description": "free text; lay language is expanded (“food stamps” finds SNAP)"})
    domain = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list,
                         metadata={"description": "SDOH domain code (repeatable: any of them)"})
    term_id = fields.List(fields.String(validate=validate.Length(max=250)), load_default=list,
                          metadata={"description": "taxonomy term id (repeatable: any of them)"})
    near = fields.String(validate=validate.Length(min=1, max=200),
                         metadata={"description": "ZIP code, address, “City, ST” or “lat,lon”; 422 if it cannot be "
                                                  "found"})
    lat = fields.Float(validate=validate.Range(-90, 90), metadata={"description": "with lon, instead of near"})
    lon = fields.Float(validate=validate.Range(-180, 180))
    radius = fields.Float(validate=validate.Range(min=0, max=MAX_RADIUS_MILES, min_inclusive=False),
                          metadata={"description": "miles around near or lat/lon (needs one of them)",
                                    "exclusiveMinimum": True})
    language = fields.String(validate=validate.Length(min=1, max=35), metadata={"description": "code or name"})
    open_now = fields.Boolean(load_default=False)
    open_day = fields.String(validate=validate.OneOf(DAYS),
                             metadata={"description": "open at this day (with open_time), local to each place"})
    open_time = fields.String(validate=validate.Regexp(HHMM), metadata={"description": "HH:MM (with open_day)"})
    accepting = fields.Boolean(load_default=False, metadata={"description": "only services accepting referrals"})
    free = fields.Boolean(load_default=False, metadata={"description": "only free services"})
    age = fields.Integer(validate=validate.Range(0, 130))
    sort = fields.String(load_default="relevance", validate=validate.OneOf(("relevance", "distance")),
                         metadata={"description": "distance needs near or lat/lon"})

    @validates_schema
    def _pairs(self, data, **_kwargs):
        errors = {}
        if ("lat" in data) != ("lon" in data):
            errors["lat" if "lat" not in data else "lon"] = ["Give both lat and lon."]
        if ("open_day" in data) != ("open_time" in data):
            errors["open_day" if "open_day" not in data else "open_time"] = ["Give both open_day and open_time."]
        if "near" not in data and "lat" not in data:
            if "radius" in data:
                errors["near"] = ["Give near, or lat and lon, to search within a radius."]
            elif data.get("sort") == "distance":
                errors["near"] = ["Give near, or lat and lon, to sort by distance."]
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



class DuplicateArgs(Schema):
    allow_duplicate = fields.Boolean(load_default=False, metadata={
        "description": "create even if a client with the same names and date of birth exists"})



# Client fields as the services accept them (referrals.services._clean_client), stated exactly.
FIRST_BIRTH_YEAR = date.today().year - MAX_AGE_YEARS
BIRTH_DATE = rf"^({_decade_pattern(FIRST_BIRTH_YEAR, date.today().year)})-[0-9]{{2}}-[0-9]{{2}}$"
PHONE = r"^\+?([ ().-]{0,2}[0-9]){10,15}$"  # 10 to 15 digits, with the usual separators
EMAIL = rf"^[^@{_SPACE}]+@[^@{_SPACE}]+\.[^@{_SPACE}]+$"
LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"  # ISO 639 code, optionally with BCP 47 subtags
ZIP = r"^[0-9]{5}(-[0-9]{4})?$"
NEEDS = {"sms": "phone", "phone": "phone", "email": "email"}  # contact preference -> the detail it needs


def _plausible_birth_date(born: date) -> None:
    """As the services check it: not in the future, nor over MAX_AGE_YEARS ago (the document's pattern)."""
    today = date.today()
    if born > today:
        raise ValidationError("The date of birth cannot be in the future.")
    if born.year < today.year - MAX_AGE_YEARS:
        raise ValidationError(f"Check the year: that would make the client over {MAX_AGE_YEARS}.")


def _client_fields(required: bool) -> dict:
    opt = {"allow_none": True}
    return {
        "given_name": fields.String(required=required, validate=not_blank(MAX_NAME)),
        "family_name": fields.String(required=required, validate=not_blank(MAX_NAME)),
        "date_of_birth": fields.Date(required=required, validate=_plausible_birth_date,
                                     metadata={"pattern": BIRTH_DATE,
                                               "description": "not in the future, nor over 125 years ago"}),
        "phone": fields.String(validate=[validate.Length(max=32), validate.Regexp(PHONE, error=(
            "Enter a phone number with its area code, like (415) 555-0123."))], **opt),
        "email": fields.String(validate=[validate.Length(max=254), validate.Regexp(EMAIL, error=(
            "Enter an email address like name@example.org."))], **opt),
        "preferred_language": fields.String(validate=[validate.Length(max=35), validate.Regexp(LANGUAGE, error=(
            "Choose a language code, like en or es."))], metadata={"description": "default en"}, **opt),
        "contact_preference": fields.String(validate=validate.OneOf(CONTACT_PREFERENCES), metadata={
            "description": "sms and phone need a phone, email an email (sent with it); by default phone if there "
                           "is one, else email if there is one, else do-not-contact"}, **opt),
        "zip_code": fields.String(validate=[validate.Length(max=10), validate.Regexp(ZIP, error=(
            "Enter a 5-digit ZIP code, like 94110."))], **opt),
        "address": fields.String(validate=validate.Length(max=500), **opt),
    }


def _contact_rules(patch: bool) -> list[dict]:
    """JSON Schema for how contact_preference and the details go together (see _check_contact)."""
    rules = [{"anyOf": [
        {"properties": {"contact_preference": {"enum": ["do-not-contact", None], "nullable": True}}},
        *({"required": ["contact_preference", needed],
           "properties": {"contact_preference": {"enum": [pref]}, needed: {"type": "string"}}}
          for pref, needed in NEEDS.items()),
    ]}]
    if patch:  # clearing a detail: say in the same request how to contact the client instead
        for detail in ("phone", "email"):
            rules.append({"anyOf": [
                {"properties": {detail: {"type": "string"}}},
                {"required": ["contact_preference"], "properties": {"contact_preference": {
                    "enum": [p for p in (*CONTACT_PREFERENCES, None) if NEEDS.get(p) != detail], "nullable": True}}},
            ]})
    return rules


def _check_contact(data: dict, patch: bool) -> None:
    preference = data.get("contact_preference")
    needed = NEEDS.get(preference)
    if needed and not data.get(needed):
        raise ValidationError(f"Send the {needed} with contact_preference {preference}.", needed)
    if patch:
        for detail in ("phone", "email"):
            if detail in data and data[detail] is None and ("contact_preference" not in data or needed == detail):
                raise ValidationError(f"To clear the {detail}, send the contact_preference to use instead.", detail)


class ClientCreateSchema(Schema.from_dict(_client_fields(True), name="ClientCreateBase")):
    OPENAPI_EXTRA = {"allOf": _contact_rules(False)}

    @validates_schema(skip_on_field_errors=False)
    def _contact(self, data, **_kwargs):
        _check_contact(data, patch=False)


class ClientUpdateSchema(Schema.from_dict(_client_fields(False), name="ClientUpdateBase"), PatchSchema):
    OPENAPI_EXTRA = {"minProperties": 1, "allOf": _contact_rules(True)}

    @validates_schema(skip_on_field_errors=False)
    def _contact(self, data, **_kwargs):
        _check_contact(data, patch=True)


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
                                              metadata={"description": "directory organization id (404 if none)"})
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
    client_availability = fields.Method("_availability", allow_none=True, metadata={
        "type": "string", "nullable": True,
        "description": "null for an agency the client withdrew consent from (see the README's consent policy)"})
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

    def _availability(self, referral):
        return referral.client_availability if client_details_shared(g.api_actor, referral) else None


class ReferralListArgs(PageArgs):
    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)), load_default=list,
                         metadata={"description": "repeatable: any of them"})
    category = fields.String(validate=validate.Length(max=64))
    client_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    service_id = fields.String(validate=validate.Length(max=250))
    updated_since = fields.AwareDateTime(default_timezone=timezone.utc,
                                         metadata={"description": "ISO 8601; UTC when no zone is given"})



class ReferralCreateSchema(Schema):
    client_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    service_id = fields.String(required=True, validate=validate.Length(min=1, max=250))
    location_id = fields.String(allow_none=True, validate=validate.Length(max=250))
    category = fields.String(required=True, validate=validate.OneOf(sorted(sdoh_terms())),
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


def _transition_rule(to: Status) -> dict:
    """What a move to `to` takes besides a note, as states._check_details checks it: for each detail,
    the values allowed (None: any text) and whether it is required."""
    reasons = states.REASONS.get(to)
    needs_outcome = to in states.NEEDS_OUTCOME
    return {
        "reason": (list(reasons), True) if reasons else (BLANK_OR_NULL, False),
        "reason_text": (None, False) if "reason_text" in states.details_for(to) else (BLANK_OR_NULL, False),
        "outcome": (list(states.outcomes_for(to)), True) if needs_outcome else (BLANK_OR_NULL, False),
    }


SETTABLE = [s for s in Status if s != Status.REQUESTED]


def _transition_branches() -> list[dict]:
    branches = []
    for to in SETTABLE:
        rule = _transition_rule(to)
        properties = {"to": {"enum": [to.value]}}
        required = ["to"]
        for detail, (values, needed) in rule.items():
            if values is not None:
                properties[detail] = {"enum": values, "nullable": None in values}
            if needed:
                required.append(detail)
        if "other" in (rule["reason"][0] or []):  # “other” needs the reason said in reason_text
            other = {**properties, "reason": {"enum": ["other"]},
                     "reason_text": {"type": "string", "pattern": NOT_BLANK, "maxLength": MAX_TEXT}}
            branches.append({"properties": other, "required": [*required, "reason_text"]})
            properties["reason"] = {"enum": [r for r in rule["reason"][0] if r != "other"]}
        branches.append({"properties": properties, "required": required})
    return branches


class TransitionSchema(Schema):
    """A move: which details go with which status is the oneOf of the document (one branch per status)."""

    OPENAPI_EXTRA = {"oneOf": _transition_branches()}

    to = fields.String(required=True, validate=validate.OneOf([s.value for s in SETTABLE]))
    reason = fields.String(allow_none=True, validate=validate.Length(max=32),
                           metadata={"description": "required for rejected, cancelled, on-hold, failed (one of "
                                                    "their reasons); empty or null otherwise"})
    reason_text = fields.String(allow_none=True, validate=TEXT,
                                metadata={"description": "needed with reason other; also for entered-in-error"})
    outcome = fields.String(allow_none=True, validate=validate.Length(max=20),
                            metadata={"description": "required for completed and failed; empty or null otherwise"})
    note = fields.String(allow_none=True, validate=TEXT)
    expected_version = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**31 - 1),
                                      metadata={"description": "the version you acted on; 409 if it changed"})

    @validates_schema
    def _details(self, data, **_kwargs):
        to = Status(data["to"])
        errors = {}
        for detail, (values, needed) in _transition_rule(to).items():
            value = data.get(detail)
            if needed and value is None:
                errors[detail] = [f"Required when moving to {to.value}."]
            elif values is not None and value not in values and not (value is None and not needed):
                errors[detail] = ([f"One of: {', '.join(values)}."] if needed else
                                  [f"Not used when moving to {to.value}."])
        if data.get("reason") == "other" and not re.match(NOT_BLANK, data.get("reason_text") or ""):
            errors["reason_text"] = ["Say what the reason is when you choose “other”."]
        if errors:
            raise ValidationError(errors)


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
    body = fields.String(required=True, validate=not_blank(MAX_TEXT))


# --- partner listings ------------------------------------------------------------------------------

class CapacityInSchema(Schema):
    OPENAPI_EXTRA = {"anyOf": [{"required": [name], "properties": {name: {"type": "integer"}}}
                               for name in ("available", "maximum")]}

    available = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=MAX_CAPACITY),
                               metadata={"description": "not above maximum when both are given"})
    maximum = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=MAX_CAPACITY))
    unit = fields.String(allow_none=True, validate=validate.Length(max=MAX_UNIT_LENGTH))
    description = fields.String(allow_none=True, validate=validate.Length(max=MAX_CAPACITY_DESCRIPTION))

    @validates_schema
    def _figures(self, data, **_kwargs):
        available, maximum = data.get("available"), data.get("maximum")
        if available is None and maximum is None:
            raise ValidationError("Send how many are available now, the maximum, or both.", "available")
        if available is not None and maximum is not None and available > maximum:
            raise ValidationError(f"The number available ({available}) cannot be more than the maximum "
                                  f"({maximum}).", "available")


class ListingUpdateSchema(PatchSchema):
    accepting_referrals = fields.Boolean(metadata={"description": "the “accepting referrals” switch"})
    capacity = fields.Nested(CapacityInSchema, metadata={"description": "replaces the figures; updated becomes now"})


class ListingSchema(Schema):
    service_id = fields.String(required=True, attribute="id")
    name = fields.String(required=True)
    status = fields.String()
    accepting_referrals = fields.Boolean(required=True)
    capacity = fields.Nested(CapacitySchema, allow_none=True)
