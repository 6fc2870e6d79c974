"""Keep the index current: after a commit that changed directory data, re-index what it touched.

Changes are noticed in three ways, none of which the directory code has to know about:
ORM objects flushed (admin pages, services), ORM bulk INSERT/UPDATE statements (the
importer), and deletes. The affected services are worked out and re-indexed after
the commit succeeds; a rolled-back transaction indexes nothing. If indexing fails
the commit still stands (the database is the truth), the error is logged, and
`flask search reindex` repairs the index.
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from referralnet.directory import models as m

log = logging.getLogger(__name__)
KEY = "search_dirty"

# For each directory model: how a changed row leads to the services whose documents show it.
SERVICE_LINKS = {
    m.Service: ("service", "id"),
    m.ServiceAtLocation: ("service", "service_id"),
    m.Location: ("location", "id"),
    m.Address: ("location", "location_id"),
    m.Organization: ("organization", "id"),
    m.Schedule: None,  # service, location or service_at_location: handled below
    m.Language: None,
    m.Phone: None,
    m.Attribute: None,
    m.CostOption: ("service", "service_id"),
    m.ServiceCapacity: ("service", "service_id"),
    m.TaxonomyTerm: ("term", "id"),
}


def _marks_for(model, values) -> list[tuple[str, str]]:
    get = values.get if isinstance(values, dict) else (lambda k: getattr(values, k, None))
    if model in (m.Schedule, m.Language, m.Phone):
        out = []
        for kind, col in (("service", "service_id"), ("location", "location_id"),
                          ("sal", "service_at_location_id"), ("organization", "organization_id")):
            if get(col):
                out.append((kind, get(col)))
        return out
    if model is m.Attribute:
        return [("service", get("link_id"))] if get("link_entity") == "service" and get("link_id") else []
    link = SERVICE_LINKS.get(model)
    if link and get(link[1]):
        return [(link[0], get(link[1]))]
    return []


def _mark(session: Session, marks) -> None:
    session.info.setdefault(KEY, set()).update(marks)


def _after_flush(session: Session, _ctx) -> None:
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if type(obj) in SERVICE_LINKS:
            _mark(session, _marks_for(type(obj), obj))
            if isinstance(obj, m.ServiceAtLocation):  # a moved service: re-index the old place too
                _mark(session, [("service", obj.service_id)])


def _before_flush(session: Session, _ctx, _instances) -> None:
    """Deleting a place or an organization cascades in the database, out of the ORM's sight:
    note the services it carries now, while the rows still exist."""
    if not session.deleted:
        return
    locations = [o.id for o in session.deleted if isinstance(o, m.Location)]
    orgs = [o.id for o in session.deleted if isinstance(o, m.Organization)]
    if locations:
        _mark(session, [("service", i) for i in session.scalars(
            select(m.ServiceAtLocation.service_id).where(m.ServiceAtLocation.location_id.in_(locations)))])
    if orgs:
        _mark(session, [("service", i) for i in session.scalars(
            select(m.Service.id).where(m.Service.organization_id.in_(orgs)))])


def _orm_execute(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper if hasattr(state, "bind_mapper") else None
    entity = getattr(state.statement, "entity_description", None) or {}
    model = entity.get("type") if isinstance(entity, dict) else None
    model = model or (mapper.class_ if mapper is not None else None)
    if model not in SERVICE_LINKS:
        return
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    marks = [mark for row in rows for mark in _marks_for(model, row)]
    if marks:
        _mark(state.session, marks)
    elif state.is_update or state.is_delete:
        _mark(state.session, [("everything", "*")])


def _after_rollback(session: Session, previous_transaction=None) -> None:
    # A savepoint rolled back (bookkeeping that could not get a lock, db.bookkeeping) leaves the
    # transaction and its marks alive: only a rollback of the whole transaction forgets them.
    if previous_transaction is not None and previous_transaction.nested:
        return
    session.info.pop(KEY, None)


def _after_commit(session: Session) -> None:
    # SQLAlchemy also calls this when a savepoint is released; the transaction goes on, its changes
    # are not committed yet (another connection would not see them): index at the real commit only.
    if session.in_nested_transaction():
        return
    marks = session.info.pop(KEY, None)
    if not marks or not has_app_context() or not current_app.config.get("SEARCH_AUTO_INDEX", True):
        return
    if _backend_name() != "whoosh":  # the postgres backend wrote its rows in the transaction itself
        return
    try:
        _reindex(marks)
    except Exception:  # noqa: BLE001 - the commit stands; `flask search reindex` repairs the index
        log.exception("search index update failed after commit; run `flask search reindex`")


def _backend_name() -> str:
    from referralnet.search.backend import BackendMisconfigured, backend_name

    try:
        return backend_name()
    except BackendMisconfigured:  # reported by searches and readiness, never by a commit
        return ""


def _reindex(marks: set[tuple[str, str]]) -> None:
    from referralnet.extensions import db
    from referralnet.search.index import rebuild_index, update_services

    by_kind: dict[str, set[str]] = {}
    for kind, value in marks:
        by_kind.setdefault(kind, set()).add(value)
    with Session(db.engine) as s:  # a fresh session: the committed one must not run SQL here
        if ("everything", "*") in marks:
            rebuild_index(session=s)
            return
        ids = set(by_kind.get("service", ()))
        if by_kind.get("location"):
            ids.update(s.scalars(select(m.ServiceAtLocation.service_id)
                                 .where(m.ServiceAtLocation.location_id.in_(by_kind["location"]))))
        if by_kind.get("sal"):
            ids.update(s.scalars(select(m.ServiceAtLocation.service_id)
                                 .where(m.ServiceAtLocation.id.in_(by_kind["sal"]))))
        if by_kind.get("organization"):
            ids.update(s.scalars(select(m.Service.id).where(m.Service.organization_id.in_(by_kind["organization"]))))
        if by_kind.get("term"):
            ids.update(s.scalars(select(m.Attribute.link_id).where(
                m.Attribute.link_entity == "service", m.Attribute.taxonomy_term_id.in_(by_kind["term"]))))
        ids.discard(None)
        if ids:
            update_services(ids, session=s)


def register_search_hooks(session_factory) -> None:
    """Attach the listeners to the app's session class (once)."""
    if getattr(session_factory, "_referralnet_search_hooks", False):
        return
    event.listen(session_factory, "before_flush", _before_flush)
    event.listen(session_factory, "after_flush", _after_flush)
    event.listen(session_factory, "do_orm_execute", _orm_execute)
    event.listen(session_factory, "after_commit", _after_commit)
    event.listen(session_factory, "after_soft_rollback", lambda s, t: _after_rollback(s, t))
    session_factory._referralnet_search_hooks = True
