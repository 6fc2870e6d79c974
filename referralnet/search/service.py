"""The one search service: SearchQuery in, SearchResults out.

Pipeline: the text is understood first (understanding.py: misspelt words corrected, the need
lexicon's phrasings found, small words dropped) into clauses; each clause is the words typed OR
the terms and taxonomy codes they were taken to mean (a multi-word term is a `concepts` term
tagged at index time). A document matches when it matches any clause, and ranks by how many and
which it matches (`TextQuery`). The Whoosh index's postings find the matches inside the filters (domain, language, accepting referrals, free, age, open at a time via
half-hour slot terms in each time zone, and a coarse geohash-cell prefilter around a point).
Matching, filtering and facet counting are bitset operations on postings read once per index
generation (engine.py); exact great-circle distances and holiday closures are then checked only
for those candidates; only what is left is scored (BM25F, as Whoosh scores) and only the page
shown is loaded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import heapq

import numpy as np

from whoosh.query import And, Or, Query, Term

from referralnet.directory.hours import WeeklyHours, build_hours, slot_number
from referralnet.errors import ValidationFailed
from referralnet.geo import Place, PlaceNotFound, cells_covering, distance_miles, locate
from whoosh.analysis.tokenizers import default_pattern

from referralnet.search.concepts import concept_queries
from referralnet.search.engine import Concept, bits_from, bits_to_array, bits_to_list, isnan, snapshot
from referralnet.search.index import searcher
from referralnet.search.schema import slot_block_terms
from referralnet.search.understanding import CrisisLine, QueryPlan, understand

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
    docnum: int = -1
    why: list[str] = field(default_factory=list)  # each part of the query it matched, and as what

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
    expanded: list[tuple[str, list[str]]] = field(default_factory=list)  # lay words -> what they were taken to mean
    crisis: list[CrisisLine] = field(default_factory=list)  # hotlines to show above the results
    plan: QueryPlan | None = None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _haversine_miles(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance, as geopy's great_circle computes it, cheap enough to run on every candidate."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


class ClauseQuery(NamedTuple):
    """A clause of the plan as index queries."""

    match: Query  # what matches the clause (any of its parts)
    parts: tuple[Query, ...]  # scored one by one: the words typed, each term and code of its needs
    credits: tuple[float, ...]  # per part, how much a match through it counts as matching the clause
    weight: float


class TextQuery:
    """The clauses of a query plan as index queries: matched one by one, ranked together.

    A document matches when it matches any clause. A clause scores as the best of its parts (the
    words typed, each term and taxonomy code they were taken to mean: BM25F each) plus a little of
    the others (TIE), so a need with many terms weighs no more than a word typed. A document's
    score is the weighted sum of its clauses' scores times a coordination factor, (share of the
    clause weight matched) ** COORDINATION: a result that matches every part of what was asked
    ranks above one that matches only some.
    """

    def __init__(self, clauses: list[ClauseQuery], alternatives: list[list[tuple[str | None, Query]]]):
        self.clauses = clauses
        self.alternatives = alternatives  # per clause: (need id or None for the words typed, its query)
        self.total_weight = sum(c.weight for c in clauses) or 1.0
        self._key = tuple(clauses)

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, TextQuery) and other._key == self._key

    def match(self, snap) -> int:
        out = 0
        for c in self.clauses:
            out |= snap.match(c.match)
        return out

    def dense_scores(self, snap):
        """Every document's score (0 where nothing matches) as one array over the docnums, kept
        per index generation: the work is a few vector operations per part, whatever the count."""
        return snap.cached_arrays(("dense", self), lambda: self._dense_scores(snap))

    def scores_of(self, snap, docs):
        """The scores of `docs` (an array of docnums): from the whole-index vector when this
        generation has it, else, for a few documents (filters or a radius left few), only theirs."""
        if docs.size > SPARSE_MAX or snap.has_array(("dense", self)):
            return self.dense_scores(snap)[docs]
        wanted = docs.tolist()
        inside = set(wanted)
        total = dict.fromkeys(wanted, 0.0)
        matched = dict.fromkeys(wanted, 0.0)
        for c in self.clauses:
            best: dict[int, float] = {}
            summed: dict[int, float] = {}
            credit: dict[int, float] = {}
            for part, part_credit in zip(c.parts, c.credits):
                if type(part) is Term:
                    table = snap.term_scores(part.fieldname, part.text)
                    found = {d: table[d] * part.boost for d in wanted if d in table}
                else:
                    found = snap.scores(part, inside)
                for d, v in found.items():
                    if v > best.get(d, 0.0):
                        best[d] = v
                    summed[d] = summed.get(d, 0.0) + v
                    if part_credit > credit.get(d, 0.0):
                        credit[d] = part_credit
            for d, v in best.items():
                total[d] += c.weight * ((1.0 - TIE) * v + TIE * summed[d])  # the best + TIE x the others
                matched[d] += c.weight * credit[d]
        values = np.fromiter((total[d] for d in wanted), dtype=np.float64, count=len(wanted))
        if len(self.clauses) > 1:
            shares = np.fromiter((matched[d] for d in wanted), dtype=np.float64, count=len(wanted))
            values *= (shares / self.total_weight) ** COORDINATION
        return values

    def _dense_scores(self, snap):
        n = snap.doc_count_all
        total = np.zeros(n)
        matched = np.zeros(n)
        for c in self.clauses:
            best = np.zeros(n)
            summed = np.zeros(n)
            credit = np.zeros(n)
            for part, part_credit in zip(c.parts, c.credits):
                idx, vals = _part_scores(snap, part)
                if idx.size:
                    best[idx] = np.maximum(best[idx], vals)
                    summed[idx] += vals
                    credit[idx] = np.maximum(credit[idx], part_credit)
            total += c.weight * ((1.0 - TIE) * best + TIE * summed)
            matched += c.weight * credit
        if len(self.clauses) > 1:
            total *= (matched / self.total_weight) ** COORDINATION
        return total

    def best_matches(self, snap, found: int) -> int:
        """The documents of `found` that match the most of the query (the largest share of clause
        weight any of them matches): what a non-relevance order (nearest first) should list."""
        if len(self.clauses) == 1 or not found:
            return found
        every = found
        for c in self.clauses:
            every &= snap.match(c.match)
        if every:
            return every
        bits = [(snap.match(c.match) & found, c.weight) for c in self.clauses]
        share: dict[int, float] = {}
        for b, w in bits:
            for d in bits_to_list(b):
                share[d] = share.get(d, 0.0) + w
        best = max(share.values())
        return bits_from(d for d, v in share.items() if v >= best - 1e-9)

    def explain(self, snap, docnum: int, plan: QueryPlan) -> list[str]:
        """Why a document matched: each clause it matches, with what the words were taken to mean."""
        out = []
        for clause, alternatives in zip(plan.clauses, self.alternatives):
            for need_id, q in alternatives:
                if snap.match(q) >> docnum & 1:
                    need = next((n for n in clause.needs + clause.related if n.id == need_id), None)
                    out.append(clause.explain(need))
                    break
        return out


COORDINATION = 2.0
TIE = 0.1  # how much a clause's other matching parts add to its best one
CODE_BOOST = 1.5  # a taxonomy code says what a service is more surely than a word in its description
NEED_BOOST = 0.8  # a term a lay phrase was taken to mean, against the words as typed
RELATED_BOOST = 0.3  # what a phrasing's words mean on their own, against what the phrasing means
SPARSE_MAX = 2000  # found documents up to which a ranking scores only them (not the whole index)
WIDEN_BELOW = 20  # a phrasing whose own meaning matches fewer documents is widened with RELATED_BOOST


def _body_terms(schema, text: str) -> list[str]:
    """The `body` terms of some words (as the index analyzed them: stop words out, stemmed)."""
    words = " ".join(m.group() for m in default_pattern.finditer(text.lower()))
    return list(dict.fromkeys(t.text for t in schema["body"].analyzer(words)))


def _words_query(snap, text: str) -> Query | None:
    """Some words as one query: a tagged concept for a multi-word lexicon term, else their `body`
    terms (all of them). Kept per schema."""
    return snap.cached_for_schema(("words", text), lambda: _make_words_query(snap.s.schema, text))


def _make_words_query(schema, text: str) -> Query | None:
    concepts = concept_queries(schema) if "concepts" in schema else {}
    if " " in text and text in concepts:
        return Concept(text, concepts[text])
    terms = _body_terms(schema, text)
    if not terms:
        return None
    return Term("body", terms[0]) if len(terms) == 1 else And([Term("body", t) for t in terms])


def _need_parts(snap, need) -> list[Query]:
    """A need's terms and taxonomy codes, each a query of its own (boosted against the words typed)."""
    def make():
        parts = [q for q in (_words_query(snap, t) for t in need.terms) if q is not None]
        if "codes" in snap.s.schema:
            parts += [Term("codes", c, boost=CODE_BOOST) for c in need.codes]
        return [_boosted(q, NEED_BOOST) for q in parts]
    return snap.cached_for_schema(("need", need.id, need.terms, need.codes), make)


def _boosted(q: Query, boost: float) -> Query:
    """`q` with its boost multiplied (a new query: parsed ones are shared through caches)."""
    if type(q) is Concept:
        return Concept(q.text, q.phrase, boost=q.boost * boost)
    if type(q) is Term:
        return Term(q.fieldname, q.text, boost=q.boost * boost)
    if type(q) is And:
        return And(q.subqueries, boost=q.boost * boost)
    return Or([q], boost=boost)


def _part_scores(snap, part: Query):
    """(docnums, scores) of one scored part, as arrays, kept per index generation."""
    def make():
        if type(part) is Term:
            table = snap.term_scores(part.fieldname, part.text)
            live = snap.live_bits()
            idx = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
            vals = np.fromiter(table.values(), dtype=np.float64, count=len(table))
        else:
            table = snap.scores(part, set(bits_to_list(snap.match(part))))
            idx = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
            vals = np.fromiter(table.values(), dtype=np.float64, count=len(table))
            live = None
        if type(part) is Term and part.boost != 1.0:
            vals = vals * part.boost
        if live is not None and idx.size:
            keep = snap.cached_arrays(("live-mask",), lambda: _bit_mask(live, snap.doc_count_all))[idx]
            idx, vals = idx[keep], vals[keep]
        return idx, vals
    return snap.cached_arrays(("part-scores", part), make)


def _bit_mask(bits: int, n: int):
    """A bitset as a boolean array of length n."""
    raw = np.frombuffer(bits.to_bytes((n + 7) // 8 or 1, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:n].astype(bool)


def _text_query(snap, text: str) -> tuple[TextQuery | None, QueryPlan]:
    """The understood text (see understanding.py) as index queries, kept per index generation
    (whether a phrasing is widened depends on what the index holds)."""
    plan = _plan(snap, text)
    if not plan.clauses:
        return None, plan
    return snap.cached(("text", plan.key()), lambda: _build_text_query(snap, plan)), plan


def _build_text_query(snap, plan: QueryPlan) -> TextQuery | None:
    clauses, alternatives = [], []
    for clause in plan.clauses:
        alts: list[tuple[str | None, Query]] = []
        parts: list[Query] = []
        credits: list[float] = []

        def add(need_id, need_parts, credit=1.0):
            need_parts = [p for p in need_parts if p not in parts]
            if need_parts:
                alts.append((need_id, Or(need_parts) if len(need_parts) > 1 else need_parts[0]))
                parts.extend(need_parts)
                credits.extend([credit] * len(need_parts))

        typed = _words_query(snap, " ".join(clause.words))
        if typed is not None:
            add(None, [typed])
        for need in clause.needs:
            add(need.id, _need_parts(snap, need))
        if clause.related and (not parts or snap.match(Or(parts)).bit_count() < WIDEN_BELOW):
            # A narrow phrasing that finds little: what its words mean on their own, weaker, and a
            # match through them only partly counts as matching the clause.
            for need in clause.related:
                add(need.id, [_boosted(p, RELATED_BOOST) for p in _need_parts(snap, need)], RELATED_BOOST)
        if not parts:
            continue
        clauses.append(ClauseQuery(Or(parts) if len(parts) > 1 else parts[0], tuple(parts), tuple(credits),
                                   clause.weight))
        alternatives.append(alts)
    if not clauses:
        return None
    return TextQuery(clauses, alternatives)


def _plan(snap, text: str) -> QueryPlan:
    """What the text asks for. Per index generation, since spelling asks what the index knows."""
    text = (text or "").strip()
    if not text:
        return QueryPlan(text)
    return snap.cached(("plan", text), lambda: understand(
        text, known=lambda w: _index_knows(snap, w), vocabulary=lambda: _spelling_vocabulary(snap),
        weight=lambda w: _doc_frequency(snap, w)))


def _index_knows(snap, word: str) -> bool:
    """A word, exactly as typed, that a searchable field of the directory has (a stem would not do:
    "emergancy" and "emergency" stem alike)."""
    reader = snap.s.reader()
    return any((snap.s.schema[f].spelling_fieldname(f), word) in reader for f in SPELLING_FIELDS if f in snap.s.schema)


def _spelling_vocabulary(snap) -> list[str]:
    """The directory's own words (unstemmed) a misspelt word may be corrected to."""
    def make():
        words: set[str] = set()
        for f in SPELLING_FIELDS:
            if f in snap.s.schema:
                words.update(w for w in snap.lexicon(snap.s.schema[f].spelling_fieldname(f))
                             if w.isalpha() and len(w) > 2)
        return sorted(words)
    return snap.cached(("spelling-vocabulary",), make)


def _doc_frequency(snap, word: str) -> float:
    terms = _body_terms(snap.s.schema, word) if "body" in snap.s.schema else []
    return math.log1p(snap.term_bits("body", terms[0]).bit_count()) if terms else 0.0


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
        parts.append(snap.within("min_age", "max_age", q.age))
    if q.organization_id:
        parts.append(term("organization_id", q.organization_id))
    if q.service_ids is not None:
        parts.append(_union(term("service_id", sid) for sid in q.service_ids))
    if q.open_at is not None:
        parts.append(_open_in(snap, slot_number(*q.open_at)))
    elif q.open_now:
        open_bits = 0
        for zone in zones:
            local = now.astimezone(ZoneInfo(zone)) if "/" in zone or zone == "UTC" else now
            open_bits |= term("tz", zone) & _open_in(snap, slot_number(local.weekday(), local.hour * 60 + local.minute))
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


def _open_in(snap, slot: int) -> int:
    """The documents open (in a typical week) through half hour `slot` (schema.slot_blocks)."""
    return _union(snap.term_bits("slots", t) for t in slot_block_terms(slot))


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
    found = text_q.match(snap) if text_q is not None else snap.live_bits()
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
    if text_q is not None and q.sort == "distance":
        # Nearest first lists the services that match the most of what was asked, not every
        # service that shares one word with it.
        found = text_q.best_matches(snap, found)
        if distances is not None:
            distances = {d: v for d, v in distances.items() if found >> d & 1}
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
    dist = distances.get if distances is not None else (lambda d: None)
    if text_q is not None and q.sort != "distance":  # best first; equal scores in index order, as Whoosh ranks them
        return [(score, dist(d), d) for score, d in _rank(snap, text_q, found, limit)]
    docs = bits_to_list(found)
    if q.sort == "distance":
        key = lambda d: (dist(d) if dist(d) is not None else float("inf"), d)  # noqa: E731
        chosen = heapq.nsmallest(limit, docs, key=key) if limit is not None else sorted(docs, key=key)
        return [(0.0, dist(d), d) for d in chosen]
    if distances is not None or q.open_now:
        chosen = docs[:limit] if limit is not None else docs  # index order, as an unscored search gives
    else:
        names = snap.column("name_sort") or []
        key = lambda d: (names[d] if d < len(names) else "", d)  # noqa: E731
        chosen = heapq.nsmallest(limit, docs, key=key) if limit is not None else sorted(docs, key=key)
    return [(0.0, dist(d), d) for d in chosen]


def _rank(snap, text_q: TextQuery, found: int, limit: int | None) -> list[tuple[float, int]]:
    """[(score, docnum)] of the documents in `found`, best first, equal scores in index order;
    only the first `limit` when given."""
    docs = bits_to_array(found)
    if not docs.size:
        return []
    values = text_q.scores_of(snap, docs)
    if limit is not None and docs.size > 2 * limit:
        # Only what can be on the page: everything scoring at least the limit-th best (ties kept).
        cut = np.partition(values, docs.size - limit)[docs.size - limit]
        keep = values >= cut
        docs, values = docs[keep], values[keep]
    order = np.lexsort((docs, -values))
    if limit is not None:
        order = order[:limit]
    return list(zip(values[order].tolist(), docs[order].tolist()))


def search(q: SearchQuery) -> SearchResults:
    """Run a directory search. Raises ValidationFailed for bad parameters (e.g. an unknown ZIP code).

    Misspelt words (not real words, see understanding.py) are searched corrected, and the
    results say so (`corrected_from`, `did_you_mean`). The active backend (search/backend.py)
    answers the understood query."""
    from referralnet.search.backend import current_backend

    q.validate()
    place = _resolve_place(q)
    now = q.now or datetime.now(timezone.utc)
    results = current_backend().search(q, place, now)
    plan = results.plan
    results.expanded = [(c.text, [n.label_en for n in c.needs]) for c in plan.clauses if c.needs]
    results.crisis = plan.crisis
    if plan.corrected:
        results.corrected_from = q.text
        results.did_you_mean = plan.corrected
    return results


def whoosh_search(q: SearchQuery, place: Place | None, now: datetime) -> SearchResults:
    """The Whoosh backend's answer to a validated query: the page, total, facets, plan and why each hit matched."""
    s = searcher()
    snap = snapshot(s)
    zones = _zones(snap, q)
    text_q, plan = _text_query(snap, q.text)
    results = _run(s, q, text_q, place, zones, now)
    results.plan = plan
    if text_q is not None:
        for hit in results.hits:
            hit.why = text_q.explain(snap, hit.docnum, plan)
    return results


class Match(NamedTuple):
    """One document a search matched (a tuple: thousands are made for one API page)."""

    doc_id: str
    service_id: str
    organization_id: str
    distance_miles: float | None = None
    docnum: int = -1
    # Why it matched, worked out only when asked (a caller lists a page of thousands of matches).
    explainer: Callable[[int], tuple[str, ...]] | None = None

    @property
    def why(self) -> tuple[str, ...]:
        return self.explainer(self.docnum) if self.explainer is not None else ()

    @property
    def service_at_location_id(self) -> str | None:
        """The service_at_location matched, or None for a service offered at no particular place
        (indexed as "service:<id>", see search/documents.py)."""
        return None if self.doc_id == f"service:{self.service_id}" else self.doc_id


def search_matches(q: SearchQuery) -> list[Match]:
    """Every document matching `q`, best (or nearest) first, in one pass: no paging, facets or
    hours decoration. For callers that page on their own terms (the HSDS API collapses places
    into services). The text is understood as `search` understands it (misspelt words corrected).
    Each match says why it matched. Raises ValidationFailed like `search`."""
    from referralnet.search.backend import current_backend

    q.validate()
    place = _resolve_place(q)
    now = q.now or datetime.now(timezone.utc)
    return current_backend().matches(q, place, now)


def whoosh_matches(q: SearchQuery, place: Place | None, now: datetime) -> list[Match]:
    """The Whoosh backend's every match of a validated query, in order."""
    s = searcher()
    snap = snapshot(s)
    text_q, plan = _text_query(snap, q.text)
    found, distances, _ = _evaluate(snap, q, text_q, place, _zones(snap, q), now, facets=False)
    if not found:
        return []
    ordered = _ordered(snap, q, text_q, found, distances, None)
    ids, services, orgs = (snap.column(f) for f in ("id", "service_id", "organization_id"))
    if ids is None:
        return []
    text = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    why = (lambda d: tuple(text_q.explain(snap, d, plan))) if text_q is not None else None
    return [Match(text(ids[d]), text(services[d]), text(orgs[d]), dist, d, why) for _, dist, d in ordered]


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


def _run(s, q: SearchQuery, text_q: Query | None, place: Place | None, zones: list[str],
         now: datetime) -> SearchResults:
    snap = snapshot(s)
    found, distances, facets = _evaluate(snap, q, text_q, place, zones, now, facets=True)
    start = (q.page - 1) * q.per_page
    ordered = _ordered(snap, q, text_q, found, distances, start + q.per_page) if found else []
    hits = []
    for score, dist, docnum in ordered[start:start + q.per_page]:
        stored = s.stored_fields(docnum)
        hits.append(Hit(stored["id"], score, stored["card"], distance_miles=dist, docnum=docnum))
    for hit in hits:
        _decorate(hit, place, now)
    return SearchResults(q, hits, found.bit_count(), q.page, q.per_page, facets or {}, place)


def _really_open(s, docnum: int, now: datetime) -> bool:
    """Slot terms describe a typical week; holiday closures, special hours and seasons need the exact check."""
    return _really_open_card(s.stored_fields(docnum)["card"], now)


def _really_open_card(card: dict, now: datetime) -> bool:
    """Whether a result card's place is open at `now`, holiday closures, special hours and seasons included."""
    if not card.get("has_exceptions"):
        return True
    return card_hours(card).is_open(now)


def card_hours(card: dict) -> WeeklyHours:
    """A result card's place's hours, from the schedules it carries."""
    return build_hours(_schedule_rows(card), iana=card.get("tz"))


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
    hours = card_hours(card)
    if hours.known:
        hit.open_now = hours.is_open(now)
        hit.next_open = None if hit.open_now else hours.next_open(now)
    if place is not None and card.get("lat") is not None:
        hit.distance_miles = distance_miles((place.latitude, place.longitude), (card["lat"], card["lon"]))
