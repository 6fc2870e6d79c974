"""What a directory change touched: the services whose search documents show it.

Both backends keep their documents current by watching the session (search/hooks.py writes
change rows for the Whoosh index; search/pg_backend.py rewrites the postgres rows in the same
transaction). What they notice is the same and is worked out here:

- ORM objects flushed (admin pages, services): `flushed`;
- deletes that cascade in the database, out of the ORM's sight (a place, an organization):
  `cascaded`, before the flush, while the rows still exist;
- ORM bulk INSERT/UPDATE/DELETE statements (the importer): `executed`; one whose rows cannot be
  told marks EVERYTHING.

A mark is (kind, id): a service, location, service_at_location ("sal"), organization or
taxonomy term; `services_for` turns marks into service ids.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from referralnet.directory import models as m

EVERYTHING = ("everything", "*")

# For each directory model: how a changed row leads to the services whose documents show it.
SERVICE_LINKS = {
    m.Service: ("service", "id"),
    m.ServiceAtLocation: ("service", "service_id"),
    m.Location: ("location", "id"),
    m.Address: ("location", "location_id"),
    m.Organization: ("organization", "id"),
    m.Schedule: None,  # service, location or service_at_location: handled in marks_for
    m.Language: None,
    m.Phone: None,
    m.Attribute: None,
    m.CostOption: ("service", "service_id"),
    m.ServiceCapacity: ("service", "service_id"),
    m.TaxonomyTerm: ("term", "id"),
}


def marks_for(model, values) -> list[tuple[str, str]]:
    """The marks of one row of `model` (an object or a dict of column values)."""
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


def flushed(session: Session) -> list[tuple[str, str]]:
    """The marks of the objects a flush wrote (after_flush)."""
    out = []
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if type(obj) in SERVICE_LINKS:
            out.extend(marks_for(type(obj), obj))
            if isinstance(obj, m.ServiceAtLocation):  # a moved service: its old place too
                out.append(("service", obj.service_id))
    return out


def cascaded(session: Session) -> list[tuple[str, str]]:
    """Deleting a place or an organization cascades in the database: the services it carries now,
    while the rows still exist (before_flush)."""
    if not session.deleted:
        return []
    locations = [o.id for o in session.deleted if isinstance(o, m.Location)]
    orgs = [o.id for o in session.deleted if isinstance(o, m.Organization)]
    out = []
    if locations:
        out += [("service", i) for i in session.scalars(
            select(m.ServiceAtLocation.service_id).where(m.ServiceAtLocation.location_id.in_(locations)))]
    if orgs:
        out += [("service", i) for i in session.scalars(
            select(m.Service.id).where(m.Service.organization_id.in_(orgs)))]
    return out


def executed(state) -> list[tuple[str, str]]:
    """The marks of an ORM bulk statement (do_orm_execute); [EVERYTHING] for an update or delete
    whose rows cannot be told."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return []
    entity = getattr(state.statement, "entity_description", None) or {}
    model = entity.get("type") if isinstance(entity, dict) else None
    mapper = getattr(state, "bind_mapper", None)  # a Core insert of a model's table (the importer)
    model = model or (mapper.class_ if mapper is not None else None)
    if model not in SERVICE_LINKS:
        return []
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    marks = [mark for row in rows for mark in marks_for(model, row)]
    if marks:
        return marks
    return [EVERYTHING] if state.is_update or state.is_delete else []


def services_for(executor, marks: set[tuple[str, str]]) -> set[str] | None:
    """The services whose documents show what these marks name (looked up through `executor`, a
    session or connection in the change's transaction); None: everything."""
    if EVERYTHING in marks:
        return None
    by_kind: dict[str, set[str]] = {}
    for kind, value in marks:
        by_kind.setdefault(kind, set()).add(value)
    ids = set(by_kind.get("service", ()))
    lookups = {
        "location": select(m.ServiceAtLocation.service_id).where(
            m.ServiceAtLocation.location_id.in_(by_kind.get("location", ()))),
        "sal": select(m.ServiceAtLocation.service_id).where(m.ServiceAtLocation.id.in_(by_kind.get("sal", ()))),
        "organization": select(m.Service.id).where(m.Service.organization_id.in_(by_kind.get("organization", ()))),
        "term": select(m.Attribute.link_id).where(m.Attribute.link_entity == "service",
                                                  m.Attribute.taxonomy_term_id.in_(by_kind.get("term", ()))),
    }
    for kind, query in lookups.items():
        if by_kind.get(kind):
            ids.update(executor.execute(query).scalars())
    ids.discard(None)
    return ids
