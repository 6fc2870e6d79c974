"""The referral timeline: `record_event()` is the one function that appends a `referral_event`.

It adds the event, flushes (a concurrent change of the referral surfaces here as Conflict,
see `flush_or_conflict`) and then sends `event_recorded`, so that the packages above
referrals hear of it without referrals importing them: the notification outbox subscribes
and queues its messages in the same transaction (the change and its notifications commit,
or roll back, together).
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Optional

from blinker import Namespace
from sqlalchemy.orm import object_session
from sqlalchemy.orm.exc import StaleDataError

from referralnet.db import utcnow
from referralnet.errors import Conflict
from referralnet.referrals.actors import event_columns
from referralnet.referrals.models import Referral, ReferralEvent, Status

if TYPE_CHECKING:
    from referralnet.referrals.actors import Actor

_signals = Namespace()

#: Sent with the event (as the sender) once it is flushed, in the event's transaction.
event_recorded = _signals.signal("referral-event-recorded")


def record_event(referral: Referral, kind: str, *, actor: Optional[Actor], actor_kind: str,
                 at: Optional[datetime] = None, patient_visible: bool = False, link: bool = True,
                 **fields) -> ReferralEvent:
    """Append an event of `kind` to `referral`'s timeline, flush, and announce it; returns the event.

    `actor` is a user, an agency acting through its link or a coordinator acting on someone's
    behalf (referrals.actors); `fields` are the event's other columns (from_status, to_status,
    reason_code, reason_text, note, report_code). `link=False` adds the event by the referral's
    id rather than through its `events` relationship, for events that must not touch the
    referral (a reminder must not make an open page stale). Raises Conflict if another
    transaction changed the referral first (see flush_or_conflict).
    """
    event = ReferralEvent(at=at or utcnow(), actor_kind=actor_kind, kind=kind, patient_visible=patient_visible,
                          **event_columns(actor), **fields)
    if link:
        event.referral = referral
    else:
        event.referral_id = referral.id
    object_session(referral).add(event)
    flush_or_conflict(referral)
    event_recorded.send(event)
    return event


def flush_or_conflict(referral: Referral) -> None:
    """Flush the referral's session; if another transaction changed the row first, raise Conflict.

    SQLAlchemy cannot go on after a failed flush, so the session is rolled back here (the
    request fails anyway) and the referral is re-read to tell the actor where it stands now.
    """
    session = object_session(referral)
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise changed_conflict(referral) from None


def changed_conflict(referral: Referral) -> Conflict:
    """The Conflict that tells the actor the referral changed since they read it, and where it stands now."""
    status = Status(referral.status)
    return Conflict(f"This referral changed since you opened it: it is now {status.label}.",
                    {"current_status": status.value, "version": referral.version})
