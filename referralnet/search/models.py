"""What the database keeps for the embedded (Whoosh) search index: the change table and its generation.

A directory change writes a `SearchChange` row per service it touches, in the same transaction as
the change (search/hooks.py): the row commits or rolls back with the change, so no committed change
can be missed and a rolled-back one leaves nothing to index. Each host's index applies the rows after
the commit, outside the request (search/sync.py), and records the last row it applied.

`SearchState` holds one row: a random generation id written by the migration (and again when the row
is missing). A database replaced by another one has a different generation; a database restored from
a backup has the backup's change rows, not the ones the index applied: either way the index sees that
it does not reflect this database and is rebuilt.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from referralnet.db import Base, UTCDateTime, utcnow

STATE_ROW = 1  # the one row of search_state


class SearchChange(Base):
    """Service `service_id` changed (its search documents must be rebuilt); NULL: rebuild everything."""

    __tablename__ = "search_change"
    # AUTOINCREMENT on SQLite: ids are never reused once rows are pruned, as PostgreSQL's sequences
    # never are, so "the index applied a change id this database has not reached" means a restore.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[Optional[str]] = mapped_column(String(250))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow, index=True)


class SearchState(Base):
    """The database's search generation: which database this is, as far as search indexes can tell."""

    __tablename__ = "search_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
