"""Which database state a Whoosh index reflects, and whether that is still this database.

The index directory holds a small JSON file next to Whoosh's files (written while the writer
lock is held, just after the commit it describes): the database generation it was built from
(search_state, search/models.py), the last change row it applied, that row's time, and the
"holes" below it (ids a slower transaction may still commit: PostgreSQL hands out sequence
numbers before commit). Against the database this tells:

- current: same generation, the last applied row is still there as it was, nothing newer;
- behind: newer change rows to apply (the lag is their count and the oldest one's age);
- not this database: another generation (a different database), or the last applied row is
  gone or different (restored from a backup taken before it, or pruned past this index):
  the index is rebuilt.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from referralnet.db import utcnow
from referralnet.search.models import STATE_ROW, SearchChange, SearchState

STATE_FILE = "referralnet-sync-state.json"
HOLE_SECONDS = 300.0  # how long an id missing below the applied one is watched for a late commit
HOLE_WINDOW = 1000  # at a rebuild: ids this far below the newest are checked for holes


@dataclass
class IndexState:
    """What the index reflects: database `generation`, change rows up to `last_id` (and not `holes`)."""

    generation: str
    last_id: int = 0
    last_at: Optional[str] = None  # the last applied row's changed_at, as read back from the database
    holes: dict[str, float] = field(default_factory=dict)  # change id -> when first seen missing (epoch s)
    applied_at: Optional[str] = None  # when the index last applied or rebuilt (UTC, ISO 8601)
    documents: Optional[int] = None  # documents after that commit


def read_state(index_path: Path) -> Optional[IndexState]:
    """The recorded state, or None when there is none (a new, cleared or unreadable index)."""
    try:
        data = json.loads((index_path / STATE_FILE).read_text())
        return IndexState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(index_path: Path, state: IndexState) -> None:
    """Replace the recorded state at once (a reader sees the old file or the new one, never half)."""
    tmp = index_path / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(state), sort_keys=True))
    os.replace(tmp, index_path / STATE_FILE)


def forget_state(index_path: Path) -> None:
    (index_path / STATE_FILE).unlink(missing_ok=True)


def database_generation(session: Session) -> str:
    """This database's search generation; a new one is written (and committed) if the row is missing."""
    generation = session.scalar(select(SearchState.generation).where(SearchState.id == STATE_ROW))
    if generation is not None:
        return generation
    session.rollback()
    try:
        session.add(SearchState(id=STATE_ROW, generation=uuid.uuid4().hex, created_at=utcnow()))
        session.commit()
    except IntegrityError:  # another process wrote it first
        session.rollback()
    return session.scalar(select(SearchState.generation).where(SearchState.id == STATE_ROW))


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


@dataclass
class Position:
    """Where the database's change table is: its generation and newest row."""

    generation: str
    max_id: int
    max_at: Optional[str]


def database_position(session: Session) -> Position:
    generation = database_generation(session)
    row = session.execute(select(SearchChange.id, SearchChange.changed_at)
                          .order_by(SearchChange.id.desc()).limit(1)).first()
    return Position(generation, row.id if row else 0, _iso(row.changed_at) if row else None)


def rebuild_reason(session: Session, state: Optional[IndexState], position: Position) -> Optional[str]:
    """Why the index does not reflect this database (it must be rebuilt), or None when it does."""
    if state is None:
        return "the index does not record which database state it reflects"
    if state.generation != position.generation:
        return "the database is another one (its search generation differs from the index's)"
    if state.last_id > position.max_id:
        return (f"the index applied change {state.last_id} but the database's newest is {position.max_id} "
                "(restored from a backup?)")
    if state.last_id:
        at = session.scalar(select(SearchChange.changed_at).where(SearchChange.id == state.last_id))
        if at is None:
            return f"change {state.last_id}, the last the index applied, is gone (restored, or pruned)"
        if _iso(at) != state.last_at:
            return f"change {state.last_id} is not the one the index applied (restored from a backup?)"
    return None


def _unapplied(state: IndexState):
    """Change rows the index has not applied: newer than its last one, or filling one of its holes."""
    where = SearchChange.id > state.last_id
    if state.holes:
        where = where | SearchChange.id.in_([int(i) for i in state.holes])
    return where


def pending_changes(session: Session, state: IndexState, limit: Optional[int] = None):
    """The change rows the index has not applied, oldest first (at most `limit`)."""
    where = _unapplied(state)
    query = select(SearchChange.id, SearchChange.service_id, SearchChange.changed_at).where(where) \
        .order_by(SearchChange.id)
    if limit is not None:
        query = query.limit(limit)
    return session.execute(query).all()


def lag(session: Session, state: IndexState) -> tuple[int, Optional[float]]:
    """How many change rows wait for this index, and the oldest one's age in seconds."""
    where = _unapplied(state)
    count = session.scalar(select(func.count(SearchChange.id)).where(where))
    if not count:
        return 0, None
    oldest = session.scalar(select(SearchChange.changed_at).where(where).order_by(SearchChange.changed_at).limit(1))
    return count, max(0.0, (utcnow() - oldest).total_seconds())


def tracks_holes(session: Session) -> bool:
    """SQLite commits one writer at a time, in id order: an id below an applied one never appears later.
    PostgreSQL hands out ids before commit, so a transaction that began earlier may commit later."""
    return session.get_bind().dialect.name != "sqlite"


def advance(state: IndexState, rows, track_holes: bool, now: Optional[float] = None) -> IndexState:
    """The state after applying `rows` (id, service_id, changed_at), ordered by id."""
    now = time.time() if now is None else now
    holes = dict(state.holes)
    seen = {row.id for row in rows}
    for hole in list(holes):
        if int(hole) in seen or now - holes[hole] > HOLE_SECONDS:
            del holes[hole]
    last_id, last_at = state.last_id, state.last_at
    for row in rows:
        if row.id > last_id:
            for missing in range(last_id + 1, row.id) if track_holes else ():
                holes.setdefault(str(missing), now)
            last_id, last_at = row.id, _iso(row.changed_at)
    return IndexState(state.generation, last_id, last_at, holes)


def holes_below(session: Session, max_id: int, now: Optional[float] = None) -> dict[str, float]:
    """Ids missing among the newest HOLE_WINDOW below `max_id` (a rebuild watches them for late commits)."""
    now = time.time() if now is None else now
    low = max(1, max_id - HOLE_WINDOW)
    present = set(session.scalars(select(SearchChange.id).where(SearchChange.id >= low,
                                                                 SearchChange.id <= max_id)))
    return {str(i): now for i in range(low, max_id + 1) if i not in present}
