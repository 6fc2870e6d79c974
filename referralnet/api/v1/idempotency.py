"""Idempotent referral creation for `POST /api/v1/referrals` (the `Idempotency-Key` header).

Storage decision: no new table. The record of a key is an append-only `audit_log` row,
written in the same transaction as the referral it created:

    action "api.idempotency", object_type "idempotency_key",
    object_id sha256(key) (64 hex characters, the column's size),
    organization_id the acting organization (the audit row's own column),
    details {"request_hash": sha256 of the canonical request body, "referral_ids": [id]}

and it is found again by (object_type, object_id) — indexed — and organization. So keys are
scoped per organization (two organizations may use the same key), never expire, and hold
no patient data (only hashes and ids, as the audit log requires). A request that fails
writes nothing (the request rolls back), so retrying a failed request with its key runs it
again. Two requests with the same new key at the same moment cannot both create a
referral: the second is refused because the client already has an open referral to that
service (Conflict), or waits on the first one's write lock.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

from sqlalchemy import select

from referralnet.accounts.models import User
from referralnet.errors import NotFound, ValidationFailed
from referralnet.extensions import db
from referralnet.referrals import services
from referralnet.referrals.access import get_visible_client_or_404, get_visible_referral_or_404
from referralnet.referrals.models import AuditLog, Referral

ACTION = "api.idempotency"
OBJECT_TYPE = "idempotency_key"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_hash(body: dict[str, Any]) -> str:
    """The hash of a request body, independent of key order and of fields given as their defaults."""
    return _sha256(json.dumps(body, sort_keys=True, default=str, separators=(",", ":")))


def find_record(actor: User, key: str) -> Optional[AuditLog]:
    return db.session.scalar(
        select(AuditLog).where(AuditLog.object_type == OBJECT_TYPE, AuditLog.object_id == _sha256(key),
                               AuditLog.action == ACTION, AuditLog.organization_id == actor.organization_id)
        .order_by(AuditLog.id).limit(1))


def send_referral_once(actor: User, key: str, body: dict[str, Any]) -> tuple[Referral, bool]:
    """Send the referral described by `body` unless this key already did; returns (referral, replayed).

    The same key with the same body returns the referral the first request created (as it
    is now). Raises ValidationFailed (the key was used with a different body, or an unknown
    client or earlier referral) and whatever services.send_referral / refer_elsewhere raise.
    """
    digest = request_hash(body)
    record = find_record(actor, key)
    if record is not None:
        if record.details.get("request_hash") != digest:
            raise ValidationFailed("This Idempotency-Key was already used with a different request body.",
                                   {"Idempotency-Key": ["Use a new key for a different referral."]})
        return get_visible_referral_or_404(actor, record.details["referral_ids"][0]), True

    fields = {k: body.get(k) for k in ("location_id", "note_to_partner", "client_availability")}
    client = _visible_or_invalid(get_visible_client_or_404, actor, body["client_id"], "client_id", "No such client.")
    if body.get("previous_referral_id") is not None:
        previous = _visible_or_invalid(get_visible_referral_or_404, actor, body["previous_referral_id"],
                                       "previous_referral_id", "No such referral.")
        if previous.client_id != client.id:
            message = "The earlier referral is for another client."
            raise ValidationFailed(message, {"previous_referral_id": [message]})
        referral = services.refer_elsewhere(actor, previous, body["service_id"], category=body["category"],
                                            priority=body.get("priority"), **fields)
    else:
        referral = services.send_referral(actor, client, body["service_id"], category=body["category"],
                                          priority=body.get("priority") or "routine", **fields)
    services.audit(actor, ACTION, OBJECT_TYPE, _sha256(key), request_hash=digest, referral_ids=[referral.id])
    return referral, False


def _visible_or_invalid(getter, actor: User, object_id, field: str, message: str):
    """A body's reference to something the actor cannot see is a bad field (422), not a missing page."""
    try:
        return getter(actor, object_id)
    except NotFound:
        raise ValidationFailed(message, {field: [message]}) from None
