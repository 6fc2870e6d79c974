"""Events and their notifications come from one place: `referrals.events.record_event`, which the
outbox hears through the `event_recorded` signal."""
from __future__ import annotations

from pathlib import Path

import referralnet
from referralnet.referrals.events import event_recorded

SOURCE = Path(referralnet.__file__).parent


def _files_containing(text: str) -> list[str]:
    return sorted(str(p.relative_to(SOURCE)) for p in SOURCE.rglob("*.py")
                  if any(text in line and not line.lstrip().startswith("class ")
                         for line in p.read_text(encoding="utf-8").splitlines()))


def test_events_are_built_in_one_place_and_notifications_queued_from_one():
    assert _files_containing("ReferralEvent(") == ["referrals/events.py"]
    assert _files_containing("enqueue_for_event(") == ["notifications/outbox.py"]


def test_the_outbox_hears_every_event(db, world, make_referral):
    from referralnet.referrals import services as sv

    heard = []

    def listener(event, **_):
        heard.append(event.kind)

    event_recorded.connect(listener)
    try:
        referral = make_referral()
        sv.mark_viewed(world.partner, referral)
        sv.change_status(referral, "accepted", world.partner)
        sv.post_message(world.partner, referral, "We will call today.")
    finally:
        event_recorded.disconnect(listener)
    assert heard == ["viewed", "status", "message"]
    receivers = [ref() if callable(ref) and not hasattr(ref, "__name__") else ref
                 for ref in event_recorded.receivers.values()]
    assert any(getattr(r, "__name__", "") == "_on_event_recorded" for r in receivers)
