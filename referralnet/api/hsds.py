"""The Open Referral HSDS 3.0 API under /hsds: read-only, public (no login), JSON.

Paths, parameters and response shapes follow the official description
(../shared/hsds/schema/openapi.json):

    GET /hsds/                                    version, profile, openapi_url
    GET /hsds/services                            paged; search page per_page format taxonomy_term_id
                                                  taxonomy_id organization_id modified_after minimal full
    GET /hsds/services/{id}                       the fully nested service
    GET /hsds/service_at_locations                paged; the same filters (no minimal) plus postcode, proximity
    GET /hsds/service_at_locations/{id}           fully nested, with its location and service
    GET /hsds/organizations                       paged; search page per_page format full full_service
    GET /hsds/organizations/{id}                  fully nested, services as one-to-one fields (full_service)
    GET /hsds/taxonomies[/{id}]                   paged; search page per_page format
    GET /hsds/taxonomy_terms[/{id}]               paged; search page per_page format taxonomy_id parent_id top_only

Decisions, so that clients can rely on them:

- Only *active* services are published: lists, documents, and services nested
  in organizations or service_at_locations. A service that is inactive, defunct
  or temporarily closed answers 404, as if it had been removed. These are the
  search service's rules (it indexes active services only); a client keeping a
  copy in sync drops what stops appearing. Organizations, locations and
  taxonomies have no status and are all published.
- `search`, `taxonomy_term_id`, `taxonomy_id`, `postcode` and `proximity` run
  through the one search service (`referralnet.search.service.search`): the
  same synonyms, spelling correction, ranking and visibility as the
  coordinator's search. Its hits are per place; /services keeps each service
  once, at the rank of its best place; /organizations keeps each organization
  once (so an organization is found by text through its active services — the
  index holds services, not organizations). Without those parameters, lists
  come from the database ordered by name. Taxonomies and terms are not in the
  index: their `search` is a case-insensitive match on name, code and description.
- `taxonomy_term_id` matches services tagged with that very term (narrower terms
  are not included: the index stores each service's own terms). `taxonomy_id`
  means "has any term of this taxonomy"; with `taxonomy_term_id` both must hold.
  A filter naming an unknown id gives an empty page, not an error.
- `proximity` is in meters, as openapi.json defines it ("within meters from the
  centroid of the provided postcode"); `800m`, `5km` or `3mi` may be written
  too. It needs `postcode`; at most 250 miles. `postcode` is a US ZIP code;
  with it results are ordered by distance, and places that cannot be placed on
  a map (virtual, or confidential) are left out, as in the search service.
  `service_area` coverage of a postcode is not checked: our service areas are
  free-text place names.
- `modified_after` (ISO 8601 date or date-time, UTC when no zone is given)
  keeps services whose `last_modified` is on or after it. `last_modified` as
  this API shows it is the later of the stored HSDS value and the moment this
  directory last changed the service row. For service_at_locations the
  service_at_location, its service and its location rows all count.
- `minimal=true` gives `id`, `last_modified`, and `name` and `status` (which
  compiled/service_list.json requires). `full=true` gives fully nested documents
  in the lists; `full_service=true` fully nested services in organizations (and
  implies `full` on the organization list). Asking for both minimal and full is a 400.
- `format=ndjson` streams every result, one JSON document per line
  (application/x-ndjson), without paging.
- Paging: `page` from 1, `per_page` 1..100 (default 20). `size` is the number of
  items on the page; `total_pages` is 0 when nothing matched; a page past the
  end is empty (200); `page` is at most 100,000. Blank parameters count as absent.
- Bad parameters answer 400 with the error contract
  `{code: "bad_request", status, message, errors: {parameter: [messages]}}`: a value
  that is not what the parameter takes (`page=abc`, `page=1.5`, `page=0`, a NUL
  character), a parameter the endpoint does not take (the message lists those it
  does), or one given twice.
- Confidential locations never show addresses, coordinates, transportation
  directions or external identifiers (see hsds_serializers).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from marshmallow import Schema, ValidationError
from sqlalchemy import ColumnElement, Select, func, or_, select

from referralnet.api.hsds_serializers import (
    ORGANIZATION_ITEM, ORGANIZATION_WITH_FULL_SERVICES, ORGANIZATION_WITH_SERVICES, SERVICE, SERVICE_AT_LOCATION,
    SERVICE_AT_LOCATION_ITEM, SERVICE_ITEM, TAXONOMY, TAXONOMY_TERM, ACTIVE, OrganizationArgs,
    NoArgs, OrganizationListArgs, ServiceAtLocationListArgs, ServiceListArgs, TaxonomyListArgs,
    TaxonomyTermListArgs, build_documents, minimal_service, parse_args,
)
from referralnet.directory import models as m
from referralnet.errors import DomainError, NotFound, ValidationFailed, error_response
from referralnet.extensions import db, limiter
from referralnet.search.service import MAX_PER_PAGE, Match, SearchQuery, search_matches

bp = Blueprint("hsds", __name__, url_prefix="/hsds")


@bp.errorhandler(ValidationFailed)
def _bad_parameter(exc: ValidationFailed):
    """Read-only: whatever this API finds invalid is in the query (a NUL character, a search it cannot
    run), so it is the one HSDS contract, a 400 naming the parameter."""
    return error_response(400, BadParameter.code, exc.message, exc.errors)
# A public API whose searches cost real work: limited per client address (HSDS_RATE_LIMIT).
limiter.limit(lambda: current_app.config["HSDS_RATE_LIMIT"])(bp)

HSDS_VERSION = "3.0"
OPENAPI_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json"
# No HSDS profile of our own: the profile is HSDS 3.0 itself. HSDS_PROFILE_URL overrides it.
DEFAULT_PROFILE_URL = "https://docs.openreferral.org/en/v3.0/"


class BadParameter(DomainError):
    """A query parameter the API cannot use; `errors` names each parameter."""

    status = 400
    code = "bad_request"


# Names the search service gives its inputs -> the HSDS parameters they came from.
SEARCH_FIELD_PARAMETERS = {"near": "postcode", "radius": "proximity", "text": "search"}


# --- selections: what a list endpoint returns, counted and fetched a slice at a time ----------------

@dataclass
class QuerySelection:
    """Rows of a SELECT of one model, in its ORDER BY."""

    stmt: Select

    def count(self) -> int:
        return db.session.scalar(select(func.count()).select_from(self.stmt.order_by(None).subquery()))

    def rows(self, offset: int, limit: int) -> list:
        return list(db.session.scalars(self.stmt.offset(offset).limit(limit)))


@dataclass
class IdSelection:
    """Rows whose ids came ranked from the search service, in that order.

    `where` re-checks what may be shown against the database (the source of
    truth), so a stale index entry can never publish a closed service.
    """

    model: type
    ids: list[str]
    where: list[ColumnElement] = field(default_factory=list)
    # id -> its best search match, which says why it matched (asked only for the rows shown)
    reasons: dict[str, Match] = field(default_factory=dict)

    def count(self) -> int:
        return len(self.ids)

    def rows(self, offset: int, limit: int) -> list:
        ids = self.ids[offset:offset + limit]
        if not ids:
            return []
        found = {r.id: r for r in db.session.scalars(select(self.model).where(self.model.id.in_(ids), *self.where))}
        return [found[i] for i in ids if i in found]


Selection = QuerySelection | IdSelection


def _empty(model: type) -> IdSelection:
    return IdSelection(model, [])


def _unique(values) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def search_hits(query: SearchQuery) -> list[Match]:
    """Every match of a search, best (or nearest) first, from the one search service.

    Raises BadParameter (naming the HSDS parameter) when the search service refuses the query.
    """
    try:
        return search_matches(query)
    except ValidationFailed as exc:
        errors = {SEARCH_FIELD_PARAMETERS.get(k, k): v for k, v in (exc.errors or {}).items()}
        raise BadParameter(exc.message, errors) from None


def _reasons(hits: list[Match], key) -> dict[str, Match]:
    """Each listed id's best-ranked hit (which explains the match when asked)."""
    out: dict[str, Match] = {}
    for h in hits:
        out.setdefault(key(h), h)
    return out


def _term_ids(taxonomy_term_id: str | None, taxonomy_id: str | None) -> list[str] | None:
    """Term ids for the search service's filter: None for no filter, [] when nothing can match."""
    if taxonomy_id is None:
        return None if taxonomy_term_id is None else [taxonomy_term_id]
    in_taxonomy = list(db.session.scalars(select(m.TaxonomyTerm.id).where(m.TaxonomyTerm.taxonomy_id == taxonomy_id)))
    if taxonomy_term_id is not None:
        return [taxonomy_term_id] if taxonomy_term_id in in_taxonomy else []
    return in_taxonomy


def _service_modified_since(since) -> ColumnElement:
    return or_(m.Service.updated_at >= since, m.Service.last_modified >= since)


def _service_at_location_modified_since(since) -> ColumnElement:
    return or_(m.ServiceAtLocation.updated_at >= since, _service_modified_since(since), m.Location.updated_at >= since)


def _services_at_locations_stmt(*columns) -> Select:
    return (select(*(columns or (m.ServiceAtLocation,)))
            .join(m.Service, m.ServiceAtLocation.service_id == m.Service.id)
            .outerjoin(m.Location, m.ServiceAtLocation.location_id == m.Location.id)
            .where(m.Service.status == ACTIVE))


# --- queries: plain functions of plain values; they never read the request -------------------------

def select_services(*, search: str | None = None, taxonomy_term_id: str | None = None,
                    taxonomy_id: str | None = None, organization_id: str | None = None,
                    modified_after=None) -> Selection:
    """Active services for GET /services. Text and taxonomy filters go through the search service
    (one entry per service, at its best place's rank); otherwise by name from the database.
    Raises BadParameter when the search service refuses the query."""
    term_ids = _term_ids(taxonomy_term_id, taxonomy_id)
    if search is None and term_ids is None:
        stmt = select(m.Service).where(m.Service.status == ACTIVE)
        if organization_id is not None:
            stmt = stmt.where(m.Service.organization_id == organization_id)
        if modified_after is not None:
            stmt = stmt.where(_service_modified_since(modified_after))
        return QuerySelection(stmt.order_by(func.lower(m.Service.name), m.Service.id))
    if term_ids == []:
        return _empty(m.Service)
    hits = search_hits(SearchQuery(text=search or "", term_ids=term_ids or [], organization_id=organization_id))
    ids = _unique(h.service_id for h in hits)
    if modified_after is not None:
        changed = set(db.session.scalars(select(m.Service.id).where(_service_modified_since(modified_after))))
        ids = [i for i in ids if i in changed]
    return IdSelection(m.Service, ids, [m.Service.status == ACTIVE], _reasons(hits, lambda h: h.service_id))


def select_services_at_locations(*, search: str | None = None, taxonomy_term_id: str | None = None,
                                 taxonomy_id: str | None = None, organization_id: str | None = None,
                                 modified_after=None, postcode: str | None = None,
                                 proximity: float | None = None) -> Selection:
    """Service_at_locations of active services for GET /service_at_locations.

    Text, taxonomy and place filters go through the search service: `postcode`
    orders by distance from the ZIP centroid, `proximity` (miles here) keeps
    what lies within it. Raises BadParameter for an unknown postcode.
    """
    term_ids = _term_ids(taxonomy_term_id, taxonomy_id)
    if search is None and term_ids is None and postcode is None:
        stmt = _services_at_locations_stmt()
        if organization_id is not None:
            stmt = stmt.where(m.Service.organization_id == organization_id)
        if modified_after is not None:
            stmt = stmt.where(_service_at_location_modified_since(modified_after))
        return QuerySelection(stmt.order_by(func.lower(m.Service.name), func.coalesce(func.lower(m.Location.name), ""),
                                            m.ServiceAtLocation.id))
    if term_ids == []:
        return _empty(m.ServiceAtLocation)
    hits = search_hits(SearchQuery(text=search or "", term_ids=term_ids or [], organization_id=organization_id,
                                   near=postcode, radius_miles=proximity,
                                   sort="distance" if postcode else "relevance"))
    ids = _unique(h.service_at_location_id for h in hits if h.service_at_location_id is not None)
    if modified_after is not None:
        changed = set(db.session.scalars(_services_at_locations_stmt(m.ServiceAtLocation.id)
                                         .where(_service_at_location_modified_since(modified_after))))
        ids = [i for i in ids if i in changed]
    return IdSelection(m.ServiceAtLocation, ids, [m.ServiceAtLocation.service.has(m.Service.status == ACTIVE)],
                       _reasons(hits, lambda h: h.service_at_location_id))


def select_organizations(*, search: str | None = None) -> Selection:
    """Organizations for GET /organizations: by name, or ranked by the search service's best hit
    among their active services. Raises BadParameter when the search service refuses the query."""
    if search is None:
        return QuerySelection(select(m.Organization).order_by(func.lower(m.Organization.name), m.Organization.id))
    hits = search_hits(SearchQuery(text=search))
    return IdSelection(m.Organization, _unique(h.organization_id for h in hits),
                       reasons=_reasons(hits, lambda h: h.organization_id))


def select_taxonomies(*, search: str | None = None) -> Selection:
    """Taxonomies for GET /taxonomies, by name; `search` matches name or description."""
    stmt = select(m.Taxonomy)
    if search is not None:
        stmt = stmt.where(or_(m.Taxonomy.name.icontains(search, autoescape=True),
                              m.Taxonomy.description.icontains(search, autoescape=True)))
    return QuerySelection(stmt.order_by(func.lower(m.Taxonomy.name), m.Taxonomy.id))


def select_taxonomy_terms(*, search: str | None = None, taxonomy_id: str | None = None,
                          parent_id: str | None = None, top_only: bool = False) -> Selection:
    """Taxonomy terms for GET /taxonomy_terms, by name.

    `top_only` keeps terms without a parent. (openapi.json words it "terms that
    have not child terms", which contradicts the parameter's name and would
    exclude every term that has children; we read it as "not child terms".)
    """
    term = m.TaxonomyTerm
    stmt = select(term)
    if search is not None:
        stmt = stmt.where(or_(term.name.icontains(search, autoescape=True),
                              term.code.icontains(search, autoescape=True),
                              term.description.icontains(search, autoescape=True)))
    if taxonomy_id is not None:
        stmt = stmt.where(term.taxonomy_id == taxonomy_id)
    if parent_id is not None:
        stmt = stmt.where(term.parent_id == parent_id)
    if top_only:
        stmt = stmt.where(term.parent_id.is_(None))
    return QuerySelection(stmt.order_by(func.lower(term.name), term.id))


def get_service(service_id: str) -> m.Service:
    """An active service. Raises NotFound otherwise (closed services are not published)."""
    service = db.session.get(m.Service, service_id)
    if service is None or service.status != ACTIVE:
        raise NotFound(f"No active service has the id {service_id!r}.", {"id": ["Unknown service."]})
    return service


def get_service_at_location(sal_id: str) -> m.ServiceAtLocation:
    """A service_at_location of an active service. Raises NotFound otherwise."""
    sal = db.session.get(m.ServiceAtLocation, sal_id)
    if sal is None or sal.service is None or sal.service.status != ACTIVE:
        raise NotFound(f"No service_at_location of an active service has the id {sal_id!r}.",
                       {"id": ["Unknown service_at_location."]})
    return sal


def _get(model: type, object_id: str, label: str):
    row = db.session.get(model, object_id)
    if row is None:
        raise NotFound(f"No {label} has the id {object_id!r}.", {"id": [f"Unknown {label}."]})
    return row


def get_organization(org_id: str) -> m.Organization:
    """Raises NotFound for an unknown id."""
    return _get(m.Organization, org_id, "organization")


def get_taxonomy(taxonomy_id: str) -> m.Taxonomy:
    """Raises NotFound for an unknown id."""
    return _get(m.Taxonomy, taxonomy_id, "taxonomy")


def get_taxonomy_term(term_id: str) -> m.TaxonomyTerm:
    """Raises NotFound for an unknown id."""
    return _get(m.TaxonomyTerm, term_id, "taxonomy term")


# --- responses ------------------------------------------------------------------------------------

Dump = Callable[[list], list[dict[str, Any]]]


def load_args(schema: type[Schema] = NoArgs) -> dict[str, Any]:
    """The request's query parameters through `schema`. Raises BadParameter naming each bad one:
    unknown to the endpoint, given more than once, or a value it cannot take."""
    taken = sorted(schema().fields)
    errors: dict[str, list[str]] = {}
    for name in request.args:
        if name not in taken:
            errors[name] = [f"This endpoint takes {', '.join(taken)}." if taken
                            else "This endpoint takes no parameters."]
        elif len(request.args.getlist(name)) > 1:
            errors[name] = ["Give this parameter once."]
    if errors:
        raise BadParameter(f"Invalid query parameters: {', '.join(errors)}. {next(iter(errors.values()))[0]}",
                           errors)
    try:
        return parse_args(schema, request.args.to_dict())
    except ValidationError as exc:
        errors = exc.normalized_messages()
        detail = "; ".join(f"{name}: {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
                           for name, messages in errors.items())
        raise BadParameter(f"Invalid query parameters. {detail}", errors) from None


def _shape_dump(shape) -> Dump:
    return lambda rows: build_documents(shape, rows)


def _minimal_dump(rows: list) -> list[dict[str, Any]]:
    return [minimal_service(r) for r in rows]


def page_body(selection: Selection, dump: Dump, page: int, per_page: int) -> dict[str, Any]:
    """The HSDS page envelope around one page of documents."""
    total = selection.count()
    offset = (page - 1) * per_page
    contents = _with_reasons(selection, dump(selection.rows(offset, per_page))) if offset < total else []
    total_pages = math.ceil(total / per_page)
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }


def _with_reasons(selection: Selection, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A text search's documents each say why they matched, in `match_reasons` (a ReferralNet
    extension property; HSDS 3.0 objects allow extra properties)."""
    reasons = getattr(selection, "reasons", None)
    if reasons:
        for doc in docs:
            hit = reasons.get(doc.get("id"))
            why = hit.why if hit is not None else ()
            if why:
                doc["match_reasons"] = list(why)
    return docs


def _ndjson_lines(selection: Selection, dump: Dump) -> Iterator[str]:
    total = selection.count()
    for offset in range(0, total, MAX_PER_PAGE):
        for doc in _with_reasons(selection, dump(selection.rows(offset, MAX_PER_PAGE))):
            yield current_app.json.dumps(doc) + "\n"


def list_response(selection: Selection, args: dict[str, Any], dump: Dump):
    if args["format"] == "ndjson":
        return Response(stream_with_context(_ndjson_lines(selection, dump)), mimetype="application/x-ndjson")
    return jsonify(page_body(selection, dump, args["page"], args["per_page"]))


def _pick(args: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: args[name] for name in names}


# --- views ----------------------------------------------------------------------------------------

@bp.get("/")
def index():
    """What this API is: HSDS 3.0, its profile and the OpenAPI description it follows."""
    load_args()
    return jsonify({"version": HSDS_VERSION,
                    "profile": current_app.config.get("HSDS_PROFILE_URL", DEFAULT_PROFILE_URL),
                    "openapi_url": OPENAPI_URL})


@bp.get("/services")
def services():
    args = load_args(ServiceListArgs)
    selection = select_services(**_pick(args, "search", "taxonomy_term_id", "taxonomy_id", "organization_id",
                                        "modified_after"))
    if args["minimal"]:
        dump = _minimal_dump
    else:
        dump = _shape_dump(SERVICE if args["full"] else SERVICE_ITEM)
    return list_response(selection, args, dump)


@bp.get("/services/<service_id>")
def service(service_id: str):
    load_args()
    return jsonify(build_documents(SERVICE, [get_service(service_id)])[0])


@bp.get("/service_at_locations")
def services_at_locations():
    args = load_args(ServiceAtLocationListArgs)
    selection = select_services_at_locations(**_pick(args, "search", "taxonomy_term_id", "taxonomy_id",
                                                     "organization_id", "modified_after", "postcode", "proximity"))
    return list_response(selection, args, _shape_dump(SERVICE_AT_LOCATION if args["full"]
                                                      else SERVICE_AT_LOCATION_ITEM))


@bp.get("/service_at_locations/<sal_id>")
def service_at_location(sal_id: str):
    load_args()
    return jsonify(build_documents(SERVICE_AT_LOCATION, [get_service_at_location(sal_id)])[0])


@bp.get("/organizations")
def organizations():
    args = load_args(OrganizationListArgs)
    if args["full_service"]:
        shape = ORGANIZATION_WITH_FULL_SERVICES
    else:
        shape = ORGANIZATION_WITH_SERVICES if args["full"] else ORGANIZATION_ITEM
    return list_response(select_organizations(search=args["search"]), args, _shape_dump(shape))


@bp.get("/organizations/<org_id>")
def organization(org_id: str):
    args = load_args(OrganizationArgs)
    shape = ORGANIZATION_WITH_FULL_SERVICES if args["full_service"] else ORGANIZATION_WITH_SERVICES
    return jsonify(build_documents(shape, [get_organization(org_id)])[0])


@bp.get("/taxonomies")
def taxonomies():
    args = load_args(TaxonomyListArgs)
    return list_response(select_taxonomies(search=args["search"]), args, _shape_dump(TAXONOMY))


@bp.get("/taxonomies/<taxonomy_id>")
def taxonomy(taxonomy_id: str):
    load_args()
    return jsonify(build_documents(TAXONOMY, [get_taxonomy(taxonomy_id)])[0])


@bp.get("/taxonomy_terms")
def taxonomy_terms():
    args = load_args(TaxonomyTermListArgs)
    selection = select_taxonomy_terms(**_pick(args, "search", "taxonomy_id", "parent_id", "top_only"))
    return list_response(selection, args, _shape_dump(TAXONOMY_TERM))


@bp.get("/taxonomy_terms/<term_id>")
def taxonomy_term(term_id: str):
    load_args()
    return jsonify(build_documents(TAXONOMY_TERM, [get_taxonomy_term(term_id)])[0])
