"""The one search service: SearchQuery in, SearchResults out.

Pipeline: lay-language synonyms expand the text; Whoosh finds matches (stemmed,
boosted by field) inside the filters it can apply itself (domain, language,
accepting referrals, free, age, open at a time via half-hour slot terms in
each time zone, and a coarse geohash-cell prefilter around a point); exact
great-circle distances are then computed only for those candidates, to keep
results inside the radius and to sort by distance. When nothing matches, a
spelling-corrected query is tried and offered as "did you mean".
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from whoosh import sorting
from whoosh.support.levenshtein import distance
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.query import And, Every, NumericRange, Or, Query, Term

from referralnet.directory.hours import build_hours, slot_key
from referralnet.errors import ValidationFailed
from referralnet.geo import Place, PlaceNotFound, cells_covering, distance_miles, locate
from referralnet.search.index import searcher
from referralnet.search.synonyms import expansions

TEXT_FIELDS = ["name", "organization", "terms", "description", "eligibility"]
MAX_RADIUS_MILES = 250
MAX_PER_PAGE = 100
EARTH_RADIUS_MILES = 3958.7613  # the mean radius geopy's great_circle uses (6371.009 km)


@dataclass
class SearchQuery:
    text: str = ""
    domains: list[str] = field(default_factory=list)
    term_ids: list[str] = field(default_factory=list)
    near: str | None = None  # ZIP, address, "City, ST" or "lat,lon"
    point: tuple[float, float] | None = None  # already-resolved coordinates
    radius_miles: float | None = None
    language: str | None = None
    open_now: bool = False
    open_at: tuple[int, int] | None = None  # (weekday 0=Monday, minute of day), local to each place
    accepting_only: bool = False
    free_only: bool = False
    age: int | None = None
    organization_id: str | None = None
    service_ids: list[str] | None = None
    sort: str = "relevance"  # or "distance"
    page: int = 1
    per_page: int = 20
    now: datetime | None = None  # injectable clock (tests); default: the real now

    def validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.radius_miles is not None and not (0 < self.radius_miles <= MAX_RADIUS_MILES):
            errors["radius"] = [f"The distance must be between 0 and {MAX_RADIUS_MILES} miles."]
        if self.radius_miles is not None and not (self.near or self.point):
            errors["near"] = ["Enter a ZIP code or address to search by distance."]
        if self.sort not in ("relevance", "distance"):
            errors["sort"] = ["Sort by relevance or distance."]
        if self.sort == "distance" and not (self.near or self.point):
            errors["near"] = ["Enter a ZIP code or address to sort by distance."]
        if self.age is not None and not (0 <= self.age <= 130):
            errors["age"] = ["The age must be between 0 and 130."]
        if self.page < 1:
            errors["page"] = ["The page number starts at 1."]
        if not (1 <= self.per_page <= MAX_PER_PAGE):
            errors["per_page"] = [f"Between 1 and {MAX_PER_PAGE} results per page."]
        if self.open_at is not None:
            day, minute = self.open_at
            if not (0 <= day <= 6 and 0 <= minute < 1440):
                errors["open_at"] = ["Choose a day and a time of day."]
        if errors:
            raise ValidationFailed("The search could not be run: " + " ".join(v[0] for v in errors.values()), errors)


@dataclass
class Hit:
    doc_id: str
    score: float
    card: dict
    distance_miles: float | None = None
    open_now: bool | None = None
    next_open: datetime | None = None

    def __getattr__(self, name):  # card fields read as attributes in templates: hit.service_name
        try:
            return self.__dict__["card"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class SearchResults:
    query: SearchQuery
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, int]
    place: Place | None = None
    did_you_mean: str | None = None
    corrected_from: str | None = None  # set when the results shown are for the corrected text
    expanded: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _haversine_miles(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance, as geopy's great_circle computes it, cheap enough to run on every candidate."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def _text_query(ix_schema, text: str) -> tuple[Query | None, list]:
    text = (text or "").strip()
    if not text:
        return None, []
    found = expansions(text)
    parser = MultifieldParser(TEXT_FIELDS, schema=ix_schema, group=AndGroup)
    base = parser.parse(text)
    if not found:
        return base, []
    # The words as typed, OR the lay phrase replaced by each thing it means.
    alternatives = [base]
    for phrase, means in found:
        remainder = text.lower().replace(phrase, " ").strip()
        for meaning in means:
            meaning_q = parser.parse(f'"{meaning}"' if " " in meaning else meaning)
            alternatives.append(And([meaning_q, parser.parse(remainder)]) if remainder else meaning_q)
    return Or(alternatives), found


def _filters(q: SearchQuery, place: Place | None, zones: list[str], now: datetime) -> list[Query]:
    filters: list[Query] = []
    if q.domains:
        filters.append(Or([Term("domains", d) for d in q.domains]))
    if q.term_ids:
        filters.append(Or([Term("term_ids", t) for t in q.term_ids]))
    if q.language:
        filters.append(Term("languages", q.language.strip().lower()))
    if q.accepting_only:
        filters.append(Term("accepting", True))
    if q.free_only:
        filters.append(Term("free", True))
    if q.age is not None:
        filters.append(NumericRange("min_age", None, q.age))
        filters.append(NumericRange("max_age", q.age, None))
    if q.organization_id:
        filters.append(Term("organization_id", q.organization_id))
    if q.service_ids is not None:
        filters.append(Or([Term("service_id", s) for s in q.service_ids]) if q.service_ids else Term("id", "\x00"))
    if q.open_at is not None:
        filters.append(Term("slots", slot_key(*q.open_at)))
    elif q.open_now:
        per_zone = []
        for zone in zones:
            local = now.astimezone(ZoneInfo(zone)) if "/" in zone or zone == "UTC" else now
            per_zone.append(And([Term("tz", zone), Term("slots", slot_key(local.weekday(),
                                                                           local.hour * 60 + local.minute))]))
        filters.append(Or(per_zone) if per_zone else Term("id", "\x00"))
    if place is not None and q.radius_miles:
        filters.append(Or([Term("cells", c) for c in cells_covering(place.latitude, place.longitude,
                                                                       q.radius_miles)]))
    return filters


def search(q: SearchQuery) -> SearchResults:
    """Run a directory search. Raises ValidationFailed for bad parameters (e.g. an unknown ZIP code)."""
    q.validate()
    place = _resolve_place(q)
    now = q.now or datetime.now(timezone.utc)
    s = searcher()
    zones = [z.decode() if isinstance(z, bytes) else z for z in s.lexicon("tz")] if q.open_now else []
    text_q, expanded = _text_query(s.schema, q.text)
    results = _run(s, q, text_q, place, zones, now)
    results.expanded = expanded
    if q.text.strip():
        suggestion = _spelling_suggestion(s, q.text, {w for phrase, _ in expanded for w in phrase.split()})
        if suggestion:
            if results.total == 0:
                retry_q, retry_expanded = _text_query(s.schema, suggestion)
                retry = _run(s, q, retry_q, place, zones, now)
                if retry.total:
                    retry.corrected_from = q.text
                    retry.did_you_mean = suggestion
                    retry.expanded = retry_expanded
                    return retry
            results.did_you_mean = suggestion
    return results


@dataclass(frozen=True)
class Match:
    doc_id: str
    service_id: str
    organization_id: str
    distance_miles: float | None = None


def search_matches(q: SearchQuery) -> list[Match]:
    """Every document matching `q`, best (or nearest) first, in one pass: no paging, facets or
    hours decoration. For callers that page on their own terms (the HSDS API collapses places
    into services). Like `search`, a misspelt query that matches nothing is retried corrected.
    Raises ValidationFailed like `search`."""
    matches = _matches(q)
    if not matches and q.text.strip():
        s = searcher()
        _, expanded = _text_query(s.schema, q.text)
        suggestion = _spelling_suggestion(s, q.text, {w for phrase, _ in expanded for w in phrase.split()})
        if suggestion:
            return _matches(replace(q, text=suggestion))
    return matches


def _matches(q: SearchQuery) -> list[Match]:
    q.validate()
    place = _resolve_place(q)
    now = q.now or datetime.now(timezone.utc)
    s = searcher()
    zones = [z.decode() if isinstance(z, bytes) else z for z in s.lexicon("tz")] if q.open_now else []
    text_q, _ = _text_query(s.schema, q.text)
    query = text_q or Every()
    filters = _filters(q, place, zones, now)
    combined = And(filters) if filters else None
    if (place is not None and (q.radius_miles or q.sort == "distance")) or q.open_now:
        candidates = _candidates(s, q, query, combined, place, now)
    else:
        results = s.search(query, filter=combined, limit=None, scored=text_q is not None,
                           sortedby=None if text_q is not None else "name_sort")
        candidates = [(score or 0.0, None, docnum) for docnum, score in results.items()]
    reader = s.reader()
    if not candidates or not reader.has_column("id"):
        return []
    ids, services, orgs = (reader.column_reader(f) for f in ("id", "service_id", "organization_id"))
    text = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    return [Match(text(ids[d]), text(services[d]), text(orgs[d]), dist) for _, dist, d in candidates]


def _resolve_place(q: SearchQuery) -> Place | None:
    if q.point is not None:
        return Place(q.point[0], q.point[1], f"{q.point[0]:.4f}, {q.point[1]:.4f}")
    if q.near:
        try:
            return locate(q.near)
        except PlaceNotFound as exc:
            raise ValidationFailed(str(exc), {"near": [str(exc)]}) from None
    return None


SPELLING_FIELDS = ("name", "organization", "terms", "description")


def _spelling_suggestion(s, text: str, protected: set[str]) -> str | None:
    """The text with each word the directory does not know replaced by the closest word it does.

    A word counts as known if any searchable field has it; lay phrases from the synonym list,
    numbers and very short words are left alone. None when nothing needed correcting.
    """
    words = re.findall(r"[\w'-]+", text.lower())
    changed = False
    out = []
    for word in words:
        if len(word) < 3 or word.isdigit() or word in protected:
            out.append(word)
            continue
        best: tuple[int, str] | None = None
        for field_name in SPELLING_FIELDS:
            for candidate in s.corrector(field_name).suggest(word, limit=3, maxdist=2, prefix=1):
                dist = 0 if candidate == word else distance(word, candidate)
                if best is None or dist < best[0]:
                    best = (dist, candidate)
            if best and best[0] == 0:
                break
        if best is None or best[0] == 0:
            out.append(word)
        else:
            out.append(best[1])
            changed = True
    return " ".join(out) if changed else None


def _run(s, q: SearchQuery, text_q: Query | None, place: Place | None, zones: list[str],
         now: datetime) -> SearchResults:
    query = text_q or Every()
    filters = _filters(q, place, zones, now)
    # Facet counts leave the domain filter out, so every domain shows what choosing it would give.
    facet_filters = filters[1:] if q.domains else filters
    if (place is not None and (q.radius_miles or q.sort == "distance")) or q.open_now:
        # One pass: matches without the domain filter, grouped by domain; the exact radius and
        # hours checks; then facets counted and the domain filter applied on what survived.
        candidates, groups = _candidates(s, q, query, And(facet_filters) if facet_filters else None, place,
                                         now, with_groups=True)
        kept = {c[2] for c in candidates}
        facets = {d: len(kept.intersection(docs)) for d, docs in groups.items()}
        facets = {d: n for d, n in facets.items() if n}
        if q.domains:
            wanted = set().union(*(groups.get(d, ()) for d in q.domains))
            candidates = [c for c in candidates if c[2] in wanted]
        start = (q.page - 1) * q.per_page
        hits = []
        for score, distance, docnum in candidates[start:start + q.per_page]:
            stored = s.stored_fields(docnum)
            hits.append(Hit(stored["id"], score, stored["card"], distance_miles=distance))
        total = len(candidates)
    elif not q.domains:
        # One pass: the top of the page and the domain counts come from the same search.
        results = s.search(query, filter=And(filters) if filters else None, limit=q.page * q.per_page,
                           scored=text_q is not None, sortedby=None if text_q is not None else "name_sort",
                           groupedby={"domains": sorting.FieldFacet("domains", allow_overlap=True)})
        total = len(results)
        start = (q.page - 1) * q.per_page
        hits = [Hit(r["id"], r.score or 0.0, r["card"]) for r in results[start:start + q.per_page]]
        facets = {(k.decode() if isinstance(k, bytes) else k): len(v)
                  for k, v in results.groups("domains").items() if k}
    else:
        combined = And(filters) if filters else None
        page = s.search_page(query, q.page, pagelen=q.per_page, filter=combined, scored=text_q is not None,
                             sortedby=None if text_q is not None else "name_sort")
        total = page.total
        hits = [Hit(r["id"], r.score or 0.0, r["card"]) for r in page]
        facets = _facets(s, query, And(facet_filters) if facet_filters else None)
    for hit in hits:
        _decorate(hit, place, now)
    return SearchResults(q, hits, total, q.page, q.per_page, facets, place)


def _candidates(s, q: SearchQuery, query: Query, combined: Query | None, place: Place | None,
                now: datetime, with_groups: bool = False):
    """Candidates from the index kept only if truly within the radius / truly open, in result order.

    With `with_groups`, also returns {domain: docnums} of the index matches (before the exact checks).
    """
    groupedby = {"domains": sorting.FieldFacet("domains", allow_overlap=True)} if with_groups else None
    results = s.search(query, filter=combined, limit=None, scored=q.sort != "distance", groupedby=groupedby)
    groups = {}
    if with_groups:
        groups = {(k.decode() if isinstance(k, bytes) else k): v for k, v in results.groups("domains").items() if k}
    reader = s.reader()
    if place is not None and not reader.has_column("lat"):
        return ([], groups) if with_groups else []  # an empty index: nothing can be near anything
    lat_col = reader.column_reader("lat") if place is not None else None
    lon_col = reader.column_reader("lon") if place is not None else None
    candidates: list[tuple[float, float | None, int]] = []
    for docnum, score in results.items():
        distance = None
        if place is not None:
            lat, lon = lat_col[docnum], lon_col[docnum]
            if math.isnan(lat) or math.isnan(lon):  # no coordinates (or a confidential place)
                if q.radius_miles or q.sort == "distance":
                    continue
            else:
                distance = _haversine_miles(place.latitude, place.longitude, lat, lon)
                if q.radius_miles and distance > q.radius_miles:
                    continue
        candidates.append((score or 0.0, distance, docnum))
    if q.open_now and q.open_at is None:
        candidates = [c for c in candidates if _really_open(s, c[2], now)]
    if q.sort == "distance":
        candidates.sort(key=lambda c: (c[1] if c[1] is not None else float("inf"), c[2]))
    return (candidates, groups) if with_groups else candidates


def _really_open(s, docnum: int, now: datetime) -> bool:
    """Slot terms describe a typical week; holiday closures and special hours need the exact check."""
    card = s.stored_fields(docnum)["card"]
    if not card.get("has_exceptions"):
        return True
    return build_hours(_schedule_rows(card), iana=card.get("tz")).is_open(now)


def _schedule_rows(card: dict) -> list[dict]:
    rows = []
    for row in card.get("schedules", []):
        row = dict(row)
        for key in ("valid_from", "valid_to"):
            if row.get(key):
                row[key] = date.fromisoformat(row[key])
        rows.append(row)
    return rows


def _facets(s, query: Query, filt: Query | None) -> dict[str, int]:
    """Result counts per SDOH domain."""
    facet = sorting.FieldFacet("domains", allow_overlap=True)
    results = s.search(query, filter=filt, limit=1, groupedby={"domains": facet}, scored=False)
    groups = results.groups("domains")
    return {(k.decode() if isinstance(k, bytes) else k): len(v) for k, v in groups.items() if k}


def _decorate(hit: Hit, place: Place | None, now: datetime) -> None:
    """Open now / next opening, and the distance shown (geopy) for a result on the page."""
    card = hit.card
    hours = build_hours(_schedule_rows(card), iana=card.get("tz"))
    if hours.known:
        hit.open_now = hours.is_open(now)
        hit.next_open = None if hit.open_now else hours.next_open(now)
    if place is not None and card.get("lat") is not None:
        hit.distance_miles = distance_miles((place.latitude, place.longitude), (card["lat"], card["lon"]))
