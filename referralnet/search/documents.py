"""Build index documents from the database.

Only active services are indexed. A confidential location contributes neither
its address nor its coordinates: the document says "confidential location" and
cannot be found by distance. Loading is batched (a few queries per 500
services), never one query per row, and reads only the columns a document is
built from (rows, not ORM objects): the same rules serve a full rebuild and the
re-indexing of one service.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

from flask import current_app
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.directory.hours import build_hours
from referralnet.directory.public import is_free
from referralnet.directory.sdoh import sdoh_terms
from referralnet.extensions import db
from referralnet.geo import cells_for_point, load_zip_places, timezone_for_zip
from referralnet.search.concepts import concepts_for, prepare
from referralnet.search.schema import (ANALYZED, TEXT_FIELDS, Memo, analyze_text_fields, body_text, document_schema,
                                       slot_blocks)

BATCH = 500
SCHEDULE_FIELDS = ("freq", "byday", "opens_at", "closes_at", "valid_from", "valid_to", "timezone", "description")



def _by(rows, key) -> dict:
    out = defaultdict(list)
    for row in rows:
        out[key(row)].append(row)
    return out


def _schedule_dict(s: m.Schedule) -> dict:
    out = {}
    for f in SCHEDULE_FIELDS:
        value = getattr(s, f)
        if value is not None:
            out[f] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def code_prefixes(codes) -> list[str]:
    """Every code and each of its branches: "BD-1800.2000-620" -> bd, bd-1800, bd-1800.2000, bd-1800.2000-620."""
    out: set[str] = set()
    for code in codes:
        code = code.strip().lower()
        for i, ch in enumerate(code):
            if ch in "-." and i:
                out.add(code[:i])
        if code:
            out.add(code)
    return sorted(out)


def active_service_ids(session=None) -> list[str]:
    s = session or db.session
    return list(s.scalars(select(m.Service.id).where(m.Service.status == "active").order_by(m.Service.id)))


def prepare_documents(session=None) -> None:
    """Work out now what building any document needs first, once per process: the concept tags'
    queries and the time zones of the directory's ZIP codes. A rebuild calls this before it forks its
    workers, so each of them starts with it done. The ZIP codes' places are read from CACHE_DIR when
    an earlier rebuild saved them there (geo.load_zip_places): loading the package's ZIP table takes
    ~0.9 CPU s, on the rebuild's serial path."""
    s = session or db.session
    prepare(document_schema())
    codes = list(s.scalars(select(m.Address.postal_code).where(m.Address.address_type == "physical").distinct()))
    load_zip_places(codes, Path(current_app.config.get("CACHE_DIR") or Path(current_app.instance_path) / "cache"))
    for code in codes:
        timezone_for_zip(code)


def documents_for(service_ids: Iterable[str], session=None, memo: Memo | None = None) -> Iterator[dict]:
    """Index documents for these services (inactive ones yield nothing). `session` defaults to the app's.

    What depends only on a few values is worked out once per call (`memo`): a text
    field's analysis, a set of text fields' concept tags, a schedule pattern's hours (schema.Memo).
    A caller building many documents in several calls (a rebuild's share, in chunks) passes one
    `memo` to all of them, so nothing is worked out again for each chunk."""
    ids = list(dict.fromkeys(service_ids))
    memo = Memo() if memo is None else memo
    for start in range(0, len(ids), BATCH):
        yield from _batch(ids[start:start + BATCH], session or db.session, memo)


def _hours_of(rows, iana: str | None, default_tz: str) -> tuple[list[int], str, bool]:
    """(open half hours, time-zone name, has exceptions) of a place's schedule rows."""
    hours = build_hours(rows, iana=iana, default_tz=default_tz)
    return sorted(hours.weekly_slot_numbers()), getattr(hours.tz, "key", None) or default_tz, hours.has_exceptions


# The columns a document is built from, per table: rows of these (SQLAlchemy Rows, read by name as
# the ORM objects were) rather than whole ORM objects, whose loading (every column, type conversion of
# timestamps never used here, identity map) was a third of a rebuild's document building.
_SERVICE = (m.Service.id, m.Service.organization_id, m.Service.name, m.Service.alternate_name,
            m.Service.description, m.Service.application_process, m.Service.eligibility_description,
            m.Service.fees_description, m.Service.fees, m.Service.minimum_age, m.Service.maximum_age,
            m.Service.assured_date, m.Service.accepting_referrals)
_ORGANIZATION = (m.Organization.id, m.Organization.name, m.Organization.alternate_name)
_SERVICE_AT_LOCATION = (m.ServiceAtLocation.id, m.ServiceAtLocation.service_id, m.ServiceAtLocation.location_id)
_LOCATION = (m.Location.id, m.Location.name, m.Location.description, m.Location.address_confidential,
             m.Location.latitude, m.Location.longitude)
_ADDRESS = (m.Address.id, m.Address.location_id, m.Address.address_1, m.Address.address_2, m.Address.city,
            m.Address.state_province, m.Address.postal_code)
_SCHEDULE = (m.Schedule.id, m.Schedule.service_id, m.Schedule.location_id, m.Schedule.service_at_location_id,
             *(getattr(m.Schedule, f) for f in SCHEDULE_FIELDS))
_LANGUAGE = (m.Language.id, m.Language.service_id, m.Language.location_id, m.Language.code, m.Language.name)
_PHONE = (m.Phone.id, m.Phone.service_id, m.Phone.location_id, m.Phone.organization_id, m.Phone.number)
_ATTRIBUTE = (m.Attribute.id, m.Attribute.link_id, m.Attribute.taxonomy_term_id)
_TERM = (m.TaxonomyTerm.id, m.TaxonomyTerm.name, m.TaxonomyTerm.code)
_COST = (m.CostOption.id, m.CostOption.service_id, m.CostOption.amount, m.CostOption.option)
_CAPACITY = (m.ServiceCapacity.id, m.ServiceCapacity.service_id, m.ServiceCapacity.available,
             m.ServiceCapacity.maximum, m.ServiceCapacity.unit)


def _rows(s, columns, *where, order_by=()):
    return s.execute(select(*columns).where(*where).order_by(*order_by)).all()


def _batch(ids: list[str], s, memo: Memo) -> Iterator[dict]:
    default_tz = current_app.config.get("DEFAULT_TIMEZONE", "America/Los_Angeles")
    # Everything in id order on every database, whatever the plan (a long IN-list may come in the
    # table's order, a short one in its index's): a service's places, first address and phone,
    # schedules and terms are the same in a rebuild's chunk as in a one-service update.
    services = _rows(s, _SERVICE, m.Service.id.in_(ids), m.Service.status == "active", order_by=[m.Service.id])
    if not services:
        return
    svc_ids = [x.id for x in services]
    org_ids = {x.organization_id for x in services if x.organization_id}
    orgs = {o.id: o for o in _rows(s, _ORGANIZATION, m.Organization.id.in_(org_ids))}
    sals = _by(_rows(s, _SERVICE_AT_LOCATION, m.ServiceAtLocation.service_id.in_(svc_ids), order_by=[m.ServiceAtLocation.id]),
               lambda r: r.service_id)
    loc_ids = {r.location_id for rows in sals.values() for r in rows if r.location_id}
    locations = {x.id: x for x in _rows(s, _LOCATION, m.Location.id.in_(loc_ids))}
    addresses = _by(_rows(s, _ADDRESS, m.Address.location_id.in_(loc_ids), m.Address.address_type == "physical",
                          order_by=[m.Address.id]), lambda r: r.location_id)
    sal_ids = [r.id for rows in sals.values() for r in rows]
    schedules = _rows(s, _SCHEDULE, m.Schedule.service_id.in_(svc_ids) | m.Schedule.location_id.in_(loc_ids)
                      | m.Schedule.service_at_location_id.in_(sal_ids), order_by=[m.Schedule.id])
    sched_by_sal = _by([x for x in schedules if x.service_at_location_id], lambda r: r.service_at_location_id)
    sched_by_svc = _by([x for x in schedules if x.service_id and not x.service_at_location_id], lambda r: r.service_id)
    sched_by_loc = _by([x for x in schedules if x.location_id and not x.service_id and not x.service_at_location_id],
                       lambda r: r.location_id)
    languages = _rows(s, _LANGUAGE, m.Language.service_id.in_(svc_ids) | m.Language.location_id.in_(loc_ids),
                      order_by=[m.Language.id])
    lang_by_svc = _by([x for x in languages if x.service_id], lambda r: r.service_id)
    lang_by_loc = _by([x for x in languages if x.location_id and not x.service_id], lambda r: r.location_id)
    phones = _rows(s, _PHONE, m.Phone.service_id.in_(svc_ids) | m.Phone.location_id.in_(loc_ids)
                   | m.Phone.organization_id.in_(org_ids), order_by=[m.Phone.id])
    phone_by_svc = _by([p for p in phones if p.service_id], lambda r: r.service_id)
    phone_by_loc = _by([p for p in phones if p.location_id and not p.service_id], lambda r: r.location_id)
    phone_by_org = _by([p for p in phones if p.organization_id and not p.service_id and not p.location_id],
                       lambda r: r.organization_id)
    attrs = _rows(s, _ATTRIBUTE, m.Attribute.link_entity == "service", m.Attribute.link_id.in_(svc_ids),
                  order_by=[m.Attribute.id])
    term_ids = {a.taxonomy_term_id for a in attrs if a.taxonomy_term_id}
    terms = {t.id: t for t in _rows(s, _TERM, m.TaxonomyTerm.id.in_(term_ids))}
    attrs_by_svc = _by(attrs, lambda r: r.link_id)
    costs = _by(_rows(s, _COST, m.CostOption.service_id.in_(svc_ids), order_by=[m.CostOption.id]), lambda r: r.service_id)
    capacity = _by(_rows(s, _CAPACITY, m.ServiceCapacity.service_id.in_(svc_ids),
                         order_by=[m.ServiceCapacity.updated.desc(), m.ServiceCapacity.id]), lambda r: r.service_id)
    sdoh_by_term = {t["id"]: code for code, t in sdoh_terms().items()}

    for svc in services:
        org = orgs.get(svc.organization_id)
        svc_terms = [terms[a.taxonomy_term_id] for a in attrs_by_svc.get(svc.id, []) if a.taxonomy_term_id in terms]
        domains = sorted({sdoh_by_term[t.id] for t in svc_terms if t.id in sdoh_by_term})
        places = [(sal, locations.get(sal.location_id)) for sal in sals.get(svc.id, [])] or [(None, None)]
        cap = capacity.get(svc.id, [None])[0]
        free = is_free(svc, costs.get(svc.id, []))
        for sal, loc in places:
            confidential = bool(loc and loc.address_confidential)
            address = None if confidential or loc is None else next(iter(addresses.get(loc.id, [])), None)
            lat = lon = None
            if loc is not None and not confidential and loc.latitude is not None and loc.longitude is not None:
                lat, lon = loc.latitude, loc.longitude
            rows = (sched_by_sal.get(sal.id, []) if sal else []) or sched_by_svc.get(svc.id, []) \
                or (sched_by_loc.get(loc.id, []) if loc else [])
            iana = timezone_for_zip(address.postal_code) if address else None
            # build_hours reads only SCHEDULE_FIELDS of the rows: the same values, the same hours.
            pattern = tuple(tuple(getattr(x, f) for f in SCHEDULE_FIELDS) for x in rows)
            open_slots, tz_name, has_exceptions = memo.remember(
                ("hours", pattern, iana, default_tz), lambda: _hours_of(rows, iana, default_tz))
            schedules = memo.remember(("schedules", pattern), lambda: [_schedule_dict(x) for x in rows])
            langs = lang_by_svc.get(svc.id, []) + (lang_by_loc.get(loc.id, []) if loc else [])
            lang_keys = sorted({k.lower() for lang in langs for k in (lang.code, lang.name) if k})
            phone = next(iter(phone_by_svc.get(svc.id, []) + (phone_by_loc.get(loc.id, []) if loc else [])
                              + phone_by_org.get(svc.organization_id, [])), None)
            card = {
                "service_id": svc.id, "service_name": svc.name, "organization_id": svc.organization_id,
                "organization_name": org.name if org else None,
                "location_id": loc.id if loc else None, "location_name": loc.name if loc else None,
                "confidential": confidential,
                "lat": lat, "lon": lon,
                "has_exceptions": has_exceptions,
                "address": ", ".join(p for p in [address.address_1, address.address_2, address.city,
                                                 address.state_province, address.postal_code] if p)
                if address else None,
                "city": address.city if address else None,
                "description": (svc.description or "")[:280],
                "phone": phone.number if phone else None,
                "languages": sorted({lang.name for lang in langs if lang.name}),
                "assured_date": svc.assured_date.isoformat() if svc.assured_date else None,
                "accepting": bool(svc.accepting_referrals),
                "free": free,
                "capacity": {"available": cap.available, "maximum": cap.maximum, "unit": cap.unit}
                if cap is not None else None,
                "schedules": schedules,
                "tz": tz_name,
                "domains": domains,
                "min_age": svc.minimum_age, "max_age": svc.maximum_age,
            }
            doc = {
                "id": sal.id if sal else f"service:{svc.id}",
                "service_id": svc.id,
                "location_id": loc.id if loc else "",
                "organization_id": svc.organization_id or "",
                "name": svc.name + (f" {svc.alternate_name}" if svc.alternate_name else ""),
                "name_sort": svc.name.lower(),
                "organization": (org.name if org else "") + (f" {org.alternate_name}" if org and org.alternate_name
                                                             else ""),
                "description": " ".join(p for p in [svc.description, loc.description if loc else None,
                                                    svc.application_process] if p),
                "eligibility": svc.eligibility_description or "",
                "terms": " ".join([t.name for t in svc_terms] + [t.code.replace("-", " ") for t in svc_terms
                                                                 if t.code]),
                "domains": ",".join(domains),
                "term_ids": ",".join(t.id for t in svc_terms),
                "codes": " ".join(code_prefixes(t.code for t in svc_terms if t.code)),
                "languages": ",".join(lang_keys),
                "free": free,
                "accepting": bool(svc.accepting_referrals),
                "min_age": svc.minimum_age if svc.minimum_age is not None else 0,
                "max_age": svc.maximum_age if svc.maximum_age is not None else 200,
                "cells": " ".join(cells_for_point(lat, lon)) if lat is not None else "",
                "tz": tz_name,
                "slots": memo.remember(("slots", tuple(open_slots)), lambda: slot_blocks(open_slots)),
                "has_exceptions": has_exceptions,
                "card": card,
                **({"lat": lat, "lon": lon} if lat is not None else {}),
                "_open_slots": open_slots,  # hours.slot_number of each open half hour (PostgreSQL rows)
            }
            schema = document_schema()
            analyzed = analyze_text_fields(schema, doc, memo)
            doc["concepts"] = memo.remember(("concepts",) + tuple(doc[name] for name in TEXT_FIELDS),
                                            lambda: ",".join(concepts_for(schema, doc, analyzed)))
            doc["body"] = body_text(schema, doc, memo)
            doc[ANALYZED] = analyzed  # for the Whoosh writer: the text is not analysed again (index.py)
            yield doc
