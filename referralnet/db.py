"""Declarative base with a naming convention (so Alembic names constraints), mixins and utcnow."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import DateTime, MetaData, Select, TypeDecorator, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now in UTC; used as a callable column default."""
    return datetime.now(timezone.utc)


def new_uuid() -> str:
    """A fresh HSDS-style identifier (UUID4 as a string)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no timezone support, so naive values read from it are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """created_at / updated_at kept by the database layer, not by callers."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, info={"hsds": False})
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, info={"hsds": False}
    )


def get_or_404(model, ident, message: str):
    """The row of `model` with primary key `ident`, or NotFound(message) (a 404 in the error contract)."""
    from referralnet.errors import NotFound
    from referralnet.extensions import db

    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(message)
    return row


@dataclass
class Page:
    """One page of a list: `items`, the page number (1-based) and the totals needed for navigation."""

    items: list
    page: int
    total: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_number(raw: Any, total: int, per_page: int) -> int:
    """The page asked for, or 1 for anything that is not a page of this list (text, 0, -3, past the end)."""
    try:
        number = int(str(raw).strip())
    except (TypeError, ValueError):
        return 1
    last = max(1, math.ceil(total / per_page))
    return number if 1 <= number <= last else 1


def paginate(stmt: Select, page: Any, *, per_page: int, scalars: bool = True) -> Page:
    """Run one page of `stmt` (and a count of all its rows); `page` is the raw page argument."""
    from referralnet.extensions import db

    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    number = page_number(page, total, per_page)
    paged = stmt.limit(per_page).offset((number - 1) * per_page)
    rows = db.session.scalars(paged).all() if scalars else db.session.execute(paged).all()
    return Page(items=list(rows), page=number, total=total, per_page=per_page)
