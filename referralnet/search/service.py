"""The one search service: SearchQuery in, SearchResults out.

Pipeline: lay-language synonyms expand the text (a multi-word meaning is a `concepts` term
tagged at index time); the Whoosh index's postings find the matches (stemmed, across the text
fields) inside the filters (domain, language, accepting referrals, free, age, open at a time via
half-hour slot terms in each time zone, and a coarse geohash-cell prefilter around a point).
Matching, filtering and facet counting are bitset operations on postings read once per index
generation (engine.py); exact great-circle distances and holiday closures are then checked only
for those candidates; only what is left is scored (BM25F, as Whoosh scores) and only the page
shown is loaded. When nothing matches, a spelling-corrected query is tried and offered as
"did you mean".
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import heapq

from whoosh.query import And, NumericRange, Or, Query, Term
from whoosh.support.levenshtein import distance

from referralnet.directory.hours import build_hours, slot_key
from referralnet.errors import ValidationFailed
from referralnet.geo import Place, PlaceNotFound, cells_covering, distance_miles, locate
from referralnet.search.concepts import concept_queries, text_parser
from referralnet.search.schema import TEXT_FIELDS
from referralnet.search.engine import Concept, bits_from, bits_to_list, isnan, snapshot
from referralnet.search.index import searcher
from referralnet.search.synonyms import expansions

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


def _parser(snap):
    return snap.cached_for_schema(("parser",), lambda: text_parser(snap.s.schema))


def _text_query(snap, text: str) -> tuple[Query | None, list]:
    """The parsed text (all words required, across the text fields), OR each lay phrase found
    replaced by each thing it means. A multi-word meaning is a `Concept` (tagged at index time)."""
    text = (text or "").strip()
    if not text:
        return None, []
    return snap.cached_for_schema(("text", text), lambda: _build_text_query(snap, text))


def _fold_fields(q: Query) -> Query:
    """Each plain word the parser spread over the five text fields (an Or of the same Term in each)
    becomes one Term of `body`, which holds exactly the words of those fields."""
    kind = type(q)
    if kind is Or and not q.minmatch and q.boost == 1.0:
        subs = q.subqueries
        if len(subs) == len(TEXT_FIELDS) and all(type(t) is Term and t.boost == 1.0 for t in subs) \
                and {t.fieldname for t in subs} == set(TEXT_FIELDS) and len({t.text for t in subs}) == 1:
            return Term("body", subs[0].text)
    if kind in (And, Or):
        return kind([_fold_fields(sub) for sub in q.subqueries], boost=q.boost) if kind is And else \
            Or([_fold_fields(sub) for sub in q.subqueries], boost=q.boost, minmatch=q.minmatch, scale=q.scale)
    return q


def _build_text_query(snap, text: str) -> tuple[Query, list]:
    query, found = _expanded_query(snap, text)
    return (_fold_fields(query) if "body" in snap.s.schema else query), found


def _expanded_query(snap, text: str) -> tuple[Query, list]:
    found = expansions(text)
    parser = _parser(snap)
    base = parser.parse(text)
    if not found:
        return base, []
    concepts = concept_queries(snap.s.schema) if "concepts" in snap.s.schema else {}
    # The words as typed, OR the lay phrase replaced by each thing it means.
    alternatives = [base]
    for phrase, means in found:
        remainder = text.lower().replace(phrase, " ").strip()
        for meaning in means:
            if meaning in concepts:
                meaning_q = Concept(meaning, concepts[meaning])
            else:
                meaning_q = parser.parse(f'"{meaning}"' if " " in meaning else meaning)
            alternatives.append(And([meaning_q, parser.parse(remainder)]) if remainder else meaning_q)
    return Or(alternatives), found


def _zones(snap, q: SearchQuery) -> list[str]:
    return snap.lexicon("tz") if q.open_now else []


def _filter_bits(snap, q: SearchQuery, place: Place | None, zones: list[str], now: datetime,
                 with_domains: bool) -> int | None:
    """The documents every filter but (unless `with_domains`) the domain filter lets through, as a
    bitset; None when there is no filter. Open now here is the typical week (slot terms in each
    place's time zone); the geohash cells only prefilter the radius."""
    parts: list[int] = []
    term = snap.term_bits
    if with_domains and q.domains:
        parts.append(_union(term("domains", d) for d in q.domains))
    if q.term_ids:
        parts.append(_union(term("term_ids", t) for t in q.term_ids))
    if q.language:
        parts.append(term("languages", q.language.strip().lower()))
    if q.accepting_only:
        parts.append(term("accepting", True))
    if q.free_only:
        parts.append(term("free", True))
    if q.age is not None:
        parts.append(snap.match(NumericRange("min_age", None, q.age)))
        parts.append(snap.match(NumericRange("max_age", q.age, None)))
    if q.organization_id:
        parts.append(term("organization_id", q.organization_id))
    if q.service_ids is not None:
        parts.append(_union(term("service_id", sid) for sid in q.service_ids))
    if q.open_at is not None:
        parts.append(term("slots", slot_key(*q.open_at)))
    elif q.open_now:
        open_bits = 0
        for zone in zones:
            local = now.astimezone(ZoneInfo(zone)) if "/" in zone or zone == "UTC" else now
            open_bits |= term("tz", zone) & term("slots", slot_key(local.weekday(), local.hour * 60 + local.minute))
        parts.append(open_bits)
    if place is not None and q.radius_miles:
        parts.append(_union(term("cells", c) for c in cells_covering(place.latitude, place.longitude,
                                                                      q.radius_miles)))
    if not parts:
        return None
    parts.sort(key=int.bit_length)
    out = parts[0]
    for p in parts[1:]:
        out &= p
    return out


def _union(bitsets) -> int:
    out = 0
    for b in bitsets:
        out |= b
    return out


def _evaluate(snap, q: SearchQuery, text_q: Query | None, place: Place | None, zones: list[str],
              now: datetime, facets: bool):
    """(bitset of the documents found, {docnum: distance} or None, facets or None).

    Found: text AND filters, then the exact checks (great-circle radius, holiday closures for
    open now). Facets count the found documents per SDOH domain before the domain filter, so
    each count is what choosing that domain gives; the domain filter is applied last."""
    found = snap.match(text_q) if text_q is not None else snap.live_bits()
    filt = _filter_bits(snap, q, place, zones, now, with_domains=not facets)
    if filt is not None:
        found &= filt
    distances = None
    exact = (place is not None and (q.radius_miles or q.sort == "distance")) or q.open_now
    if exact and found:
        docs = bits_to_list(found)
        if place is not None:
            lats, lons = snap.column("lat"), snap.column("lon")
            if lats is None:
                docs, distances = [], {}
            else:
                distances = {}
                kept = []
                need = q.radius_miles or q.sort == "distance"
                radius = q.radius_miles
                plat, plon = place.latitude, place.longitude
                for d in docs:
                    lat, lon = lats[d], lons[d]
                    if isnan(lat) or isnan(lon):  # no coordinates (or a confidential place)
                        if need:
                            continue
                        distances[d] = None
                    else:
                        dist = _haversine_miles(plat, plon, lat, lon)
                        if radius and dist > radius:
                            continue
                        distances[d] = dist
                    kept.append(d)
                docs = kept
        if q.open_now and q.open_at is None:
            exceptions = snap.term_bits("has_exceptions", True)
            docs = [d for d in docs if not (exceptions >> d & 1) or _really_open(snap.s, d, now)] \
                if len(docs) < 256 else _open_filter(snap, docs, exceptions, now)
        found = bits_from(docs)
    facet_counts = None
    if facets:
        facet_counts = {}
        for domain, bits in snap.domain_bits().items():
            n = (found & bits).bit_count()
            if n:
                facet_counts[domain] = n
        if q.domains:
            found &= _union(snap.term_bits("domains", d) for d in q.domains)
    return found, distances, facet_counts


def _open_filter(snap, docs: list[int], exceptions: int, now: datetime) -> list[int]:
    check = set(bits_to_list(bits_from(docs) & exceptions))
    return [d for d in docs if d not in check or _really_open(snap.s, d, now)]


def _ordered(snap, q: SearchQuery, text_q: Query | None, found: int, distances: dict | None,
             limit: int | None) -> list[tuple[float, float | None, int]]:
    """[(score, distance, docnum)] in result order: nearest first, best first (text), or by name;
    only the first `limit` when given."""
    docs = bits_to_list(found)
    dist = distances.get if distances is not None else (lambda d: None)
    if q.sort == "distance":
        key = lambda d: (dist(d) if dist(d) is not None else float("inf"), d)  # noqa: E731
        chosen = heapq.nsmallest(limit, docs, key=key) if limit is not None else sorted(docs, key=key)
        return [(0.0, dist(d), d) for d in chosen]
    if text_q is not None:  # best first; equal scores in index order, as Whoosh ranks them
        if len(docs) >= RANK_CACHE_MIN:
            # Many matches (few or no filters): rank all the text's matches once per index
            # generation; repeated searches for the same words then cost only the page.
            everything = snap.match(text_q)
            ranked_all = snap.cached_ranking(text_q, lambda: _rank(snap, text_q, bits_to_list(everything)))
            if found == everything:
                chosen = ranked_all[:limit] if limit is not None else ranked_all
            else:
                inside = set(docs)
                chosen = [r for r in ranked_all if r[1] in inside]
                chosen = chosen[:limit] if limit is not None else chosen
        else:
            ranked = _rank(snap, text_q, docs)
            chosen = heapq.nsmallest(limit, ranked) if limit is not None else ranked
        return [(-negative, dist(d), d) for negative, d in chosen]
    if distances is not None or q.open_now:
        chosen = docs[:limit] if limit is not None else docs  # index order, as an unscored search gives
    else:
        names = snap.column("name_sort") or []
        key = lambda d: (names[d] if d < len(names) else "", d)  # noqa: E731
        chosen = heapq.nsmallest(limit, docs, key=key) if limit is not None else sorted(docs, key=key)
    return [(0.0, dist(d), d) for d in chosen]


RANK_CACHE_MIN = 1000  # matches from which a text's full ranking is computed once and kept


def _rank(snap, text_q: Query, docs: list[int]) -> list[tuple[float, int]]:
    """[(-score, docnum)] sorted: best first, equal scores in index order."""
    scores = snap.scores(text_q, set(docs))
    get = scores.get
    return sorted([(-get(d, 0.0), d) for d in docs])


def search(q: SearchQuery) -> SearchResults:
    """Run a directory search. Raises ValidationFailed for bad parameters (e.g. an unknown ZIP code)."""
    q.validate()
    place = _resolve_place(q)
    now = q.now or datetime.now(timezone.utc)
    s = searcher()
    snap = snapshot(s)
    zones = _zones(snap, q)
    text_q, expanded = _text_query(snap, q.text)
    results = _run(s, q, text_q, place, zones, now)
    results.expanded = expanded
    if q.text.strip():
        suggestion = _spelling_suggestion(s, q.text, {w for phrase, _ in expanded for w in phrase.split()})
        if suggestion:
            if results.total == 0:
                retry_q, retry_expanded = _text_query(snap, suggestion)
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
        _, expanded = _text_query(snapshot(s), q.text)
        suggestion = _spelling_suggestion(s, q.text, {w for phrase, _ in expanded for w in phrase.split()})
        if suggestion:
            return _matches(replace(q, text=suggestion))
    return matches


def _matches(q: SearchQuery) -> list[Match]:
    q.validate()
    place = _resolve_place(q)
    now = q.now or datetime.now(timezone.utc)
    s = searcher()
    snap = snapshot(s)
    text_q, _ = _text_query(snap, q.text)
    found, distances, _ = _evaluate(snap, q, text_q, place, _zones(snap, q), now, facets=False)
    if not found:
        return []
    ordered = _ordered(snap, q, text_q, found, distances, None)
    ids, services, orgs = (snap.column(f) for f in ("id", "service_id", "organization_id"))
    if ids is None:
        return []
    text = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    return [Match(text(ids[d]), text(services[d]), text(orgs[d]), dist) for _, dist, d in ordered]


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
    snap = snapshot(s)
    return snap.cached(("spelling", text, frozenset(protected)), lambda: _suggest(s, text, protected))


def _suggest(s, text: str, protected: set[str]) -> str | None:
    words = re.findall(r"[\w'-]+", text.lower())
    reader = s.reader()
    spell_fields = [s.schema[f].spelling_fieldname(f) for f in SPELLING_FIELDS]
    changed = False
    out = []
    for word in words:
        if len(word) < 3 or word.isdigit() or word in protected \
                or any((f, word) in reader for f in spell_fields):  # known: nothing to correct
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
    snap = snapshot(s)
    found, distances, facets = _evaluate(snap, q, text_q, place, zones, now, facets=True)
    start = (q.page - 1) * q.per_page
    ordered = _ordered(snap, q, text_q, found, distances, start + q.per_page) if found else []
    hits = []
    for score, dist, docnum in ordered[start:start + q.per_page]:
        stored = s.stored_fields(docnum)
        hits.append(Hit(stored["id"], score, stored["card"], distance_miles=dist))
    for hit in hits:
        _decorate(hit, place, now)
    return SearchResults(q, hits, found.bit_count(), q.page, q.per_page, facets or {}, place)


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


def _decorate(hit: Hit, place: Place | None, now: datetime) -> None:
    """Open now / next opening, and the distance shown (geopy) for a result on the page."""
    card = hit.card
    hours = build_hours(_schedule_rows(card), iana=card.get("tz"))
    if hours.known:
        hit.open_now = hours.is_open(now)
        hit.next_open = None if hit.open_now else hours.next_open(now)
    if place is not None and card.get("lat") is not None:
        hit.distance_miles = distance_miles((place.latitude, place.longitude), (card["lat"], card["lon"]))
