"""Counting the searches that found nothing (subscribes to search.signals.search_found_nothing).

Imported once by the app factory, like the notification outbox. Each announcement adds one to
the (today, organization, need, domain, ZIP3) row of `search_gap`, in the search request's
transaction (an upsert, so concurrent searches all count).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from referralnet.config import network_timezone
from referralnet.extensions import db
from referralnet.reports.models import SearchGap
from referralnet.search.signals import EmptySearch, search_found_nothing

KEY = ("day", "organization_id", "need", "domain", "zip3")  # search_gap's unique constraint


@search_found_nothing.connect
def _on_empty_search(sender, *, gaps: list[EmptySearch], organization_id: Optional[int], **_):
    record_empty_searches(gaps, organization_id=organization_id)


def record_empty_searches(gaps: list[EmptySearch], *, organization_id: Optional[int],
                          now: Optional[datetime] = None) -> None:
    """Count one search that found nothing under each of `gaps` for today (network time zone).

    One INSERT ... ON CONFLICT DO UPDATE per row (SQLite and PostgreSQL both have it): two
    searches at once both count, without a savepoint (a savepoint's end would make the session
    forget the search index changes waiting for the commit). Searches by no organization (there
    are none in the app) are not counted."""
    if organization_id is None:
        return
    day = (now or datetime.now(timezone.utc)).astimezone(network_timezone()).date()
    insert = postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for gap in gaps:
        stmt = insert(SearchGap).values(day=day, organization_id=organization_id, need=gap.need[:64],
                                        domain=gap.domain[:64], zip3=gap.zip3[:3], count=1)
        db.session.execute(stmt.on_conflict_do_update(index_elements=list(KEY),
                                                      set_={"count": SearchGap.count + 1}))
