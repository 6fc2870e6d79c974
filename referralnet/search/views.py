"""Coordinator pages: search the directory, and a service's full listing."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from referralnet.accounts.models import Role
from referralnet.accounts.routes import expected_routes

from referralnet.directory.public import get_service_view
from referralnet.errors import ValidationFailed
from referralnet.forms import LANGUAGES
from referralnet.geo.maps import check_tile_url, directions_url
from referralnet.search.forms import SearchForm
from referralnet.search.service import SearchQuery, search
from referralnet.search.signals import announce_search
from referralnet.web import attach_errors, search_return_url

bp = Blueprint("search", __name__)
PER_PAGE = 20


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def _query_from(form: SearchForm) -> SearchQuery:
    """Form values -> SearchQuery; raises ValidationFailed naming the field for what the form can't say."""
    open_at = None
    if form.when.data == "at":
        raw = (form.time.data or "").strip()
        try:
            hours, minutes = (int(p) for p in raw.split(":"))
            if not (0 <= hours < 24 and 0 <= minutes < 60):
                raise ValueError
        except ValueError:
            raise ValidationFailed("Enter the time as HH:MM, for example 14:30.",
                                   {"time": ["Enter the time as HH:MM, for example 14:30."]}) from None
        open_at = (int(form.day.data), hours * 60 + minutes)
    near = (form.near.data or "").strip() or None
    return SearchQuery(
        text=(form.q.data or "").strip(), near=near,
        radius_miles=float(form.radius.data) if form.radius.data and near else None,
        domains=list(form.domain.data or []), language=form.language.data or None,
        open_now=form.when.data == "now", open_at=open_at,
        accepting_only=bool(form.accepting.data), free_only=bool(form.free.data), age=form.age.data,
        sort=form.sort.data if near else "relevance", page=_page_number(), per_page=PER_PAGE,
    )


@bp.app_template_global()
def map_settings() -> dict:
    """What the map on the results and service pages needs: its tiles (None: markers only) and their credit."""
    return {"tiles": check_tile_url(current_app.config.get("MAP_TILE_URL")),
            "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION", "")}


bp.add_app_template_global(directions_url, "directions_url")


@bp.get("/search")
@login_required
def search_page():
    """Search the directory. Any signed-in user may search; results never include closed services.

    A coordinator searching for a client (`?client=<id>`) starts near the client's ZIP code, in
    their preferred language, and can tick results to refer the client to them.
    """
    for_client = _client_context()
    args = request.args
    searched = any(k in args for k in ("q", "near", "domain", "language", "when"))
    if for_client is not None and not searched:
        args = MultiDict(args)
        if for_client.zip_code:
            args.update({"near": for_client.zip_code, "radius": "10", "sort": "distance"})
        if for_client.preferred_language in {code for code, _ in LANGUAGES if code}:
            args["language"] = for_client.preferred_language
        searched = "near" in args or "language" in args
    form = SearchForm(args)
    results = None
    status = 200
    if searched:
        if form.validate():
            try:
                results = search(_query_from(form))
                announce_search(results, organization_id=current_user.organization_id)
            except ValidationFailed as exc:
                attach_errors(form, exc)
                status = 400
        else:
            status = 400
    routes = expected_routes([hit.service_id for hit in results.hits]) if results is not None else {}
    return render_template("search/search.html", form=form, results=results, searched=searched,
                           for_client=for_client, routes=routes, search_need=_search_need(form, results),
                           back_to=request.full_path.rstrip("?")), status


def _search_need(form: SearchForm, results) -> str | None:
    """The SDOH domain this search is about, to preselect on the referral form: the one domain ticked,
    else the one domain every need understood in the words belongs to (None when it is not one)."""
    ticked = [d for d in (form.domain.data or []) if d]
    if len(ticked) == 1:
        return ticked[0]
    if ticked or results is None or results.plan is None:
        return None
    domains = {need.domains[0] for _, need in results.plan.needs if need.domains}
    return domains.pop() if len(domains) == 1 else None


def _client_context():
    """The client a coordinator is searching for (404 if they may not see them), or None."""
    raw = request.args.get("client")
    if not raw or not current_user.has_role(Role.COORDINATOR):
        return None
    from referralnet.referrals.access import get_visible_client_or_404

    return get_visible_client_or_404(current_user, raw)


@bp.get("/services/<service_id>")
@login_required
def service(service_id: str):
    """A service's full listing: eligibility, documents, fees, hours, every location and phone."""
    view = get_service_view(service_id)
    return render_template("search/service.html", view=view, for_client=_client_context(),
                           back_to=search_return_url(request.args.get("back")),
                           route=expected_routes([view.service.id]).get(view.service.id))
