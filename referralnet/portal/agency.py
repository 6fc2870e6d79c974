"""The agency's secure-link page: `/a/<token>`, for staff of an agency outside the network.

No login: the token is the only key (referrals.agency_links). Whoever holds an open link
acts as the receiving agency (referrals.actors.AgencyLinkActor) and does what a member
agency's staff do on the shared referral page — accept, decline with a reason, put on hold,
complete with an outcome, write to the coordinator — through the same services and state
machine, so the timeline, notifications and service levels are the same. The page shows the
client panel the portal shows (one template), every view and action is audited, and the
agency may ask to join the network.

An unknown, malformed, expired, revoked or reissued token gets one and the same "not found"
page (404), and failed lookups are rate limited per client address, like the patient's page.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from referralnet.errors import Conflict, ValidationFailed
from referralnet.extensions import limiter
from referralnet.portal import join
from referralnet.portal.forms import JoinForm
from referralnet.referrals import services
from referralnet.referrals.access import agency_sees_client_details
from referralnet.referrals.actors import AgencyLinkActor
from referralnet.referrals.agency_links import find_link, touch
from referralnet.referrals.forms import MessageForm
from referralnet.referrals.models import Status
from referralnet.referrals.progress import progress_of
from referralnet.referrals.states import offered_moves
from referralnet.referrals.views import ACTION_LABELS, apply_move, move_forms
from referralnet.web import attach_errors

bp = Blueprint("agency", __name__)


def _page_limit() -> str:
    return current_app.config.get("AGENCY_LINK_RATE_LIMIT", "30 per minute")


def _bad_token_limit() -> str:
    return current_app.config.get("AGENCY_LINK_BAD_TOKEN_LIMIT", "10 per minute")


def _limited(view):
    view = limiter.limit(_bad_token_limit, deduct_when=lambda response: response.status_code == 404)(view)
    return limiter.limit(_page_limit)(view)


@bp.after_request
def private(response):
    """The page holds client details: no caching, no indexing (and a no-referrer meta tag in the page)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _not_found():
    return render_template("portal/agency_not_found.html"), 404


def _open(token: str):
    link = find_link(token)
    return (None, None) if link is None else (link, AgencyLinkActor(link))


@bp.get("/a/<token>")
@_limited
def page(token: str):
    link, actor = _open(token)
    if link is None:
        return _not_found()
    return _render(token, actor)


def _render(token: str, actor: AgencyLinkActor, status: int = 200, forms: dict | None = None, message_form=None,
            join_form=None):
    referral = actor.link.referral
    if status == 200:  # a view; an error re-render is rolled back with the request anyway
        services.mark_viewed(actor, referral)
        touch(actor.link)
    moves = offered_moves(referral, actor)
    action_forms = move_forms(referral, moves, forms or {})
    return render_template(
        "portal/agency_page.html", token=token, link=actor.link, referral=referral, client=referral.client,
        moves=moves, action_forms=action_forms, labels=ACTION_LABELS, progress=progress_of(referral),
        message_form=message_form or MessageForm(formdata=None, prefix="message"),
        join_form=join_form or JoinForm(formdata=None, prefix="join"),
        join_pending=join.pending_request(referral.receiving_organization_id) is not None,
        overdue=services.is_overdue(referral), is_sender=False,
        client_shared=agency_sees_client_details(referral)), status


@bp.post("/a/<token>/status/<to>")
@_limited
def change_status(token: str, to: str):
    """One move of the state machine, as the receiving agency."""
    link, actor = _open(token)
    if link is None:
        return _not_found()
    moved = apply_move(link.referral, to, actor, url_for(".page", token=token))
    if not isinstance(moved, Status):
        return moved
    flash(str(ACTION_LABELS[moved][1]), "success")
    return redirect(url_for(".page", token=token))


@bp.post("/a/<token>/messages")
@_limited
def post_message(token: str):
    link, actor = _open(token)
    if link is None:
        return _not_found()
    form = MessageForm(prefix="message")
    if form.validate_on_submit():
        try:
            services.post_message(actor, link.referral, form.body.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            flash(_("Message sent to the coordinator."), "success")
            return redirect(url_for(".page", token=token, _anchor="messages"))
    return _render(token, actor, 400, message_form=form)


@bp.post("/a/<token>/join")
@_limited
def request_to_join(token: str):
    """The agency asks to join the network; a network admin decides."""
    link, actor = _open(token)
    if link is None:
        return _not_found()
    form = JoinForm(prefix="join")
    if form.validate_on_submit():
        try:
            join.request_to_join(actor, form.contact_name.data, form.contact_email.data, form.message.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        except Conflict as exc:
            flash(exc.message, "error")
            return _render(token, actor, 409, join_form=form)
        else:
            flash(_("Thank you: the network's administrators will answer by email."), "success")
            return redirect(url_for(".page", token=token, _anchor="join"))
    return _render(token, actor, 400, join_form=form)
