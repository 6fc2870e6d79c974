"""Input and output of the HSDS API: query-parameter schemas (load) and HSDS 3.0 documents (dump).

Parameters are loaded with marshmallow schemas; a bad value becomes a 400
naming the parameter (see `load_args`).

Documents are dumped by `build_documents(shape, rows)`. A `Shape` says which
children and nested objects a document carries (the nesting of the official
examples: service_full.json, organization_full.json, ...). The fields of each
record come from the HSDS table registry (`exporter.record_dict`: HSDS fields
only, nulls left out), and a child row sits under a parent only when that
parent is its most specific one (`exporter.PARENT_PRIORITY`), as in the export.
Why not one marshmallow schema per object: HSDS has twenty nested objects whose
fields the registry already knows, and the children must be loaded for a whole
page at once — one query per kind of child and level, whatever the page size —
which schemas walking ORM relationships would turn into a query per row.

What is never dumped: services that are not active (anywhere they would nest),
and for a confidential location (`Location.address_confidential`) its
addresses, coordinates, transportation directions, external (property)
identifier and its change history.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.directory.exporter import NESTABLE_ATTRIBUTE_PARENTS, PARENT_PRIORITY, hsds_value, record_dict
from referralnet.directory.hsds import BY_NAME, NESTED_OBJECTS
from referralnet.extensions import db
from referralnet.search.service import MAX_PER_PAGE, MAX_RADIUS_MILES

DEFAULT_PER_PAGE = 20
METERS_PER_MILE = 1609.344
ACTIVE = "active"

# --- parameters (load) ----------------------------------------------------------------------------

TRUTHY = {"true", "1", "yes"}
FALSY = {"false", "0", "no"}


class Flag(fields.Boolean):
    """A boolean query parameter: true/false (also 1/0, yes/no), case-insensitive."""

    truthy = TRUTHY | {v.upper() for v in TRUTHY} | {v.title() for v in TRUTHY}
    falsy = FALSY | {v.upper() for v in FALSY} | {v.title() for v in FALSY}
    default_error_messages = {"invalid": "Use true or false."}


class Timestamp(fields.Field):
    """An ISO 8601 date or date-time; without a zone it is taken as UTC. Loads an aware datetime."""

    default_error_messages = {"invalid": "Use an ISO 8601 date or date-time, like 2024-05-01 or "
                                         "2024-05-01T09:30:00Z."}

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise self.make_error("invalid") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)


class Distance(fields.Field):
    """HSDS `proximity`: meters, as the specification defines it; `mi`, `km` or `m` may be appended.

    Loads miles (what the search service takes).
    """

    PATTERN = re.compile(r"^\s*(-?(?:\d+(?:\.\d+)?|\.\d+))\s*(m|km|mi)?\s*$", re.I)
    UNIT_MILES = {"m": 1 / METERS_PER_MILE, "km": 1000 / METERS_PER_MILE, "mi": 1.0}
    default_error_messages = {
        "invalid": "Give the distance in meters (a number), or with a unit: 800m, 5km, 3mi.",
        "range": f"The distance must be more than 0 and at most {MAX_RADIUS_MILES} miles "
                 f"({round(MAX_RADIUS_MILES * METERS_PER_MILE)} meters).",
    }

    def _deserialize(self, value, attr, data, **kwargs) -> float:
        match = self.PATTERN.match(str(value))
        if not match:
            raise self.make_error("invalid")
        miles = float(match.group(1)) * self.UNIT_MILES[(match.group(2) or "m").lower()]
        if not 0 < miles <= MAX_RADIUS_MILES:
            raise self.make_error("range")
        return miles


class ZipCode(fields.String):
    default_error_messages = {"invalid": "Give a 5-digit US ZIP code, like 94063."}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        if not re.fullmatch(r"\d{5}(-\d{4})?", value):
            raise self.make_error("invalid")
        return value[:5]


MAX_PAGE = 100_000


class WholeNumber(fields.Integer):
    """A query parameter that is a whole number written in ASCII digits: “1.0”, “1_000”, “+3”, “٣” and
    a hundred digits are refused, not read as something else."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,9}", value.strip()):
            raise self.make_error("invalid")
        return super()._deserialize(value.strip(), attr, data, **kwargs)


class NoArgs(Schema):
    """The parameters of an endpoint that takes none. Unknown parameters are refused before any
    schema sees them (hsds.load_args), naming them and the ones the endpoint takes."""

    class Meta:
        unknown = RAISE



class FormatArgs(NoArgs):
    format = fields.String(load_default="json", validate=validate.OneOf(
        ["json", "ndjson"], error="Use json (paged) or ndjson (every result, one per line)."))


class PageArgs(FormatArgs):
    page = WholeNumber(load_default=1, validate=validate.Range(
        min=1, max=MAX_PAGE, error=f"The page number is a whole number from 1 to {MAX_PAGE:,}."),
        error_messages={"invalid": f"The page number must be a whole number from 1 to {MAX_PAGE:,}."})
    per_page = WholeNumber(load_default=DEFAULT_PER_PAGE, validate=validate.Range(
        min=1, max=MAX_PER_PAGE, error=f"Between 1 and {MAX_PER_PAGE} results per page."),
        error_messages={"invalid": f"per_page must be a whole number from 1 to {MAX_PER_PAGE}."})
    search = fields.String(load_default=None)


class ServiceListArgs(PageArgs):
    taxonomy_term_id = fields.String(load_default=None)
    taxonomy_id = fields.String(load_default=None)
    organization_id = fields.String(load_default=None)
    modified_after = Timestamp(load_default=None)
    minimal = Flag(load_default=False)
    full = Flag(load_default=False)

    @validates_schema
    def _minimal_or_full(self, data, **kwargs):
        if data.get("minimal") and data.get("full"):
            raise ValidationError({"minimal": ["Ask for minimal or full services, not both."],
                                   "full": ["Ask for minimal or full services, not both."]})


class ServiceAtLocationListArgs(PageArgs):
    taxonomy_term_id = fields.String(load_default=None)
    taxonomy_id = fields.String(load_default=None)
    organization_id = fields.String(load_default=None)
    modified_after = Timestamp(load_default=None)
    full = Flag(load_default=False)
    postcode = ZipCode(load_default=None)
    proximity = Distance(load_default=None)

    @validates_schema
    def _proximity_needs_postcode(self, data, **kwargs):
        if data.get("proximity") is not None and not data.get("postcode"):
            raise ValidationError({"proximity": ["Give a postcode to measure the proximity from."]})


class OrganizationListArgs(PageArgs):
    full = Flag(load_default=False)
    full_service = Flag(load_default=False)


class OrganizationArgs(NoArgs):
    full_service = Flag(load_default=False)


class TaxonomyListArgs(PageArgs):
    pass


class TaxonomyTermListArgs(PageArgs):
    taxonomy_id = fields.String(load_default=None)
    parent_id = fields.String(load_default=None)
    top_only = Flag(load_default=False)


def parse_args(schema: type[Schema], raw: dict[str, str]) -> dict[str, Any]:
    """Load query parameters; blank values count as absent. Raises marshmallow's ValidationError."""
    data = {key: value for key, value in raw.items() if value.strip() != ""}
    loaded = schema().load(data)
    if loaded.get("search") is not None:
        loaded["search"] = loaded["search"].strip() or None
    return loaded


# --- documents (dump) -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """What one kind of HSDS document holds: nested lists, nested objects, and attributes + metadata."""

    table: str
    lists: tuple[tuple[str, "Shape"], ...] = ()
    objects: tuple[tuple[str, "Shape"], ...] = ()
    extras: bool = False  # attributes (with their taxonomy terms) and metadata: full documents only

    def without(self, key: str) -> "Shape":
        return replace(self, lists=tuple(x for x in self.lists if x[0] != key),
                       objects=tuple(x for x in self.objects if x[0] != key))

    def plus(self, key: str, shape: "Shape") -> "Shape":
        return replace(self, lists=self.lists + ((key, shape),))


def _leaf(table: str) -> Shape:
    return Shape(table, extras=True)


LANGUAGE = _leaf("language")
PHONE = Shape("phone", lists=(("languages", LANGUAGE),), extras=True)
CONTACT = Shape("contact", lists=(("phones", PHONE),), extras=True)
SCHEDULE = _leaf("schedule")
PROGRAM = _leaf("program")
LOCATION = Shape("location", lists=(("languages", LANGUAGE), ("addresses", _leaf("address")), ("contacts", CONTACT),
                                    ("accessibility", _leaf("accessibility")), ("phones", PHONE),
                                    ("schedules", SCHEDULE)), extras=True)
ORGANIZATION = Shape("organization", lists=(("funding", _leaf("funding")), ("contacts", CONTACT), ("phones", PHONE),
                                            ("locations", LOCATION), ("programs", PROGRAM),
                                            ("organization_identifiers", _leaf("organization_identifier"))),
                     extras=True)
SERVICE_AT_LOCATION_IN_SERVICE = Shape("service_at_location",
                                       lists=(("contacts", CONTACT), ("phones", PHONE), ("schedules", SCHEDULE)),
                                       objects=(("location", LOCATION),), extras=True)
SERVICE = Shape("service", lists=(
    ("phones", PHONE), ("schedules", SCHEDULE), ("service_areas", _leaf("service_area")),
    ("service_at_locations", SERVICE_AT_LOCATION_IN_SERVICE), ("languages", LANGUAGE), ("funding", _leaf("funding")),
    ("cost_options", _leaf("cost_option")), ("required_documents", _leaf("required_document")),
    ("contacts", CONTACT), ("capacities", _leaf("service_capacity")),  # capacities: HSDS 3.1, ignored by 3.0 readers
), objects=(("organization", ORGANIZATION), ("program", PROGRAM)), extras=True)
SERVICE_AT_LOCATION = Shape("service_at_location",
                            lists=(("contacts", CONTACT), ("phones", PHONE), ("schedules", SCHEDULE)),
                            objects=(("location", LOCATION), ("service", SERVICE.without("service_at_locations"))),
                            extras=True)
# GET /organizations/{id}: services hold "simple information" unless full_service is asked for.
ORGANIZATION_WITH_SERVICES = ORGANIZATION.plus("services", Shape("service"))
ORGANIZATION_WITH_FULL_SERVICES = ORGANIZATION.plus("services", SERVICE.without("organization"))
TAXONOMY = Shape("taxonomy")
TAXONOMY_TERM = Shape("taxonomy_term", objects=(("taxonomy_detail", TAXONOMY),))

# Items of the paged lists: one-to-one fields only (compiled/*_list.json).
SERVICE_ITEM = Shape("service", objects=(("organization", Shape("organization")), ("program", Shape("program"))))
SERVICE_AT_LOCATION_ITEM = Shape("service_at_location",
                                 objects=(("location", Shape("location")), ("service", SERVICE_ITEM)))
ORGANIZATION_ITEM = Shape("organization")

MINIMAL_SERVICE_FIELDS = ("id", "name", "status", "last_modified")

# Never shown for a confidential place: where it is, or anything that leads there.
CONFIDENTIAL_LOCATION_FIELDS = ("latitude", "longitude", "transportation", "external_identifier",
                                "external_identifier_type")
CONFIDENTIAL_LOCATION_LISTS = ("addresses",)


def effective_last_modified(service: m.Service) -> datetime:
    """HSDS last_modified is when the service "or any related information" changed: the later of the
    stored value (kept from imports, set by edits) and when this directory last changed the row."""
    return max(t for t in (service.last_modified, service.updated_at) if t is not None)


def record(table: str, row) -> dict[str, Any]:
    """The HSDS fields of one row as this API shows them."""
    out = record_dict(BY_NAME[table], row)
    if table == "service":
        out["last_modified"] = hsds_value(effective_last_modified(row))
    elif table == "location" and row.address_confidential:
        for name in CONFIDENTIAL_LOCATION_FIELDS:
            out.pop(name, None)
    return out


def minimal_service(service: m.Service) -> dict[str, Any]:
    """`minimal=true`: what a sync client needs to decide what to fetch again.

    The specification asks for just id and a modification date; name and status
    stay because compiled/service_list.json requires them.
    """
    full = record("service", service)
    return {key: full[key] for key in MINIMAL_SERVICE_FIELDS if key in full}


def _parent_column(child: str, parent: str) -> str:
    """The column of `child` rows that points at a `parent` row."""
    if child == "service" and parent == "organization":
        return "organization_id"
    for column, table in PARENT_PRIORITY[child]:
        if table == parent:
            return column
    raise LookupError(f"{child} does not nest under {parent}")


def _is_home(child: str, row, column: str) -> bool:
    """True when `column` is the row's most specific parent, so it is shown there and nowhere else."""
    for candidate, _ in PARENT_PRIORITY.get(child, []):
        if getattr(row, candidate) is not None:
            return candidate == column
    return True


class DocumentBuilder:
    """Builds documents of one shape for many rows, loading each kind of child once per level."""

    def __init__(self, session=None):
        self.session = session or db.session
        self._extras: dict[int, tuple[str, str, dict]] = {}  # id(doc) -> (table, row id, doc)
        self._confidential_ids: set[str] = set()

    def build(self, shape: Shape, rows: list) -> list[dict[str, Any]]:
        docs = self._level(shape, rows)
        if self._extras:
            self._attach_extras()
        return docs

    def _level(self, shape: Shape, rows: list) -> list[dict[str, Any]]:
        docs = [record(shape.table, row) for row in rows]
        if not rows:
            return docs
        if shape.table == "location":
            self._confidential_ids.update(r.id for r in rows if r.address_confidential)
        if shape.extras:
            for row, doc in zip(rows, docs):
                self._extras[id(doc)] = (shape.table, row.id, doc)
        for key, child_shape in shape.lists:
            self._attach_list(shape, rows, docs, key, child_shape)
        for key, child_shape in shape.objects:
            self._attach_object(rows, docs, key, child_shape)
        return docs

    def _attach_list(self, shape: Shape, rows: list, docs: list[dict], key: str, child_shape: Shape) -> None:
        child = child_shape.table
        column = _parent_column(child, shape.table)
        parents = [r for r in rows if not (shape.table == "location" and key in CONFIDENTIAL_LOCATION_LISTS
                                           and r.address_confidential)]
        if not parents:
            return
        model = BY_NAME[child].model
        stmt = select(model).where(getattr(model, column).in_({r.id for r in parents}))
        if child == "service":
            stmt = stmt.where(model.status == ACTIVE).order_by(model.name, model.id)
        else:
            stmt = stmt.order_by(model.id)
        children = [c for c in self.session.scalars(stmt) if _is_home(child, c, column)]
        child_docs = self._level(child_shape, children)
        grouped: dict[str, list[dict]] = defaultdict(list)
        for row, doc in zip(children, child_docs):
            grouped[getattr(row, column)].append(doc)
        for row, doc in zip(rows, docs):
            if grouped.get(row.id):
                doc[key] = grouped[row.id]

    def _attach_object(self, rows: list, docs: list[dict], key: str, child_shape: Shape) -> None:
        table, column = NESTED_OBJECTS[key]
        ids = {getattr(r, column) for r in rows} - {None}
        if not ids:
            return
        model = BY_NAME[table].model
        stmt = select(model).where(model.id.in_(ids))
        if table == "service":
            stmt = stmt.where(model.status == ACTIVE)
        targets = list(self.session.scalars(stmt.order_by(model.id)))
        by_id = dict(zip((t.id for t in targets), self._level(child_shape, targets)))
        for row, doc in zip(rows, docs):
            target = by_id.get(getattr(row, column))
            if target is not None:
                doc[key] = target  # shared between parents: the same object serializes the same

    def _attach_extras(self) -> None:
        """Attributes (with their taxonomy terms) and metadata of every record of a full document."""
        targets = list(self._extras.values())
        ids = {row_id for _, row_id, _ in targets}
        attributes: dict[tuple[str, str], list[m.Attribute]] = defaultdict(list)
        for attr in self.session.scalars(select(m.Attribute).where(m.Attribute.link_id.in_(ids))
                                         .order_by(m.Attribute.id)):
            if attr.link_entity in NESTABLE_ATTRIBUTE_PARENTS:
                attributes[(attr.link_entity, attr.link_id)].append(attr)
        term_ids = {a.taxonomy_term_id for rows in attributes.values() for a in rows} - {None}
        terms = list(self.session.scalars(select(m.TaxonomyTerm).where(m.TaxonomyTerm.id.in_(term_ids))))
        term_docs = dict(zip((t.id for t in terms), DocumentBuilder(self.session).build(TAXONOMY_TERM, terms)))
        # A confidential place's history could hold its old address or coordinates.
        metadata: dict[str, list[m.Metadata]] = defaultdict(list)
        for row in self.session.scalars(select(m.Metadata).where(m.Metadata.resource_id.in_(
                ids - self._confidential_ids)).order_by(m.Metadata.id)):
            metadata[row.resource_id].append(row)
        for table, row_id, doc in targets:
            attrs = []
            for attr in attributes.get((table, row_id), []):
                attr_doc = record("attribute", attr)
                if attr.taxonomy_term_id in term_docs:
                    attr_doc["taxonomy_term"] = term_docs[attr.taxonomy_term_id]
                attrs.append(attr_doc)
            if attrs:
                doc["attributes"] = attrs
            history = [record("metadata", r) for r in metadata.get(row_id, [])]
            if history:
                doc["metadata"] = history


def build_documents(shape: Shape, rows: Iterable) -> list[dict[str, Any]]:
    """HSDS documents of `shape` for `rows` (ORM objects of shape.table), in the same order."""
    return DocumentBuilder().build(shape, list(rows))
