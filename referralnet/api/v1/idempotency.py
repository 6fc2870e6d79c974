"""Idempotent referral creation for `POST /api/v1/referrals` (the `Idempotency-Key` header).

Keys live in their own table (`api.models.IdempotencyKey`), unique per (token, key), with
the response the first request got. A request:

1. finds its key: used with the same body, it gets the stored response again (replayed);
   used with another body, it is refused (ValidationFailed);
2. otherwise claims the key by inserting its row (in a savepoint). Of two requests with the
   same new key at the same moment, the database makes the second wait for the first one's
   transaction and then refuses its insert; the second then replays the first's answer.
   So one referral is created and both get the same answer;
3. sends the referral and stores the response with the key, in the same transaction.

A request that fails writes nothing (the request rolls back, the claim with it), so retrying
a failed request with its key runs it again. Keys never expire and hold no patient data
(only hashes, ids and the response the token was already sent).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from referralnet.accounts.models import ApiToken, User
from referralnet.api.models import IdempotencyKey
from referralnet.errors import Conflict, NotFound, NotReady, UnknownReference, ValidationFailed
from referralnet.extensions import db
from referralnet.referrals import services
from referralnet.referrals.access import get_visible_client_or_404, get_visible_referral_or_404
from referralnet.referrals.models import Referral

CREATED = 201


@dataclass
class Answer:
    """The response to a referral creation: what the first request was told, and whether this is a replay."""

    status: int
    body: dict[str, Any]
    replayed: bool


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_hash(body: dict[str, Any]) -> str:
    """The hash of a request body, independent of key order and of fields given as their defaults."""
    return _sha256(json.dumps(body, sort_keys=True, default=str, separators=(",", ":")))


def find_key(token: ApiToken, key: str) -> Optional[IdempotencyKey]:
    """The stored use of `key` by `token`, if any."""
    return db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.token_id == token.id,
                                                          IdempotencyKey.key_hash == _sha256(key)))


def send_referral_once(actor: User, token: ApiToken, key: str, body: dict[str, Any],
                       dump: Callable[[Referral], dict[str, Any]]) -> Answer:
    """Send the referral described by `body` unless `token` already did with this key.

    `dump` turns the new referral into the response body, which is stored with the key and
    given again to every repeat. Raises ValidationFailed (the key was used with a different
    body, or an unknown client or earlier referral) and whatever services.send_referral /
    refer_elsewhere raise.
    """
    digest = request_hash(body)
    record = find_key(token, key)
    if record is None:
        record = IdempotencyKey(token_id=token.id, key_hash=_sha256(key), request_hash=digest)
        try:
            with db.session.begin_nested():
                db.session.add(record)
        except IntegrityError:
            # Another request claimed the key first; the insert waited for it to commit.
            record = find_key(token, key)
            if record is None:  # it failed and rolled back after refusing us: try again
                raise Conflict("Another request with this Idempotency-Key was running; retry.",
                               {"Idempotency-Key": ["Retry the request."]}) from None
        else:
            referral = _send(actor, body)
            record.referral_id = referral.id
            record.response_status, record.response_body = CREATED, dump(referral)
            db.session.flush()
            return Answer(CREATED, record.response_body, replayed=False)
    if record.request_hash != digest:
        raise ValidationFailed("This Idempotency-Key was already used with a different request body.",
                               {"Idempotency-Key": ["Use a new key for a different referral."]})
    return Answer(record.response_status, record.response_body, replayed=True)


def _send(actor: User, body: dict[str, Any]) -> Referral:
    fields = {k: body.get(k) for k in ("location_id", "note_to_partner", "client_availability", "agency_email")}
    fields["track"] = body.get("delivery_route") == "tracked"
    client = _visible_or_invalid(get_visible_client_or_404, actor, body["client_id"], "client_id", "No such client.")
    if body.get("previous_referral_id") is not None:
        previous = _visible_or_invalid(get_visible_referral_or_404, actor, body["previous_referral_id"],
                                       "previous_referral_id", "No such referral.")
        if previous.client_id != client.id:
            message = "The earlier referral is for another client."
            raise NotReady(message, {"previous_referral_id": [message]})
        return services.refer_elsewhere(actor, previous, body["service_id"], category=body["category"],
                                        priority=body.get("priority"), **fields)
    return services.send_referral(actor, client, body["service_id"], category=body["category"],
                                  priority=body.get("priority") or "routine", **fields)


def _visible_or_invalid(getter, actor: User, object_id, field: str, message: str):
    """A body's reference to something the actor cannot see is not found (404), with the field named."""
    try:
        return getter(actor, object_id)
    except NotFound:
        raise UnknownReference(message, {field: [message]}) from None
