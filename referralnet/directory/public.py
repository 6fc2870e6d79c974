"""What a coordinator sees of a listing: one active service with everything needed to refer well.

Confidential places show no address and no coordinates. Hours are computed in
the place's own time zone (from its ZIP code), like the search index does.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from referralnet.directory import models as m
from referralnet.directory.hours import WeeklyHours, build_hours, group_schedules
from referralnet.directory.sdoh import sdoh_terms
from referralnet.errors import NotFound
from referralnet.extensions import db
from referralnet.geo import timezone_for_zip


FREE_RE = re.compile(r"^\s*(free|none|no (fee|cost|charge)s?|no-cost|\$0\b)", re.I)

def is_free(service: m.Service, costs: list[m.CostOption]) -> bool:
    """Free of charge: every cost option is zero, or the fee text says free/none."""
    if costs:
        return all((c.amount or 0) == 0 for c in costs) or any("free" in (c.option or "").lower() for c in costs)
    text = service.fees_description or service.fees or ""
    return bool(FREE_RE.match(text))


@dataclass
class PlaceView:
    location: m.Location | None
    address: m.Address | None
    phones: list[m.Phone]
    hours: WeeklyHours
    open_now: bool | None
    next_open: datetime | None
    languages: list[str]

    @property
    def confidential(self) -> bool:
        return bool(self.location and self.location.address_confidential)

    @property
    def coordinates(self) -> tuple[float, float] | None:
        """Where to put the place on a map; never for a confidential place."""
        loc = self.location
        if loc is None or loc.address_confidential or loc.latitude is None or loc.longitude is None:
            return None
        return loc.latitude, loc.longitude


@dataclass
class ServiceView:
    service: m.Service
    organization: m.Organization | None
    places: list[PlaceView]
    phones: list[m.Phone]
    languages: list[str]
    documents: list[m.RequiredDocument]
    costs: list[m.CostOption]
    free: bool
    capacity: m.ServiceCapacity | None
    areas: list[m.ServiceArea]
    domains: list[dict] = field(default_factory=list)
    other_terms: list[m.TaxonomyTerm] = field(default_factory=list)

    @property
    def timezone(self):
        """The agency's own time zone (its first place's): times such as "capacity updated" are its local time."""
        return self.places[0].hours.tz if self.places else None


def get_service_view(service_id: str, now: datetime | None = None, *, contact_only: bool = False) -> ServiceView:
    """The coordinator's view of an active service. Raises NotFound for unknown or inactive services.

    `contact_only`: what the patient's status page shows, how to reach the agency: the service, its
    organization, its places (address, phones, hours), phones and required documents. Languages, costs
    (and so `free`), capacity, service areas and taxonomy terms are left empty: five to seven queries fewer
    on a page patients open often."""
    s = db.session
    service = s.get(m.Service, service_id, options=[joinedload(m.Service.organization)])  # one query, not two
    if service is None or service.status != "active":
        raise NotFound("This service is not in the directory (it may have closed).")
    now = now or datetime.now(timezone.utc)
    default_tz = current_app.config.get("DEFAULT_TIMEZONE", "America/Los_Angeles")
    org = service.organization
    sals = s.scalars(select(m.ServiceAtLocation).where(m.ServiceAtLocation.service_id == service.id)).all()
    schedules = group_schedules(s.scalars(select(m.Schedule).where(or_(
        m.Schedule.service_id == service.id, m.Schedule.service_at_location_id.in_([sal.id for sal in sals]),
        m.Schedule.location_id.in_([sal.location_id for sal in sals if sal.location_id])))))
    service_languages = [] if contact_only else \
        [lang.name for lang in s.scalars(select(m.Language).where(m.Language.service_id == service.id)) if lang.name]
    # Each place's location, address, phones and languages: one query each for all places, not per place.
    location_ids = list(dict.fromkeys(sal.location_id for sal in sals if sal.location_id))
    locations, addresses = {}, {}
    place_phones: dict[str, list[m.Phone]] = defaultdict(list)
    place_langs: dict[str, list[str]] = defaultdict(list)
    if location_ids:
        locations = {loc.id: loc for loc in s.scalars(select(m.Location).where(m.Location.id.in_(location_ids)))}
        for address in s.scalars(select(m.Address).where(m.Address.location_id.in_(location_ids),
                                                         m.Address.address_type == "physical")):
            addresses.setdefault(address.location_id, address)
        for phone in s.scalars(select(m.Phone).where(m.Phone.location_id.in_(location_ids),
                                                     m.Phone.service_id.is_(None))):
            place_phones[phone.location_id].append(phone)
        place_languages = () if contact_only else \
            s.scalars(select(m.Language).where(m.Language.location_id.in_(location_ids)))
        for lang in place_languages:
            if lang.name:
                place_langs[lang.location_id].append(lang.name)
    places = []
    for sal in sals or [None]:
        loc = locations.get(sal.location_id) if sal and sal.location_id else None
        address = addresses.get(loc.id) if loc is not None and not loc.address_confidential else None
        rows, _ = schedules.applicable(service.id, sal.id if sal else None, loc.id if loc else None)
        hours = build_hours(rows, iana=timezone_for_zip(address.postal_code) if address else None,
                            default_tz=default_tz)
        places.append(PlaceView(loc, address, list(place_phones[loc.id]) if loc is not None else [], hours,
                                hours.is_open(now) if hours.known else None,
                                None if not hours.known or hours.is_open(now) else hours.next_open(now),
                                list(place_langs[loc.id]) if loc is not None else []))
    phones = s.scalars(select(m.Phone).where(or_(m.Phone.service_id == service.id,
                                                 (m.Phone.organization_id == service.organization_id)
                                                 & m.Phone.service_id.is_(None) & m.Phone.location_id.is_(None))
                                             )).all()
    costs = [] if contact_only else s.scalars(select(m.CostOption).where(m.CostOption.service_id == service.id)).all()
    attrs = [] if contact_only else s.scalars(select(m.Attribute).where(m.Attribute.link_entity == "service",
                                                                        m.Attribute.link_id == service.id)).all()
    term_ids = [a.taxonomy_term_id for a in attrs if a.taxonomy_term_id]
    found_terms = {t.id: t for t in s.scalars(select(m.TaxonomyTerm).where(m.TaxonomyTerm.id.in_(term_ids)))} \
        if term_ids else {}
    terms = [found_terms.get(term_id) for term_id in term_ids]
    sdoh_ids = {t["id"]: t for t in sdoh_terms().values()}
    return ServiceView(
        service=service, organization=org, places=places, phones=list(phones),
        languages=sorted(set(service_languages) | {n for p in places for n in p.languages}),
        documents=list(s.scalars(select(m.RequiredDocument).where(m.RequiredDocument.service_id == service.id))),
        costs=list(costs), free=False if contact_only else is_free(service, list(costs)),
        capacity=None if contact_only else s.scalar(select(m.ServiceCapacity).where(
            m.ServiceCapacity.service_id == service.id).order_by(m.ServiceCapacity.updated.desc()).limit(1)),
        areas=[] if contact_only else
        list(s.scalars(select(m.ServiceArea).where(m.ServiceArea.service_id == service.id))),
        domains=[sdoh_ids[t.id] for t in terms if t is not None and t.id in sdoh_ids],
        other_terms=[t for t in terms if t is not None and t.id not in sdoh_ids],
    )
