"""Directory endpoints (scope directory:read): search and one service, through the one search service."""
from __future__ import annotations

from referralnet.api.v1.common import make_blueprint, scoped
from referralnet.api.v1.schemas import DAYS, SearchResultsSchema, ServiceDetailSchema, ServiceSearchArgs
from referralnet.directory.public import get_service_view
from referralnet.search.service import SearchQuery, search

bp = make_blueprint("api_v1_directory", "The service directory: the coordinators' search, and each service.")


def _query(args: dict) -> SearchQuery:
    open_at = None
    if "open_day" in args:
        hours, minutes = (int(p) for p in args["open_time"].split(":"))
        open_at = (DAYS.index(args["open_day"]), hours * 60 + minutes)
    point = (args["lat"], args["lon"]) if "lat" in args else None
    near = args.get("near") if point is None else None
    return SearchQuery(
        text=args["q"].strip(), domains=args["domain"], term_ids=args["term_id"], near=near, point=point,
        radius_miles=args.get("radius"), language=args.get("language"), open_now=args["open_now"],
        open_at=open_at, accepting_only=args["accepting"], free_only=args["free"], age=args.get("age"),
        sort=args["sort"], page=args["page"], per_page=args["per_page"],
    )


@bp.route("/services", methods=["GET"])
@scoped("directory:read")
@bp.arguments(ServiceSearchArgs, location="query", as_kwargs=True)
@bp.response(200, SearchResultsSchema)
def search_services(**args):
    """Search active services (per place), with facets by SDOH domain.

    The same search as the coordinators' page: synonyms, spelling correction ("did you
    mean"), ranking, and filters by domain, taxonomy term, distance (`near` or `lat`+`lon`,
    `radius` in miles), language, opening hours (`open_now`, or `open_day`+`open_time` in
    each place's own time zone), accepting referrals, free of charge and age. `sort=distance`
    needs a place. Confidential places show neither address nor coordinates.
    """
    return search(_query(args))


@bp.route("/services/<service_id>", methods=["GET"])
@scoped("directory:read")
@bp.response(200, ServiceDetailSchema)
def get_service(service_id: str):
    """One active service with its places, hours, phones, documents and capacity (404 if closed)."""
    return get_service_view(service_id)
