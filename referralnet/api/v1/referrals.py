"""Referrals (scopes referrals:read / referrals:write): send, list, follow, change status, talk, close.

What a token may see and do is what its organization's staff may: the sending clinic's
coordinators or the receiving agency's partner staff (referrals.access, states.parties_of).
Referrals outside that are 404; a status its side may not set is 403; a move from a stale
`expected_version` is 409 with the current status and version in `errors`.
"""
from __future__ import annotations

from flask import g, jsonify
from sqlalchemy import select

from referralnet.api.v1 import idempotency
from referralnet.api.v1.common import ErrorSchema, PageArgs, actor, make_blueprint, page_schema, paged, scoped
from referralnet.api.v1.schemas import (CloseSchema, EventSchema, IdempotencyHeaders, MessageCreateSchema,
                                        MessageSchema, ReferralCreateSchema, ReferralListArgs, ReferralSchema,
                                        TransitionSchema)
from referralnet.errors import ValidationFailed
from referralnet.referrals import services
from referralnet.referrals.access import get_visible_referral_or_404, visible_referrals
from referralnet.referrals.models import Referral, ReferralEvent, ReferralMessage, Status
from referralnet.referrals.states import details_for

bp = make_blueprint("api_v1_referrals", "Referrals: the closed loop between a clinic and a partner agency.")

ReferralPage = page_schema(ReferralSchema, "ReferralPage")
EventPage = page_schema(EventSchema, "EventPage")
MessagePage = page_schema(MessageSchema, "MessagePage")



@bp.route("/referrals", methods=["POST"])
@scoped("referrals:write")
@bp.arguments(IdempotencyHeaders, location="headers", as_kwargs=True)
@bp.arguments(ReferralCreateSchema)
@bp.response(201, ReferralSchema)
@bp.alt_response(404, "NotFound")
@bp.alt_response(409, schema=ErrorSchema, description=(
    "The client already has an open referral to this service, no consent to share with the agency is on file, "
    "the service is not accepting referrals (or not active, or its agency is not in the network), or "
    "`previous_referral_id` is another client's or not finished (code conflict or invalid_transition)."))
def create_referral(body: dict, idempotency_key: str):
    """Send a referral (status requested); the client's consent to share with the agency must be on file.

    `Idempotency-Key` is required. Repeating a request with the same key and body returns the
    referral the first one created (201, header `Idempotent-Replayed: true`) and creates
    nothing, even when both requests arrive at once; the same key with a different body is
    422. Keys are kept per token.
    `previous_referral_id` refers the client elsewhere after a rejected, failed or cancelled
    referral (category and priority default to its own).
    """
    answer = idempotency.send_referral_once(actor(), g.api_token, idempotency_key, body, ReferralSchema().dump)
    # A finished response (not the referral): a repeat gets exactly what the first request got.
    return jsonify(answer.body), answer.status, {"Idempotent-Replayed": "true" if answer.replayed else "false"}


@bp.route("/referrals", methods=["GET"])
@scoped("referrals:read")
@bp.arguments(ReferralListArgs, location="query", as_kwargs=True)
@bp.response(200, ReferralPage)
def list_referrals(page: int, per_page: int, status: list[str], category: str | None = None,
                   client_id: int | None = None, service_id: str | None = None, updated_since=None):
    """Referrals this organization sent (a clinic) or received (an agency), most recently changed first."""
    query = visible_referrals(actor())
    if status:
        query = query.where(Referral.status.in_(status))
    if category:
        query = query.where(Referral.category == category)
    if client_id is not None:
        query = query.where(Referral.client_id == client_id)
    if service_id:
        query = query.where(Referral.service_id == service_id)
    if updated_since is not None:
        query = query.where(Referral.updated_at >= updated_since)
    return paged(query.order_by(Referral.updated_at.desc(), Referral.id.desc()), page, per_page)


@bp.route("/referrals/<int:referral_id>", methods=["GET"])
@scoped("referrals:read")
@bp.response(200, ReferralSchema)
def get_referral(referral_id: int):
    """One referral. The receiving agency's first read records "first viewed", as its page does."""
    referral = get_visible_referral_or_404(actor(), referral_id)
    services.mark_viewed(actor(), referral)
    return referral


@bp.route("/referrals/<int:referral_id>/transitions", methods=["POST"])
@scoped("referrals:write")
@bp.arguments(TransitionSchema)
@bp.response(200, ReferralSchema)
@bp.alt_response(409, schema=ErrorSchema, description=(
    "`expected_version` is stale (errors: current_status, version), or the move is not allowed from the current "
    "status (code invalid_transition)."))
def transition(body: dict, referral_id: int):
    """Move the referral to status `to` (accepted, rejected, in-progress, on-hold, completed, failed,
    cancelled, entered-in-error), with the reason and outcome that status needs."""
    referral = get_visible_referral_or_404(actor(), referral_id)
    to = Status(body.pop("to"))
    accepted = {"note", "expected_version"} | details_for(to)
    unexpected = {k: ["Not used when moving to this status."] for k, v in body.items()
                  if k not in accepted and v not in (None, "")}
    if unexpected:
        raise ValidationFailed("The referral was not changed: " + ", ".join(sorted(unexpected))
                               + " does not apply to this status.", unexpected)
    services.change_status(referral, to, actor(), **{k: v for k, v in body.items() if k in accepted})
    return referral


@bp.route("/referrals/<int:referral_id>/close", methods=["POST"])
@scoped("referrals:write")
@bp.arguments(CloseSchema)
@bp.response(200, ReferralSchema)
def close(body: dict, referral_id: int):
    """Close the loop: the sending organization records the outcome it verified with the client."""
    referral = get_visible_referral_or_404(actor(), referral_id)
    services.close_loop(actor(), referral, body["verified_outcome"], body.get("note"))
    return referral


@bp.route("/referrals/<int:referral_id>/events", methods=["GET"])
@scoped("referrals:read")
@bp.arguments(PageArgs, location="query", as_kwargs=True)
@bp.response(200, EventPage)
def list_events(referral_id: int, page: int, per_page: int):
    """The referral's timeline, oldest first."""
    referral = get_visible_referral_or_404(actor(), referral_id)
    return paged(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
                 .order_by(ReferralEvent.at, ReferralEvent.id), page, per_page)


@bp.route("/referrals/<int:referral_id>/messages", methods=["GET"])
@scoped("referrals:read")
@bp.arguments(PageArgs, location="query", as_kwargs=True)
@bp.response(200, MessagePage)
def list_messages(referral_id: int, page: int, per_page: int):
    """Messages between the clinic and the agency about this referral, oldest first."""
    referral = get_visible_referral_or_404(actor(), referral_id)
    return paged(select(ReferralMessage).where(ReferralMessage.referral_id == referral.id)
                 .order_by(ReferralMessage.created_at, ReferralMessage.id), page, per_page)


@bp.route("/referrals/<int:referral_id>/messages", methods=["POST"])
@scoped("referrals:write")
@bp.arguments(MessageCreateSchema)
@bp.response(201, MessageSchema)
def post_message(body: dict, referral_id: int):
    """Write to the other side of the referral (never shown to the patient)."""
    referral = get_visible_referral_or_404(actor(), referral_id)
    return services.post_message(actor(), referral, body["body"])
