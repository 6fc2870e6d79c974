"""Counting the searches that found nothing (subscribes to search.signals.search_found_nothing).

Imported once by the app factory, like the notification outbox. Each announcement adds one to
the (today, organization, need, domain, ZIP3) row of `search_gap`, in the search request's
transaction; a concurrent first insert of the same row is caught in a savepoint and counted on
the row the other request created.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from referralnet.config import network_timezone
from referralnet.extensions import db
from referralnet.reports.models import SearchGap
from referralnet.search.signals import EmptySearch, search_found_nothing


@search_found_nothing.connect
def _on_empty_search(sender, *, gaps: list[EmptySearch], organization_id: Optional[int], **_):
    record_empty_searches(gaps, organization_id=organization_id)


def record_empty_searches(gaps: list[EmptySearch], *, organization_id: Optional[int],
                          now: Optional[datetime] = None) -> None:
    """Count one search that found nothing under each of `gaps` for today (network time zone). Flushes."""
    day = (now or datetime.now(timezone.utc)).astimezone(network_timezone()).date()
    for gap in gaps:
        key = dict(day=day, organization_id=organization_id, need=gap.need[:64], domain=gap.domain[:64],
                   zip3=gap.zip3[:3])
        if _increment(key):
            continue
        try:
            with db.session.begin_nested():
                db.session.add(SearchGap(count=1, **key))
        except IntegrityError:
            _increment(key)


def _increment(key: dict) -> bool:
    conditions = [getattr(SearchGap, name) == value for name, value in key.items() if value is not None]
    if key["organization_id"] is None:
        conditions.append(SearchGap.organization_id.is_(None))
    found = db.session.scalar(select(SearchGap.id).where(*conditions))
    if found is None:
        return False
    db.session.execute(update(SearchGap).where(SearchGap.id == found).values(count=SearchGap.count + 1)
                       .execution_options(synchronize_session=False))
    return True
