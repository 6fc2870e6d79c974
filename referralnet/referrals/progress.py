"""Where a referral stands, for the status header of its page: the progress line and who acts next.

The happy path is sent → viewed → accepted → in progress → completed → loop closed. A referral that
leaves it (declined, cancelled, could not help, entered in error) shows the steps it did reach, then
where it ended, honestly, instead of a line that pretends it is still on its way; the loop can still
be closed after declined, cancelled and failed (the coordinator verifies with the client what happened).

Read-only: this module reads the referral and its events and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from referralnet.referrals.models import CLOSABLE_STATUSES, Referral, Status
from referralnet.referrals.states import TERMINAL

S = Status

# The steps of the happy path, by key; "viewed" is an event, "loop-closed" the closure, the rest statuses.
HAPPY_PATH = ("sent", "viewed", "accepted", "in-progress", "completed", "loop-closed")
# Where an off-path referral ended, and the last happy step a referral in that status can have reached.
OFF_PATH = (S.REJECTED, S.CANCELLED, S.FAILED, S.ENTERED_IN_ERROR)

# Who acts next.
AGENCY, COORDINATOR = "agency", "coordinator"


@dataclass(frozen=True)
class Step:
    key: str  # one of HAPPY_PATH, or an off-path status value ("rejected", "cancelled"...)
    state: str  # "done", "current" (where the referral is now), "todo", or "ended" (an off-path end)
    at: Optional[datetime] = None


@dataclass(frozen=True)
class Progress:
    steps: list[Step]
    next_actor: Optional[str]  # AGENCY, COORDINATOR, or None when nothing is left to do
    due_at: Optional[datetime]  # the agency's response is due (while requested)
    on_hold: bool


def progress_of(referral: Referral) -> Progress:
    """The progress line of `referral` and who must act now."""
    status = Status(referral.status)
    reached: dict[str, Optional[datetime]] = {"sent": referral.requested_at}
    ended_at = None
    for event in referral.events:
        if event.kind == "status" and event.to_status == status.value:
            ended_at = event.at
        if event.kind == "viewed":
            reached.setdefault("viewed", event.at)
        elif event.kind == "status" and event.to_status in ("accepted", "in-progress", "completed"):
            reached.setdefault(event.to_status, event.at)
    if status in (S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.FAILED):
        reached.setdefault("accepted", referral.responded_at)  # only an accepted referral gets this far
    if "accepted" in reached or status == S.REJECTED:
        # Answering is viewing, whether or not the page was opened (an API client, the agency's link).
        reached.setdefault("viewed", referral.first_viewed_at)
    if referral.loop_closed_at is not None:
        reached["loop-closed"] = referral.loop_closed_at

    if status in OFF_PATH:
        steps = [Step(key, "done", reached[key]) for key in HAPPY_PATH[:-1] if key in reached]
        steps.append(Step(status.value, "ended", ended_at))
        if status in CLOSABLE_STATUSES:
            steps.append(_last_step(referral))
    else:
        current = _current_step(status, referral)
        index = HAPPY_PATH.index(current)
        steps = [Step(key, "done" if i < index else "current" if i == index else "todo", reached.get(key))
                 for i, key in enumerate(HAPPY_PATH)]
    return Progress(steps=steps, next_actor=_next_actor(status, referral),
                    due_at=referral.response_due_at if status == S.REQUESTED else None,
                    on_hold=status == S.ON_HOLD)


def _current_step(status: Status, referral: Referral) -> str:
    if referral.loop_closed_at is not None:
        return "loop-closed"
    if status == S.REQUESTED:
        return "viewed" if referral.first_viewed_at is not None else "sent"
    return {S.ACCEPTED: "accepted", S.IN_PROGRESS: "in-progress", S.ON_HOLD: "in-progress",
            S.COMPLETED: "completed"}[status]


def _last_step(referral: Referral) -> Step:
    closed = referral.loop_closed_at
    return Step("loop-closed", "current" if closed is not None else "todo", closed)


def _next_actor(status: Status, referral: Referral) -> Optional[str]:
    if status not in TERMINAL:
        return AGENCY
    if referral.loop_closed_at is None and status in CLOSABLE_STATUSES:
        return COORDINATOR
    return None
