"""Referral pages: the coordinator's clients, consent, sending and worklist, and the one
referral page both parties share (status actions, messages, closing the loop).

Views parse the form, fetch through `referrals.access` (404 for anything the user may
not see), call one service function and render or redirect. The request's one commit
(or rollback, for an error status) happens in the app's after_request hook.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from sqlalchemy.orm import joinedload

from referralnet.accounts.models import Role
from referralnet.accounts.permissions import role_required
from referralnet.directory.sdoh import sdoh_terms
from referralnet.errors import Conflict, DomainError, InvalidTransition, NotPermitted, ValidationFailed
from referralnet.referrals import services, worklists
from referralnet.referrals.access import (client_details_shared, get_visible_client_or_404, get_visible_referral_or_404,
                                         get_visible_referral_page_or_404)
from referralnet.accounts.routes import DeliveryRoute, expected_routes
from referralnet.referrals.actors import OnBehalf
from referralnet.referrals.forms import (CONSENT_LABELS, CONTACT_LABELS, PATIENT_REPORT_LABELS, PRIORITY_LABELS,
                                         VERIFIED_OUTCOME_LABELS,
                                         AgencyLinkForm, ClientForm, ClientReportForm, CloseLoopForm, ConsentForm,
                                         ListFilterForm, MessageForm, SendForm, TransitionForm, language_label)
from referralnet.referrals.models import Client, Consent, Referral
from referralnet.referrals.progress import progress_of
from referralnet.referrals.states import (OUTCOME_LABELS, REASON_LABELS, SETTABLE, Move, Status, details_for,
                                          offered_moves)
from referralnet.web import attach_errors, page_arg, search_return_url

bp = Blueprint("referrals", __name__)
CLIENTS_PER_PAGE = 25

# What each status move is called on its button, and what the page says once it is done.
ACTION_LABELS = {
    Status.ACCEPTED: (_l("Accept"), _l("Referral accepted.")),
    Status.REJECTED: (_l("Decline"), _l("Referral declined.")),
    Status.IN_PROGRESS: (_l("Start work"), _l("Marked as in progress.")),
    Status.ON_HOLD: (_l("Put on hold"), _l("Referral put on hold.")),
    Status.COMPLETED: (_l("Complete"), _l("Referral completed.")),
    Status.FAILED: (_l("Could not help"), _l("Referral marked as failed.")),
    Status.CANCELLED: (_l("Cancel referral"), _l("Referral cancelled.")),
    Status.ENTERED_IN_ERROR: (_l("Entered in error"), _l("Referral marked as entered in error.")),
}


@bp.app_context_processor
def referral_labels():
    return {"REASON_LABELS": REASON_LABELS, "OUTCOME_LABELS": OUTCOME_LABELS, "PRIORITY_LABELS": PRIORITY_LABELS,
            "CONTACT_LABELS": CONTACT_LABELS, "CONSENT_LABELS": CONSENT_LABELS,
            "VERIFIED_OUTCOME_LABELS": VERIFIED_OUTCOME_LABELS, "language_label": language_label,
            "PATIENT_REPORT_LABELS": PATIENT_REPORT_LABELS,
            "domain_name": lambda code: sdoh_terms().get(code, {}).get("name", code),
            "is_overdue": services.is_overdue}


# --- clients -------------------------------------------------------------------------------------

@bp.get("/clients")
@role_required(Role.COORDINATOR)
def clients():
    """The organization's clients, found by name, newest first."""
    q = request.args.get("q", "").strip()
    result, open_counts = services.find_clients(current_user, q, request.args.get("page"), per_page=CLIENTS_PER_PAGE)
    return render_template("referrals/clients.html", clients=result.items, q=q, page=result.page, pages=result.pages,
                           total=result.total, open_counts=open_counts, service_ids=request.args.getlist("service"),
                           need=_need_arg())


@bp.route("/clients/new", methods=["GET", "POST"])
@role_required(Role.COORDINATOR)
def new_client():
    """Add a client; the same name and date of birth as an existing client warns and offers that record."""
    form = ClientForm()
    service_ids = list(dict.fromkeys(s for s in request.values.getlist("service") if s))
    duplicates = []
    if form.validate_on_submit():
        values = form.values()
        duplicates = services.find_possible_duplicates(current_user, values["given_name"], values["family_name"],
                                                       values["date_of_birth"])
        if not duplicates or form.create_anyway.data:
            try:
                client = services.create_client(current_user, **values)
            except ValidationFailed as exc:
                attach_errors(form, exc)
            else:
                flash(_("%(name)s was added.", name=client.full_name), "success")
                if service_ids:
                    return redirect(url_for(".send", client_id=client.id, service=service_ids, need=_need_arg()))
                return redirect(url_for(".client", client_id=client.id))
    status = 400 if form.errors else 200
    return render_template("referrals/client_form.html", form=form, client=None, duplicates=duplicates,
                           service_ids=service_ids, need=_need_arg()), status


@bp.get("/clients/<client_id>")
@role_required(Role.COORDINATOR)
def client(client_id):
    """Everything about one client: details, consents, and every referral with its timeline."""
    # The consents with their agencies joined to the client's row (a client has a few): no query of their own.
    person = get_visible_client_or_404(current_user, client_id,
                                       joinedload(Client.consents).joinedload(Consent.receiving_organization))
    services.record_client_view(current_user, person)
    return render_template("referrals/client.html", client=person,
                           referrals=services.list_client_referrals(current_user, person), revoke_form=ConsentForm())


@bp.route("/clients/<client_id>/edit", methods=["GET", "POST"])
@role_required(Role.COORDINATOR)
def edit_client(client_id):
    person = get_visible_client_or_404(current_user, client_id)
    form = ClientForm(obj=person) if request.method == "GET" else ClientForm()
    if request.method == "GET":
        form.date_of_birth.data = person.date_of_birth.isoformat()
    if form.validate_on_submit():
        try:
            services.update_client(current_user, person, **form.values())
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            flash(_("The client's details were saved."), "success")
            return redirect(url_for(".client", client_id=person.id))
    services.record_client_view(current_user, person)
    return render_template("referrals/client_form.html", form=form, client=person, duplicates=[],
                           service_ids=[]), 400 if form.errors else 200


@bp.post("/clients/<client_id>/consents/<int:consent_id>/revoke")
@role_required(Role.COORDINATOR)
def revoke_consent(client_id, consent_id: int):
    person = get_visible_client_or_404(current_user, client_id)
    consent = services.find_client_consent(person, consent_id)
    if consent is None or not ConsentForm().validate_on_submit():
        abort(404 if consent is None else 400)
    withdrawal = services.revoke_consent(current_user, consent)
    flash(_("Consent to share with %(organization)s was withdrawn.",
            organization=consent.receiving_organization.name), "success")
    if withdrawal.cancelled:
        flash(ngettext("%(num)d referral it had not accepted yet was cancelled; the agency was told.",
                       "%(num)d referrals it had not accepted yet were cancelled; the agency was told.",
                       len(withdrawal.cancelled)), "info")
    return redirect(url_for(".client", client_id=person.id))


# --- sending -------------------------------------------------------------------------------------

@bp.get("/referrals/new")
@role_required(Role.COORDINATOR)
def choose_client():
    """From a service page or search results: pick the client to refer (or add one)."""
    service_ids = [s for s in request.args.getlist("service") if s]
    if not service_ids:
        return _nothing_ticked(None)
    return redirect(url_for(".clients", service=service_ids, need=_need_arg()))


def _need_arg() -> str | None:
    """The need the search was about (`need`, an SDOH domain code), carried to the referral form."""
    need = request.values.get("need")
    return need if need in sdoh_terms() else None


def _nothing_ticked(person: Client | None):
    """"Refer" with no service ticked: back to the search as it was (its words and filters kept)."""
    flash(_("Choose the services to refer to: tick the ones that fit, then “Refer”."), "info")
    back = search_return_url(request.args.get("back"))
    return redirect(back or url_for("search.search_page", client=person.id if person else None))


@bp.route("/clients/<client_id>/refer", methods=["GET", "POST"])
@role_required(Role.COORDINATOR)
def send(client_id):
    """Refer one client to one or more services: one referral each, consent recorded where missing."""
    person = get_visible_client_or_404(current_user, client_id)
    previous = _previous_referral(request.values.get("previous"))
    form = SendForm()
    chosen = list(dict.fromkeys(s for s in (form.service_ids.data if request.method == "POST"
                                            else request.args.getlist("service")) if s))
    options = services.list_services_in_order(chosen)
    form.service_ids.choices = [(s.id, s.name) for s in options]
    orgs = {s.organization_id: s.organization for s in options if s.organization is not None}
    form.consent_org_ids.choices = [(org_id, org.name) for org_id, org in orgs.items()]
    consented = {org_id for org_id in orgs if services.has_consent(person, org_id)}
    routes = expected_routes([s.id for s in options])
    if request.method == "GET":
        form.service_ids.data = [s.id for s in options]
        if previous is not None:
            form.category.data, form.priority.data, form.previous.data = \
                previous.category, previous.priority, str(previous.id)
        elif _need_arg():
            form.category.data = _need_arg()
    if form.validate_on_submit():
        result = _send(person, form, previous)
        if result is not None:
            flash(ngettext("%(num)d referral sent for %(name)s.", "%(num)d referrals sent for %(name)s.", len(result),
                           name=person.full_name), "success")
            return redirect(url_for(".client", client_id=person.id) if len(result) > 1
                            else url_for(".referral", referral_id=result[0].id))
    if not options and request.method == "GET":
        return _nothing_ticked(person)
    return render_template("referrals/send.html", form=form, client=person, options=options, orgs=orgs,
                           consented=consented, previous=previous, routes=routes, delivery=_delivery_choices(options),
                           route_errors=getattr(form, "route_errors", {})), 400 if form.errors else 200


def _delivery_choices(options) -> dict[str, dict]:
    """For each service outside the network: the route the coordinator chose ("link" or "tracked")
    and the address typed, as posted (or the directory's defaults on a first view)."""
    from referralnet.accounts.routes import directory_email

    chosen = {}
    for svc in options:
        default_email = directory_email(svc) or ""
        if request.method == "POST":
            route = request.form.get(f"route-{svc.id}") or ("link" if default_email else "tracked")
            email = request.form.get(f"agency_email-{svc.id}", default_email)
        else:
            route, email = ("link" if default_email else "tracked"), default_email
        chosen[svc.id] = {"route": route if route in ("link", "tracked") else "tracked", "email": email}
    return chosen


def _previous_referral(raw) -> Referral | None:
    if not raw:
        return None
    return get_visible_referral_or_404(current_user, raw)


def _send(person: Client, form: SendForm, previous: Referral | None):
    """Send what the form asks for; returns the referrals, or None (with the errors on the form)."""
    if not form.service_ids.data:
        form.service_ids.errors = [_("Choose at least one service.")]
        return None
    if not form.category.data:
        form.category.errors = [_("Choose the social need this referral addresses.")]
        return None
    chosen = services.list_services_in_order(form.service_ids.data)
    delivery = _delivery_choices(chosen)
    blank = {svc.id: [_("Enter %(agency)s's email address, or choose to track the referral yourself.",
                        agency=svc.organization.name)]
             for svc in chosen if svc.id in delivery and delivery[svc.id]["route"] == "link"
             and not (delivery[svc.id]["email"] or "").strip() and svc.organization is not None}
    if blank:
        form.route_errors = blank
        form.service_ids.errors = [_("Nothing was sent: say how the referral should reach each agency outside the "
                                     "network.")]
        return None
    try:
        return services.send_referrals_with_consent(
            current_user, person, form.service_ids.data, consent_organization_ids=form.consent_org_ids.data,
            consent_method=form.consent_method.data, previous_referral=previous, category=form.category.data,
            priority=form.priority.data, note_to_partner=form.note_to_partner.data,
            client_availability=form.client_availability.data,
            agency_emails={sid: d["email"] for sid, d in delivery.items() if d["route"] == "link"},
            tracked=[sid for sid, d in delivery.items() if d["route"] == "tracked"])
    except (ValidationFailed, Conflict, InvalidTransition) as exc:
        # The 400 that follows rolls back the consents recorded before the refusal.
        per_field = exc.errors if isinstance(exc, ValidationFailed) and isinstance(exc.errors, dict) else {}
        if set(per_field) == {"consent_org_ids"}:
            form.consent_org_ids.errors = list(per_field["consent_org_ids"])
            return None
        form.route_errors = {sid: messages for sid, messages in per_field.items() if sid in delivery}
        for name, messages in per_field.items():
            field = getattr(form, name, None)
            if field is not None and hasattr(field, "errors") and name != "service_ids":
                field.errors = list(field.errors) + list(messages)
        form.service_ids.errors = list(form.service_ids.errors) + [exc.message]
        return None


# --- the referral page ---------------------------------------------------------------------------

@bp.get("/referrals/<referral_id>")
@login_required
def referral(referral_id):
    item, followed_up, client_shared = get_visible_referral_page_or_404(current_user, referral_id,
                                                                        *REFERRAL_PAGE_LOADS)
    return _render_referral(item, followed_up=followed_up, client_shared=client_shared)


# The rows the referral page shows beside the referral, joined to it: loading each lazily was six more
# queries on the most requested page (~0.6 ms of CPU each on PostgreSQL, in-process profile).
REFERRAL_PAGE_LOADS = (joinedload(Referral.client), joinedload(Referral.service),
                       joinedload(Referral.receiving_organization), joinedload(Referral.sending_organization),
                       joinedload(Referral.sender), joinedload(Referral.closure))


def _render_referral(item: Referral, status: int = 200, forms: dict | None = None, message_form=None,
                     close_form=None, followed_up: bool = True, client_shared: bool | None = None):
    """The referral page. `followed_up` False: no referral followed it up (so none is looked for);
    `client_shared`: client_details_shared, when already known (get_visible_referral_page_or_404)."""
    if status == 200:  # a view of the page; an error re-render is rolled back with the request anyway
        services.mark_viewed(current_user, item)
    moves = offered_moves(item, current_user)
    forms = forms or {}
    action_forms = move_forms(item, moves, forms)
    is_sender = current_user.role == Role.COORDINATOR.value
    can_close = (is_sender and item.loop_closed_at is None and Status(item.status) in services.CLOSABLE_STATUSES)
    can_refer_elsewhere = is_sender and Status(item.status) in services.REFER_ELSEWHERE_FROM
    followups = services.list_followups(current_user, item) if followed_up else []
    if client_shared is None:
        client_shared = client_details_shared(current_user, item)
    offnet = _offnet_context(item, is_sender, forms)
    return render_template(
        "referrals/referral.html", referral=item, client=item.client, moves=moves, action_forms=action_forms,
        labels=ACTION_LABELS, progress=progress_of(item),
        message_form=message_form or MessageForm(formdata=None, prefix="message"),
        close_form=close_form or CloseLoopForm(formdata=None, prefix="close"),
        can_close=can_close, can_refer_elsewhere=can_refer_elsewhere, followups=followups, is_sender=is_sender,
        overdue=services.is_overdue(item), client_shared=client_shared, offnet=offnet,
        patient_url=_patient_url(item) if is_sender else None), status


def _offnet_context(item: Referral, is_sender: bool, forms: dict) -> dict | None:
    """For the sending coordinator of a referral outside the network: the agency's link, and the
    forms to record the agency's moves and the client's news on their behalf."""
    if not is_sender or item.delivery_route == DeliveryRoute.NETWORK.value:
        return None
    from referralnet.referrals import agency_links

    moves = offered_moves(item, OnBehalf(current_user, "agency"))
    posted = {key[1]: form for key, form in forms.items() if isinstance(key, tuple) and key[0] == "behalf"}
    action_forms = move_forms(item, moves, posted, prefix="behalf-")
    return {"moves": moves, "action_forms": action_forms,
            "link": agency_links.latest_link(item), "open_link": agency_links.current_link(item),
            "link_form": forms.get("link") or AgencyLinkForm(formdata=None, prefix="link"),
            "report_form": forms.get("report") or ClientReportForm(formdata=None, prefix="report")}


def _patient_url(item: Referral):
    from referralnet.referrals.patient_links import status_url

    return status_url(item)


def move_forms(referral: Referral, moves: list[Move], posted: dict, prefix: str = "") -> dict:
    """A TransitionForm for each move offered (states.offered_moves), with the reasons and outcomes
    that fit it; the one just posted or refused keeps its input and errors. All at the referral's
    current version."""
    posted = {**_refused_move(referral, prefix), **posted}
    forms = {}
    for move in moves:
        form = posted.get(move.to) or TransitionForm(formdata=None, prefix=prefix + move.to.value,
                                                     version=referral.version)
        form.for_status(move.to, move.reasons, move.outcomes)
        form.version.data = referral.version
        forms[move.to] = form
    return forms


# A move refused for its input goes back to the page (a redirect: the address is the page's again,
# and a reload does not post twice); what was typed and what was wrong wait in the session for it.
_REFUSED_MOVE = "refused_move"


def _remember_refused_move(referral: Referral, to: Status, prefix: str, form: TransitionForm) -> None:
    names = {f"{prefix}{to.value}-{name}" for name in ("reason", "reason_text", "outcome", "note")}
    session[_REFUSED_MOVE] = {"referral": referral.id, "to": to.value, "prefix": prefix,
                              "data": {k: v for k, v in request.form.items() if k in names},
                              "errors": {name: list(field.errors) for name, field in form._fields.items()
                                         if field.errors}}


def _refused_move(referral: Referral, prefix: str) -> dict:
    """The form of the move refused just before (once), when it was this referral's, with its errors."""
    kept = session.get(_REFUSED_MOVE)
    if not kept or kept.get("referral") != referral.id or kept.get("prefix") != prefix:
        return {}
    session.pop(_REFUSED_MOVE)
    to = Status(kept["to"])
    # A new form token: the refused form is shown again to be sent again.
    form = TransitionForm(formdata=MultiDict(kept["data"]), prefix=prefix + to.value)
    form.for_status(to)
    for name, errors in kept["errors"].items():
        if name in form._fields:
            form._fields[name].errors = list(errors)
    return {to: form}


def apply_move(referral: Referral, to_value: str, actor, page_url: str, prefix: str = ""):
    """The body of every status-move view (this page's, on the agency's behalf, the agency's link page).

    Reads the posted TransitionForm for `to_value`, calls services.change_status as `actor` and
    returns the Status it moved to; or, when refused, flashes why (keeping the form's input and errors
    for the page) and returns a redirect to `page_url`, the page the move was made from. A refusal
    changes nothing: a concurrent change that won is re-read by the state machine, and the request
    commits nothing of the move.
    """
    back = redirect(page_url, 303)
    try:
        to = Status(to_value)
    except ValueError:
        to = None
    if to is None or to not in SETTABLE:
        flash(_("Choose one of the actions offered on the page."), "error")
        return back
    form = TransitionForm(prefix=prefix + to.value)
    # The choices of the move as offered to this actor; a move not offered keeps every choice, and
    # the state machine says why it is refused (not yours, not from this status).
    offered = next((move for move in offered_moves(referral, actor) if move.to == to), None)
    form.for_status(to, *((offered.reasons, offered.outcomes) if offered else ()))
    if not form.validate_on_submit():
        if form.csrf_token.errors:  # a forged or expired form: nothing of it is kept
            abort(400)
        flash(_("%(action)s: nothing was saved; see what to correct below.", action=ACTION_LABELS[to][0]), "error")
        _remember_refused_move(referral, to, prefix, form)
        return back
    given = {"reason": form.reason.data or None, "reason_text": form.reason_text.data,
             "outcome": form.outcome.data or None}
    try:
        services.change_status(referral, to, actor, note=form.note.data, expected_version=form.version.data,
                               **{k: v for k, v in given.items() if k in details_for(to)})
    except Conflict as exc:
        flash(_("%(problem)s It is now %(status)s; nothing you entered was saved. "
                "Check the timeline, then act again if you still need to.",
                problem=exc.message, status=Status(referral.status).label), "error")
        return back
    except ValidationFailed as exc:
        attach_errors(form, exc)
        flash(_("%(action)s: nothing was saved; see what to correct below.", action=ACTION_LABELS[to][0]), "error")
        _remember_refused_move(referral, to, prefix, form)
        return back
    except (InvalidTransition, NotPermitted) as exc:
        flash(exc.message, "error")
        return back
    return to


@bp.post("/referrals/<referral_id>/status/<to>")
@login_required
def change_status(referral_id, to: str):
    """One move of the state machine. A stale page (someone else changed it) gets 409 and the current state."""
    item = get_visible_referral_or_404(current_user, referral_id)
    moved = apply_move(item, to, current_user, url_for(".referral", referral_id=item.id))
    if not isinstance(moved, Status):
        return moved
    flash(str(ACTION_LABELS[moved][1]), "success")
    return redirect(url_for(".referral", referral_id=item.id))


@bp.post("/referrals/<referral_id>/messages")
@login_required
def post_message(referral_id):
    item = get_visible_referral_or_404(current_user, referral_id)
    form = MessageForm(prefix="message")
    if form.validate_on_submit():
        try:
            services.post_message(current_user, item, form.body.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        except NotPermitted as exc:
            flash(exc.message, "error")
            return _render_referral(item, 403)
        else:
            flash(_("Message sent."), "success")
            return redirect(url_for(".referral", referral_id=item.id, _anchor="messages"))
    return _render_referral(item, 400, message_form=form)


@bp.post("/referrals/<referral_id>/close")
@login_required
def close_loop(referral_id):
    """The sending coordinator records the verified outcome; the referral shows as closed."""
    item = get_visible_referral_or_404(current_user, referral_id)
    form = CloseLoopForm(prefix="close")
    if form.validate_on_submit():
        try:
            services.close_loop(current_user, item, form.verified_outcome.data, form.note.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        except DomainError as exc:
            flash(exc.message, "error")
            return _render_referral(item, exc.status)
        else:
            flash(_("The loop is closed."), "success")
            return redirect(url_for(".referral", referral_id=item.id))
    return _render_referral(item, 400, close_form=form)


# --- referrals outside the network: on the agency's and client's behalf, the agency's link --------

@bp.post("/referrals/<referral_id>/on-behalf/status/<to>")
@role_required(Role.COORDINATOR)
def change_status_on_behalf(referral_id, to: str):
    """The coordinator records a move the agency told them about (referrals outside the network)."""
    item = get_visible_referral_or_404(current_user, referral_id)
    moved = apply_move(item, to, OnBehalf(current_user, "agency"), url_for(".referral", referral_id=item.id),
                       prefix="behalf-")
    if not isinstance(moved, Status):
        return moved
    flash(_("Recorded for the agency: %(status)s.", status=moved.label.lower()), "success")
    return redirect(url_for(".referral", referral_id=item.id))


@bp.post("/referrals/<referral_id>/on-behalf/report")
@role_required(Role.COORDINATOR)
def report_on_behalf(referral_id):
    """The coordinator records what the client told them."""
    item = get_visible_referral_or_404(current_user, referral_id)
    form = ClientReportForm(prefix="report")
    if form.validate_on_submit():
        try:
            services.record_report_for_client(current_user, item, form.report.data, form.note.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        except DomainError as exc:
            flash(exc.message, "error")
            return _render_referral(item, exc.status)
        else:
            flash(_("Recorded what the client told you."), "success")
            return redirect(url_for(".referral", referral_id=item.id))
    return _render_referral(item, 400, forms={"report": form})


@bp.post("/referrals/<referral_id>/agency-link/<action>")
@role_required(Role.COORDINATOR)
def agency_link(referral_id, action: str):
    """Email the agency a new secure link (to the same or another address), or revoke it."""
    from referralnet.referrals import agency_links

    item = get_visible_referral_or_404(current_user, referral_id)
    form = AgencyLinkForm(prefix="link")
    if action not in ("reissue", "revoke"):
        abort(404)
    if not form.validate_on_submit():
        return _render_referral(item, 400, forms={"link": form})
    try:
        if action == "reissue":
            agency_links.reissue_link(current_user, item, form.agency_email.data)
            flash(_("A new link is on its way to %(email)s; earlier links no longer work.", email=item.agency_email),
                  "success")
        else:
            agency_links.revoke_link(current_user, item)
            flash(_("The agency's link was revoked: it opens nothing until you send a new one."), "success")
    except ValidationFailed as exc:
        attach_errors(form, exc)
        return _render_referral(item, 400, forms={"link": form})
    return redirect(url_for(".referral", referral_id=item.id, _anchor="delivery"))


# --- the patient's link --------------------------------------------------------------------------

@bp.post("/referrals/<referral_id>/patient-link/<action>")
@role_required(Role.COORDINATOR)
def patient_link(referral_id, action: str):
    """Issue a new status-page link (the old one stops working), or revoke it."""
    from referralnet.referrals import patient_links

    item = get_visible_referral_or_404(current_user, referral_id)
    if action == "reissue":
        patient_links.reissue_link(current_user, item)
        flash(_("A new link was made; the old one no longer works. Give the patient the new one."), "success")
    elif action == "revoke":
        patient_links.revoke_link(current_user, item)
        flash(_("The patient's link was revoked: nobody can open the status page until you issue a new one."),
              "success")
    else:
        abort(404)
    return redirect(url_for(".referral", referral_id=item.id, _anchor="patient-link"))


# --- worklist --------------------------------------------------------------------------

@bp.get("/worklist")
@role_required(Role.COORDINATOR)
def worklist():
    """What needs the coordinator's attention first, with counts per view."""
    form = ListFilterForm(request.args)
    result = worklists.listing(current_user, worklists.WORKLIST, request.args.get("view"), form.filters(current_user),
                               page_arg())
    return render_template("referrals/list.html", form=form, result=result, title=_("Worklist"),
                           endpoint=".worklist", attention=worklists.ATTENTION_KEYS,
                           finished_views=worklists.FINISHED_VIEWS)
