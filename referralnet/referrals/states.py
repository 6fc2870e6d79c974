"""The referral state machine: the only code that assigns `Referral.status`.

Statuses are the SDOHCC referral Task value set (`Status`, defined with the model
because the database CHECK constraint is built from it). This module holds the
table of allowed moves, who may make each one, the reasons and outcomes each needs,
and `transition()`, which checks all of that, applies the move, appends a
`referral_event` (through `events.record_event`, which flushes and tells the outbox),
or raises and changes nothing.

Who may act on a referral is decided by the actor's role *and* organization:

- the **sending coordinator**: a coordinator of the organization that sent it;
- the **receiving partner**: partner staff of the network organization linked to the
  directory organization that receives it.

Network admins are party to no referral: they run the network, they are not in the
care relationship, and the client consented to share with the receiving agency, not
with the network's staff. They can fix a referral only through those two parties
(a coordinator can mark it entered-in-error). Deactivated users are party to nothing.

An agency outside the network is the receiving party through its open secure link
(`actors.AgencyLinkActor`); on a referral that does not travel in the network, a sending
coordinator may record the agency's moves for it (`actors.OnBehalf`), as the receiving party.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Optional


from referralnet.accounts.models import Role, User
from referralnet.accounts.routes import DeliveryRoute
from referralnet.db import utcnow
from referralnet.directory.services import clean_text
from referralnet.errors import InvalidTransition, NotPermitted, ValidationFailed
from referralnet.referrals.actors import Actor, AgencyLinkActor, OnBehalf
from referralnet.referrals.events import changed_conflict, flush_or_conflict, record_event
from referralnet.referrals.models import (CANCEL_REASONS, CONSENT_WITHDRAWN, FAIL_REASONS, HOLD_REASONS, MAX_TEXT,
                                          OUTCOMES, REJECT_REASONS, SYSTEM_CANCEL_REASONS, Referral, ReferralEvent,
                                          Status)

__all__ = [
    "Status", "TERMINAL", "TRANSITIONS", "MAY_SET", "Party", "REASONS", "REJECT_REASONS", "CANCEL_REASONS",
    "HOLD_REASONS", "FAIL_REASONS", "OUTCOMES", "REASON_LABELS", "OUTCOME_LABELS", "NEEDS_OUTCOME",
    "SETTABLE", "OUTCOMES_FOR", "PARTNER_CANCEL_REASONS", "Move", "parties_of", "allowed_moves", "offered_moves",
    "reasons_for", "outcomes_for", "details_for", "transition", "mark_requested", "flush_or_conflict",
    "cancel_for_withdrawn_consent", "CONSENT_WITHDRAWN",
]

S = Status

TERMINAL: frozenset[Status] = frozenset({S.REJECTED, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR})

# The allowed moves (DESIGN.md). Every non-terminal status may also go to entered-in-error.
# Nothing moves *to* requested: a referral is requested once, when it is sent (mark_requested).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.REQUESTED: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    **{terminal: frozenset() for terminal in TERMINAL},
}


class Party(str, enum.Enum):
    """The two sides of a referral that may act on it."""

    SENDING_COORDINATOR = "sending-coordinator"
    RECEIVING_PARTNER = "receiving-partner"


_PARTNER = frozenset({Party.RECEIVING_PARTNER})

# Who may set each status, and the refusal that says so.
MAY_SET: dict[Status, frozenset[Party]] = {
    S.ACCEPTED: _PARTNER, S.REJECTED: _PARTNER, S.IN_PROGRESS: _PARTNER, S.ON_HOLD: _PARTNER,
    S.COMPLETED: _PARTNER, S.FAILED: _PARTNER,
    S.CANCELLED: frozenset({Party.SENDING_COORDINATOR, Party.RECEIVING_PARTNER}),
    S.ENTERED_IN_ERROR: frozenset({Party.SENDING_COORDINATOR}),
}
# The statuses a move may set (all but requested), in the order offered.
SETTABLE: tuple[Status, ...] = tuple(MAY_SET)
_NOT_YOURS = {
    S.ACCEPTED: "Only the receiving agency can accept a referral.",
    S.REJECTED: "Only the receiving agency can reject a referral.",
    S.IN_PROGRESS: "Only the receiving agency can start work on a referral.",
    S.ON_HOLD: "Only the receiving agency can put a referral on hold.",
    S.COMPLETED: "Only the receiving agency can complete a referral.",
    S.FAILED: "Only the receiving agency can mark a referral as failed.",
    S.CANCELLED: "Only the sending organization's coordinators or the receiving agency can cancel a referral.",
    S.ENTERED_IN_ERROR: "Only a coordinator of the sending organization can mark a referral as entered in error.",
}
_NOT_A_PARTY = ("Only coordinators of the sending organization and staff of the receiving agency "
                "can change this referral.")

# Reasons: required for these statuses, from a fixed list; "other" needs free text.
REASONS: dict[Status, tuple[str, ...]] = {
    S.REJECTED: REJECT_REASONS, S.CANCELLED: CANCEL_REASONS, S.ON_HOLD: HOLD_REASONS, S.FAILED: FAIL_REASONS,
}
# A reason that is one side's to give: "referred elsewhere" is the coordinator's decision, so the
# receiving agency cancels for the client's request, a duplicate, no longer needed, or other.
PARTNER_CANCEL_REASONS = tuple(r for r in CANCEL_REASONS if r != "referred-elsewhere")
_PARTY_REASONS: dict[Party, dict[Status, tuple[str, ...]]] = {
    Party.RECEIVING_PARTNER: {S.CANCELLED: PARTNER_CANCEL_REASONS},
}
# The outcomes that fit each move: an agency that could not help ("failed") never records "got help".
OUTCOMES_FOR: dict[Status, tuple[str, ...]] = {S.COMPLETED: OUTCOMES, S.FAILED: ("partly", "did-not-get-help")}
NEEDS_OUTCOME: frozenset[Status] = frozenset(OUTCOMES_FOR)
# The order moves are offered in: forward first, then the moves aside, the destructive ones last.
_FORWARD = (S.ACCEPTED, S.IN_PROGRESS, S.COMPLETED)
_OFFER_ORDER = _FORWARD + (S.ON_HOLD, S.REJECTED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR)
DESTRUCTIVE: frozenset[Status] = frozenset({S.CANCELLED, S.ENTERED_IN_ERROR})

REASON_LABELS = {
    "not-eligible": "Not eligible", "no-capacity": "No capacity", "out-of-service-area": "Out of service area",
    "could-not-contact": "Could not contact the client", "client-declined": "Client declined",
    "client-request": "Client asked to cancel", "duplicate": "Duplicate referral",
    "referred-elsewhere": "Referred elsewhere", "no-longer-needed": "No longer needed",
    "waiting-on-client": "Waiting on the client", "waiting-on-documents": "Waiting on documents",
    "waitlist": "On a waitlist", "other": "Other", CONSENT_WITHDRAWN: "Consent withdrawn",
}
# Reasons the system gives for its own moves; never offered on a form nor accepted from the API.
SYSTEM_REASONS: dict[Status, tuple[str, ...]] = {S.CANCELLED: SYSTEM_CANCEL_REASONS}
OUTCOME_LABELS = {"got-help": "Got help", "partly": "Partly helped", "did-not-get-help": "Did not get help"}


def parties_of(user: Actor, referral: Referral, now: Optional[datetime] = None) -> frozenset[Party]:
    """The sides of `referral` that `user` acts for (none for admins, other organizations, inactive users).

    An agency's secure link acts for the receiving side of its own referral while it is open; a
    coordinator acting on the agency's behalf, for the receiving side of a referral of their
    organization that does not travel in the network.
    """
    if isinstance(user, AgencyLinkActor):
        link = user.link
        return _PARTNER if link.referral_id == referral.id and link.is_open(now or utcnow()) else frozenset()
    if isinstance(user, OnBehalf):
        if user.of == "agency" and referral.delivery_route != DeliveryRoute.NETWORK.value \
                and Party.SENDING_COORDINATOR in parties_of(user.user, referral):
            return _PARTNER
        return frozenset()
    if user is None or not user.active or not user.organization.active:
        return frozenset()
    if user.role == Role.COORDINATOR.value and user.organization_id == referral.sending_organization_id:
        return frozenset({Party.SENDING_COORDINATOR})
    if user.role == Role.PARTNER.value:
        linked = user.organization.directory_organization_id
        if linked is not None and linked == referral.receiving_organization_id:
            return _PARTNER
    return frozenset()


def allowed_moves(referral: Referral, user: Actor) -> list[Status]:
    """The statuses `user` may move `referral` to now (for offering buttons; transition() re-checks)."""
    parties = parties_of(user, referral)
    return [to for to in Status if to in TRANSITIONS[Status(referral.status)] and parties & MAY_SET[to]]


def reasons_for(to: Status, parties: frozenset[Party]) -> tuple[str, ...]:
    """The reasons a move to `to` may give when made for `parties` (empty: the move takes no reason).
    A side with its own list (the agency's cancel reasons) gets that list; the union for both sides."""
    general = REASONS.get(to, ())
    lists = [_PARTY_REASONS.get(party, {}).get(to, general) for party in parties] or [general]
    return tuple(r for r in general if any(r in allowed for allowed in lists))


def outcomes_for(to: Status) -> tuple[str, ...]:
    """The outcomes a move to `to` offers and accepts (empty: it takes none)."""
    return OUTCOMES_FOR.get(to, ())


@dataclass(frozen=True)
class Move:
    """One move offered to an actor: where it goes and what its small form asks for."""

    to: Status
    reasons: tuple[str, ...]
    outcomes: tuple[str, ...]
    takes_reason_text: bool
    kind: str  # "forward" (the next step), "aside" (hold, decline, could not help) or "destructive"


def offered_moves(referral: Referral, actor: Actor) -> list[Move]:
    """The moves `actor` may make on `referral` now, in the order to offer them (the next step first,
    cancel and entered-in-error last), each with the reasons and outcomes that fit it and this actor."""
    parties = parties_of(actor, referral)
    allowed = set(allowed_moves(referral, actor))
    return [Move(to=to, reasons=reasons_for(to, parties), outcomes=outcomes_for(to),
                 takes_reason_text="reason_text" in details_for(to),
                 kind="forward" if to in _FORWARD else "destructive" if to in DESTRUCTIVE else "aside")
            for to in _OFFER_ORDER if to in allowed]


def details_for(to: Status) -> frozenset[str]:
    """The details besides a note that a move to `to` takes (transition() refuses the others):
    reason and reason_text where it needs a reason, reason_text alone for entered-in-error
    (what the error was), outcome where it needs one."""
    details = set()
    if to in REASONS:
        details |= {"reason", "reason_text"}
    elif to == S.ENTERED_IN_ERROR:
        details.add("reason_text")
    if to in NEEDS_OUTCOME:
        details.add("outcome")
    return frozenset(details)


def transition(referral: Referral, to: Status | str, actor: Actor, *, reason: Optional[str] = None,
               reason_text: Optional[str] = None, note: Optional[str] = None, outcome: Optional[str] = None,
               expected_version: Optional[int] = None, now: Optional[datetime] = None,
               _system_reason: bool = False) -> ReferralEvent:
    """Move `referral` to status `to` on behalf of `actor`; return the event recorded.

    Checks, in this order (so that someone who is not party to the referral learns nothing
    about its state, and someone working from a stale page is told it changed):

    1. the actor is party to the referral and may set `to`        -> NotPermitted
    2. `expected_version` (from the page the actor saw) is current -> Conflict
    3. the move is allowed from the current status                 -> InvalidTransition
    4. reason and outcome rules                                    -> ValidationFailed

    On success sets the status, reason, outcome and `responded_at` (first accept or
    reject), appends a `referral_event` and flushes. A concurrent change that wins the
    race surfaces at that flush and is raised as Conflict too (see flush_or_conflict).
    Any refusal changes nothing: no field, no event.
    """
    try:
        to = Status(to)
    except ValueError:
        raise ValidationFailed(f"Unknown referral status “{to}”.", {"status": ["Choose a valid status."]}) from None
    current = Status(referral.status)

    parties = parties_of(actor, referral)
    if not parties:
        raise NotPermitted(_NOT_A_PARTY)
    if to in MAY_SET and not parties & MAY_SET[to]:
        raise NotPermitted(_NOT_YOURS[to])
    if expected_version is not None and _as_version(expected_version) != referral.version:
        raise changed_conflict(referral)
    if to not in TRANSITIONS[current]:
        if to == current:
            raise InvalidTransition(f"This referral is already {current.label}.")
        raise InvalidTransition(f"A referral that is {current.label} cannot be moved to {to.label}.")
    reason, reason_text, outcome, note = _check_details(to, reason, reason_text, outcome, note,
                                                        system=_system_reason, parties=parties)

    now = now or utcnow()
    referral.status = to.value
    # The reason belongs to the current status: moving on (say from on-hold back to in-progress)
    # clears the hold's reason rather than leaving it to be misread.
    referral.status_reason_code, referral.status_reason_text = reason, reason_text
    referral.outcome = outcome
    if to in (S.ACCEPTED, S.REJECTED) and referral.responded_at is None:
        referral.responded_at = now
    return record_event(
        referral, "status", actor=actor, actor_kind=_actor_kind(parties), at=now,
        from_status=current.value, to_status=to.value, reason_code=reason, reason_text=reason_text, note=note,
        # The patient may see that the status changed (the status page shows the move and the
        # reason's label, never reason_text or note: staff write those to each other), but not
        # the withdrawal of a record that should never have existed.
        patient_visible=to != S.ENTERED_IN_ERROR,
    )


def cancel_for_withdrawn_consent(referral: Referral, actor: User, *, now: Optional[datetime] = None) -> ReferralEvent:
    """Cancel a referral the receiving agency has not accepted, because the client withdrew their consent
    to share with that agency (reason "consent-withdrawn"); `actor` is the coordinator who recorded it.

    Only a requested referral moves: once accepted, the agency keeps serving the client (see
    referrals.access for what it still sees). Raises what transition() raises: NotPermitted (not a
    coordinator of the sending organization), InvalidTransition (no longer requested), Conflict.
    """
    if Status(referral.status) != S.REQUESTED:
        raise InvalidTransition("Only a referral the agency has not accepted is cancelled when consent is "
                                f"withdrawn; this one is {Status(referral.status).label}.")
    return transition(referral, S.CANCELLED, actor, reason=CONSENT_WITHDRAWN, now=now, _system_reason=True)


def mark_requested(referral: Referral, actor: User, *, now: datetime) -> ReferralEvent:
    """Give a new referral its first status, requested, and its first event (from nothing to requested).

    Used by services.send_referral, which has already checked the sender; the referral must be new.
    """
    if referral.status is not None:
        raise InvalidTransition("Only a new referral can be requested.")
    referral.status = S.REQUESTED.value
    return record_event(referral, "status", actor=actor, actor_kind="coordinator", at=now, from_status=None,
                        to_status=S.REQUESTED.value, patient_visible=True)


def _as_version(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed("The page sent an unreadable referral version; reload it and try again.",
                               {"version": ["Reload the page."]}) from None


def _actor_kind(parties: frozenset[Party]) -> str:
    return "coordinator" if Party.SENDING_COORDINATOR in parties else "partner"


def _words(codes, labels: dict) -> str:
    """The choices as their labels: “Got help”, “Partly helped”... (never the codes)."""
    return ", ".join(f"“{labels.get(code, code)}”" for code in codes)


def _check_details(to: Status, reason, reason_text, outcome, note, *, system: bool = False,
                   parties: frozenset[Party] = frozenset()):
    """Reason and outcome rules for a move to `to` made for `parties`; returns them cleaned or raises
    ValidationFailed. With `system`, the reasons only the system gives (SYSTEM_REASONS) are accepted too."""
    errors: dict[str, list[str]] = {}
    reason, reason_text, note, outcome = (clean_text(reason), clean_text(reason_text), clean_text(note),
                                          clean_text(outcome))
    allowed = reasons_for(to, parties) if to in REASONS else None
    if allowed and system:
        allowed = allowed + SYSTEM_REASONS.get(to, ())
    if allowed:
        # Reasons and outcomes are named in words, as the form offers them (the API's codes are in its docs).
        if reason is None:
            errors["reason"] = ["Choose a reason."]
        elif reason not in allowed:
            errors["reason"] = [f"“{reason}” is not a reason for {to.label.lower()}; choose one of: "
                                f"{_words(allowed, REASON_LABELS)}."]
        elif reason == "other" and reason_text is None:
            errors["reason_text"] = ["Say what the reason is when you choose “other”."]
    else:
        if reason is not None:
            errors["reason"] = [f"A referral moved to {to.label} takes no reason."]
        # Entered-in-error may say what the error was; other moves say it in the note.
        if reason_text is not None and "reason_text" not in details_for(to):
            errors["reason_text"] = [f"A referral moved to {to.label} takes no reason; use the note."]
    if to in NEEDS_OUTCOME:
        if outcome is None:
            errors["outcome"] = ["Choose an outcome."]
        elif outcome not in OUTCOMES_FOR[to]:
            errors["outcome"] = [f"“{OUTCOME_LABELS.get(outcome, outcome)}” is not an outcome for "
                                 f"{to.label.lower()}; choose one of: {_words(OUTCOMES_FOR[to], OUTCOME_LABELS)}."]
    elif outcome is not None:
        errors["outcome"] = [f"An outcome is recorded only when a referral is completed or failed, "
                             f"not {to.label.lower()}."]
    for field, value in (("reason_text", reason_text), ("note", note)):
        if value is not None and len(value) > MAX_TEXT:
            errors.setdefault(field, []).append(f"Keep it under {MAX_TEXT} characters.")
    if errors:
        raise ValidationFailed("The referral was not changed: " + " ".join(m for ms in errors.values() for m in ms),
                               errors)
    return reason, reason_text, outcome, note
