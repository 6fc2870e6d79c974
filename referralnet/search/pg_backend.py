"""The PostgreSQL search backend: search documents are rows of the database itself.

Every host reads the same rows, so a change is searchable everywhere at commit, a restored
database restores its search with it, and nothing is rebuilt per host.

Writing. The rows of the services a transaction touched are rewritten inside that transaction,
just before it commits (`before_commit`): the directory change and its search rows commit or roll
back together. What a change touches is worked out as for the Whoosh index (search/changes.py:
ORM objects flushed, ORM bulk statements, cascading deletes). The documents are
the Whoosh index's (documents.py, same concept tags), stored as:

- `vector`: a tsvector of the text fields analyzed exactly as Whoosh's `body` field analyzes them
  (same tokenizer, stop words and stemmer, so both backends find the same words), with the
  index-time concept tags (`~c:<meaning>`) and taxonomy code prefixes (`~k:<code>`); it decides
  what matches (the ranking reads `tf`, below);
- one column per filter (arrays with GIN indexes for domains, terms, languages and the
  half-hour slots of a typical week in the place's own time zone), lat/lon with a B-tree for the
  bounding box of a radius (the exact great-circle distance is then checked in SQL);
- the result card (JSONB), so a page of results needs no second round trip.

`search_word` keeps the directory's own (unstemmed) words for spelling: whether a word is known,
and the candidates a misspelt word may be corrected to (pg_trgm similarity, GIN-indexed).

Ranking as Whoosh ranks. Each row also keeps `tf`, its weighted term frequencies (each occurrence
of a word weighs its field's boost, as in Whoosh's `body` field) and its length, and `search_term`
the collection statistics (documents per term, document count, total length), updated by the
same writes. A part is scored by BM25F from those (K1, B, idf and the one-byte document length of
Whoosh), so both backends order results alike (bench/search_quality.py scores both). A search
reads the frequencies from `search_posting` (term, document, frequency: `tf` one row per term,
written and removed with the rows), by term for the documents it matched, so a broad query reads
its own few terms' postings rather than decompressing every matched row's whole `tf`. A concept
tag's posting carries its words' frequencies (`words`, migration 0019), so a concept's part is
scored from the tag's postings without reading its (often common) words' own.
A posting's key is its term, the grid cell of its document's place and its document (migration
0022), so a search within a radius reads only its keys' postings around it, and it carries its
document's SDOH domains as bits (`domain_mask`, migration 0024), so a search of words alone counts
its total and facets from its postings without reading its matches' rows.

Reading. The query layer's plan (understanding.understand, the same lexicon and spelling rules as
Whoosh) is turned into parts: the words typed, each term and taxonomy code of the needs they
were taken to mean. A document matches when it matches any part (one tsquery, GIN-indexed); a
clause scores as its best part plus TIE x the others (need parts boosted as in service.py), the
document as the weighted sum of its clauses times the coordination factor of service.py. Total,
facet counts and the page come from one statement: the query's postings, each scored on its own
and summed up per document and clause in one aggregate (float8 arithmetic throughout), which also
says whether the document matches; the page is the bounded sort of those sums (among the matches
the filters keep, when a filter is asked for); the total and facets are counted from the sums'
domains (words alone) or from the matches. Why each result matched is one more statement for the
page shown. The columns every matched row is read for are kept in the row (migration 0018:
moved out of line by TOAST, each comparison of an id fetched it again), and the large ones out of
it (migration 0020: the tsvector, card and frequencies), so a broad search reads few pages.
"""
from __future__ import annotations

import functools
import json
import logging
import math
from datetime import date, datetime, timedelta
from typing import Iterable, NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import (BigInteger, Boolean, Column, Date, Float, Integer, MetaData, Table, Text, delete, event, func,
                        select, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, insert as pg_insert
from sqlalchemy.orm import Session
from whoosh.util.numeric import byte_to_length, length_to_byte

from referralnet.directory import models as m
from referralnet.directory.hours import slot_key, slot_name
from referralnet.geo import Place
from referralnet.search.concepts import concept_queries
from referralnet.search.documents import active_service_ids, documents_for
from referralnet.search import changes
from referralnet.search.schema import document_schema
from referralnet.search.understanding import QueryPlan, understand, words_of

log = logging.getLogger(__name__)

metadata = MetaData()  # not the models' metadata: these tables belong to the search backend (migration 0011)

search_document = Table(
    "search_document", metadata,
    Column("id", Text, primary_key=True),  # service_at_location id, or "service:<id>"
    Column("service_id", Text, nullable=False),
    Column("organization_id", Text, nullable=False),
    Column("location_id", Text, nullable=False),
    Column("name_sort", Text, nullable=False),
    Column("vector", TSVECTOR, nullable=False),
    Column("domains", ARRAY(Text), nullable=False),
    Column("term_ids", ARRAY(Text), nullable=False),
    Column("languages", ARRAY(Text), nullable=False),
    Column("accepting", Boolean, nullable=False),
    Column("free", Boolean, nullable=False),
    Column("min_age", Integer, nullable=False),
    Column("max_age", Integer, nullable=False),
    Column("tz", Text, nullable=False),
    Column("slots", ARRAY(Text), nullable=False),
    Column("has_exceptions", Boolean, nullable=False),
    # The local dates of its holiday closures and special hours (migration 0021): open now is
    # checked exactly only for the places with one today or yesterday (an overnight span), and
    # for those whose weekly hours hold only in a season (`seasonal`, migration 0023).
    Column("exception_days", ARRAY(Date), nullable=False),
    Column("seasonal", Boolean, nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("card", JSONB, nullable=False),
    # BM25F statistics (migration 0016): {lexeme: weighted term frequency} of the body terms (each
    # occurrence counts its field's boost, as in Whoosh's `body` field) and of the concept and code
    # tags (their count), and the number of body terms: exact (the collection's average) and as
    # Whoosh stores a field length (one byte, logarithmic), which BM25F normalises each document by.
    Column("tf", JSONB),
    Column("body_len", Integer),
    Column("norm_len", Integer),
)
search_word = Table("search_word", metadata, Column("word", Text, primary_key=True))
# BM25F's collection statistics (migration 0016), kept with the rows: per lexeme of `tf`, the
# documents that have it; DOCS and LENGTH hold the document count and the sum of body lengths.
search_term = Table("search_term", metadata, Column("term", Text, primary_key=True),
                    Column("df", Integer, nullable=False))
# The postings (migration 0018): each lexeme of a row's `tf` with its frequency, read by term (an
# index-only scan of the primary key) so that a search reads the frequencies of its own terms for
# the documents it matched, not every matched row's whole `tf`. Written from `tf` by the same
# statements that write the rows (_insert), removed with them.
#
# A concept tag's posting also carries `words` (migration 0019): the frequencies in the document of
# the tag's own words (tag_terms; NULL for a word it lacks), which score the part it stands for. A
# search thus reads the postings of a concept's words only when they count outside the tag too:
# a concept's words are often common ones ("health", "family", "center"), whose postings were
# most of what a broad search read. It carries its document's length too (`norm_len`, migration
# 0020), so that each posting is scored on its own, and the grid cell of its document's place
# (`cell`, migration 0022: see cell_sql), in its key, so that a search within a radius reads only
# the postings of the cells around it.
search_posting = Table("search_posting", metadata, Column("term", Text, primary_key=True),
                       Column("cell", Integer, primary_key=True), Column("doc_id", Text, primary_key=True),
                       Column("tf", Float, nullable=False), Column("words", ARRAY(Float)), Column("norm_len", Integer),
                       Column("domain_mask", BigInteger, nullable=False))
DOCS, LENGTH = " docs", " length"  # no lexeme starts with a space
TABLES = ("search_document", "search_word", "search_term", "search_posting")


DIRTY = "pg_search_dirty"
# The text fields, each with a tsvector weight label (which field a word came from; the ranking
# weighs words by the fields' boosts in `tf`).
FIELD_WEIGHTS = (("name", "A"), ("terms", "B"), ("organization", "C"), ("description", "C"), ("eligibility", "D"))
BM25_K1, BM25_B = 1.2, 0.75  # Whoosh's BM25F defaults (the Whoosh backend's weighting)
SCORE_UNIT = 1e9  # scores are rounded to its inverse (see _score_sql)
SEARCH_WORK_MEM = "32MB"  # see _execute
SPELLING_FIELDS = ("name", "organization", "terms", "description")
MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
EARTH_RADIUS_MILES = 3958.7613
MILES_PER_DEGREE = 69.05  # of latitude (the bounding box is widened a little, the exact check decides)
CELLS_PER_DEGREE = 20  # the postings' grid (cell_sql): cells of 0.05 degrees, ~3.5 miles north to south
MAX_CELLS = 400  # a radius whose bounding box covers more cells reads its keys' postings whole


# --- documents as rows ---------------------------------------------------------------------------

def _lexeme(value: str) -> str:
    """A quoted tsvector/tsquery lexeme."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def body_terms(value: str) -> list[str]:
    """The words of `value` as Whoosh's `body` field indexes them (stop words out, stemmed)."""
    from whoosh.analysis.tokenizers import default_pattern

    words = " ".join(mt.group() for mt in default_pattern.finditer(value.lower()))
    return [t.text for t in document_schema()["body"].analyzer(words)]


@functools.lru_cache(maxsize=4096)
def tag_terms(tag: str) -> tuple[str, ...]:
    """The body terms a concept tag (`~c:<words>`) is scored by: its words' terms, each once."""
    return tuple(dict.fromkeys(body_terms(tag[len("~c:"):])))


def vector_literal(doc: dict) -> str:
    """The document's weighted tsvector, as tsvector input text."""
    return _analyzed(doc)[0]


def _analyzed(doc: dict) -> tuple[str, dict[str, float], int]:
    """(tsvector input text, {lexeme: BM25F term frequency}, body length) of a document.

    The frequencies and the length are those Whoosh's `body` field records (schema.body_text): each
    occurrence of a word weighs its field's boost, the length counts the words; concept and code
    tags count their occurrences (they are not part of the length)."""
    positions: dict[str, list[str]] = {}
    tf: dict[str, float] = {}
    pos = 0
    length = 0

    def add(lexeme: str, weight: str, boost: float) -> None:
        nonlocal pos
        pos = min(pos + 1, MAX_POSITION)
        tf[lexeme] = tf.get(lexeme, 0.0) + boost
        held = positions.setdefault(lexeme, [])
        if len(held) < 255:  # PostgreSQL keeps at most 256 positions per lexeme
            held.append(f"{pos}{weight}")

    schema = document_schema()
    for field, weight in FIELD_WEIGHTS:
        if doc.get(field):
            boost = schema[field].format.field_boost
            for term in body_terms(doc[field]):
                add(term, weight, boost)
                length += 1
    for meaning in filter(None, (doc.get("concepts") or "").split(",")):
        add("~c:" + meaning, "B", 1.0)
    for code in (doc.get("codes") or "").split():
        add("~k:" + code.lower(), "B", 1.0)
    return " ".join(f"{_lexeme(lex)}:{','.join(p)}" for lex, p in positions.items()), tf, length


def spelling_words(doc: dict) -> set[str]:
    """The unstemmed words of the spelling fields, as Whoosh's spelling fields keep them."""
    schema = document_schema()
    out: set[str] = set()
    for field in SPELLING_FIELDS:
        if doc.get(field):
            out.update(t.text for t in schema[field].analyzer(doc[field], no_morph=True))
    return out


def _split(value: str) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def _row(doc: dict) -> dict:
    vector, tf, length = _analyzed(doc)
    return {
        "id": doc["id"], "service_id": doc["service_id"], "organization_id": doc["organization_id"],
        "location_id": doc["location_id"], "name_sort": doc["name_sort"], "vector": vector,
        "tf": tf, "body_len": length, "norm_len": byte_to_length(length_to_byte(length)),
        "domains": _split(doc["domains"]), "term_ids": _split(doc["term_ids"]),
        "languages": [v.lower() for v in _split(doc["languages"])],
        "accepting": doc["accepting"], "free": doc["free"], "min_age": doc["min_age"], "max_age": doc["max_age"],
        "tz": doc["tz"], "slots": [slot_name(n) for n in doc["_open_slots"]], "has_exceptions": doc["has_exceptions"],
        **dict(zip(("exception_days", "seasonal"), exceptions(doc["card"]))),
        "lat": doc.get("lat"), "lon": doc.get("lon"), "card": doc["card"],
    }


def exceptions(card: dict) -> tuple[list[date], bool]:
    """(the local dates a place's holiday closures and special hours fall on, whether some of its
    weekly hours hold only in a season): from its card's schedules, as the exact open-now check
    reads them."""
    if not card.get("has_exceptions"):
        return [], False
    from referralnet.search.service import card_hours

    hours = card_hours(card)
    return sorted(hours.closed_dates | set(hours.special)), hours.seasonal


def cell_sql(lat: str, lon: str) -> str:
    """The grid cell of a place as SQL (-1 without coordinates): one integer per square of
    1 / CELLS_PER_DEGREE degrees, numbered as radius_cells numbers them."""
    n = CELLS_PER_DEGREE
    return (f"COALESCE((CAST(floor({lat} * {n}) AS integer) + {90 * n}) * {360 * n} "
            f"+ CAST(floor({lon} * {n}) AS integer) + {180 * n}, -1)")


@functools.cache
def domain_bits() -> dict[str, int]:
    """Each SDOH domain's bit in a posting's `domain_mask`: the domain's place in
    seed_data/sdoh_domains.json, which only ever appends (migration 0024 wrote the masks of the
    postings there were with its first 24, in this order; test_domain_bits_keep_their_order)."""
    from referralnet.directory.sdoh import sdoh_terms

    bits = {code: i for i, code in enumerate(sdoh_terms())}
    assert len(bits) <= 63, "a domain mask is a bigint"
    return bits


def domain_mask_sql(domains: str, codes: str) -> str:
    """The bits (domain_bits) of an SQL array of domain `domains` as SQL: `codes` is the SQL array
    of the codes, each at its bit's place (a code it lacks sets no bit)."""
    return (f"COALESCE((SELECT bit_or(CAST(1 AS bigint) << (array_position({codes}, u.code) - 1)) "
            f"FROM unnest({domains}) u(code)), 0)")


def domain_mask(codes: Iterable[str]) -> int:
    bits = domain_bits()
    return sum(1 << bits[c] for c in set(codes) if c in bits)


def _box(place: Place, radius_miles: float) -> tuple[float, float, float, float]:
    """(south, north, west, east): the bounding box of a radius around a place, widened a little."""
    dlat = radius_miles / MILES_PER_DEGREE * 1.01
    dlon = dlat / max(0.01, math.cos(math.radians(min(89.0, abs(place.latitude) + dlat))))
    return place.latitude - dlat, place.latitude + dlat, place.longitude - dlon, place.longitude + dlon


def radius_cells(place: Place, radius_miles: float) -> list[int] | None:
    """The grid cells (cell_sql) the bounding box of a radius covers, or None when it covers too
    many for reading each one's postings to pay (or wraps around the antimeridian)."""
    n = CELLS_PER_DEGREE
    south, north, west, east = _box(place, radius_miles)
    rows = range(math.floor(south * n), math.floor(north * n) + 1)
    columns = range(math.floor(west * n), math.floor(east * n) + 1)
    if west < -180 or east >= 180 or len(rows) * len(columns) > MAX_CELLS:
        return None
    return [(r + 90 * n) * 360 * n + c + 180 * n for r in rows for c in columns]


def write_services(session: Session, service_ids: Iterable[str]) -> int:
    """Rewrite these services' rows from the database (inactive or deleted ones lose theirs), in the
    session's transaction. Returns the documents written."""
    ids = sorted(set(service_ids))
    if not ids:
        return 0
    _queue_writers(session, ids)
    mine = (delete(search_document).where(search_document.c.service_id.in_(ids))
            .returning(search_document.c.id, search_document.c.tf, search_document.c.body_len))
    # Deleting first waits for a concurrent transaction rewriting the same services to commit, so
    # the documents are then built from what it committed too (each statement sees the latest commits).
    gone = session.execute(mine).all()
    docs = list(documents_for(ids, session))
    gone += session.execute(mine).all()  # rows such a transaction inserted meanwhile
    _count_terms(session, [(r.tf, r.body_len) for r in gone if r.tf is not None], -1)
    _delete_postings(session, [r.id for r in gone])
    _insert(session, docs)
    return len(docs)


WRITER_LOCKS = 256  # advisory lock buckets of service ids, a power of two (a transaction takes at most this many)
WRITER_LOCK_SPACE = 0x5EA4C4  # the first key of search's advisory locks (the second is the bucket)


def _queue_writers(session: Session, ids: list[str]) -> None:
    """Wait for the transactions writing any of these services' rows to end, and keep the others
    waiting until this one does (transaction advisory locks, per bucket of ids, taken in order).

    Deleting a service's rows already waits for a concurrent writer of those rows, but not for
    one inserting rows that did not exist before (a service just activated): both would count the
    new document's terms in the ranking statistics, and the second insert would overwrite the
    first in place. Queued, the second writer deletes and uncounts what the first committed."""
    session.execute(text(
        "SELECT pg_advisory_xact_lock(:space, b) FROM (SELECT DISTINCT hashtext(i) & :mask AS b "
        "FROM unnest(CAST(:ids AS text[])) i) x ORDER BY b"), {"space": WRITER_LOCK_SPACE, "mask": WRITER_LOCKS - 1, "ids": ids})


def _delete_postings(session: Session, doc_ids: list[str]) -> None:
    if doc_ids:
        session.execute(text("DELETE FROM search_posting WHERE doc_id = ANY(CAST(:ids AS text[]))"),
                        {"ids": sorted(set(doc_ids))})


def _count_terms(session: Session, stats: list[tuple[dict, int]], sign: int) -> None:
    """Add (sign 1) or remove (-1) documents' (tf, body length) to or from the collection statistics."""
    if not stats:
        return
    df: dict[str, int] = {DOCS: len(stats), LENGTH: sum(length for _, length in stats)}
    for tf, _ in stats:
        for term in tf:
            df[term] = df.get(term, 0) + 1
    stmt = pg_insert(search_term)
    stmt = stmt.on_conflict_do_update(index_elements=[search_term.c.term],
                                      set_={"df": search_term.c.df + stmt.excluded.df})
    # Sorted: concurrent transactions take the terms' locks in the same order.
    session.execute(stmt, [{"term": t, "df": sign * n} for t, n in sorted(df.items())])


def _insert(session: Session, docs: list[dict]) -> None:
    if not docs:
        return
    stmt = pg_insert(search_document)
    stmt = stmt.on_conflict_do_update(index_elements=[search_document.c.id],
                                      set_={c.name: stmt.excluded[c.name] for c in search_document.c if c.name != "id"})
    rows = [_row(d) for d in docs]
    session.execute(stmt, rows)
    # The rows' postings, from the `tf` just written (a row rewritten in place first loses its old ones).
    ids = sorted(r["id"] for r in rows)
    _delete_postings(session, ids)
    concepts = {t for r in rows for t in r["tf"] if t.startswith("~c:")}
    session.execute(text(f"INSERT INTO search_posting (term, cell, doc_id, tf, words, norm_len, domain_mask) "
                         f"SELECT e.key, {cell_sql('d.lat', 'd.lon')}, d.id, CAST(e.value AS float8), "
                         f"{words_sql('d', 'm.terms')}, d.norm_len, "
                         f"{domain_mask_sql('d.domains', 'CAST(:codes AS text[])')} "
                         f"FROM search_document d CROSS JOIN LATERAL jsonb_each_text(d.tf) e "
                         f"LEFT JOIN jsonb_each(CAST(:concepts AS jsonb)) m(tag, terms) ON m.tag = e.key "
                         f"WHERE d.id = ANY(CAST(:ids AS text[]))"),
                    {"ids": ids, "concepts": concept_terms_json(concepts), "codes": list(domain_bits())})
    _count_terms(session, [(r["tf"], r["body_len"]) for r in rows], 1)
    words = sorted(set().union(*(spelling_words(d) for d in docs)))
    if words:  # sorted: concurrent transactions take the words' locks in the same order
        session.execute(pg_insert(search_word).on_conflict_do_nothing(), [{"word": w} for w in words])


def concept_terms_json(tags: Iterable[str]) -> str:
    """{concept tag: its terms} (tag_terms) as JSON, for words_sql."""
    return json.dumps({tag: list(tag_terms(tag)) for tag in sorted(tags)})


def words_sql(doc: str, terms: str) -> str:
    """A concept tag's posting's `words` as SQL: the frequencies in the row `doc`'s `tf` of `terms`
    (a JSON array, NULL when the posting is not a concept tag's)."""
    return (f"CASE WHEN {terms} IS NOT NULL THEN ARRAY(SELECT CAST({doc}.tf ->> u.term AS float8) "
            f"FROM jsonb_array_elements_text({terms}) WITH ORDINALITY u(term, o) ORDER BY u.o) END")


def rebuild(session: Session, progress=None) -> int:
    """Recreate every row from the database, in the session's transaction (readers see the old rows
    until it commits). Returns the documents written."""
    session.execute(delete(search_document))
    session.execute(delete(search_word))
    session.execute(delete(search_term))
    session.execute(delete(search_posting))
    ids = active_service_ids(session)
    batch: list[dict] = []
    written = 0
    for doc in documents_for(ids, session):
        batch.append(doc)
        if len(batch) >= 1000:
            _insert(session, batch)
            written += len(batch)
            batch = []
            if progress:
                progress(written, len(ids))
    _insert(session, batch)
    written += len(batch)
    if progress:
        progress(written, len(ids))
    return written


# --- keeping the rows current: in the same transaction --------------------------------------------

def _enabled(session: Session) -> bool:
    if not has_app_context() or not current_app.config.get("SEARCH_AUTO_INDEX", True):
        return False
    from referralnet.search.backend import BackendMisconfigured, backend_name

    try:
        return backend_name() == "postgres"
    except BackendMisconfigured:  # searches say so (and /readyz); saving directory data must still work
        return False


def _mark(session: Session, marks) -> None:
    if marks:
        session.info.setdefault(DIRTY, set()).update(marks)


def _after_flush(session: Session, _ctx) -> None:
    _mark(session, changes.flushed(session))


def _before_flush(session: Session, _ctx, _instances) -> None:
    _mark(session, changes.cascaded(session))


def _orm_execute(state) -> None:
    _mark(state.session, changes.executed(state))


def _after_rollback(session: Session, previous_transaction=None) -> None:
    if previous_transaction is not None and previous_transaction.nested:
        return  # a savepoint: the transaction and what it touched go on
    session.info.pop(DIRTY, None)


def _before_commit(session: Session) -> None:
    """Write the touched services' rows in the transaction about to commit (the outer one only)."""
    if session.in_nested_transaction():
        return
    if not _enabled(session):
        session.info.pop(DIRTY, None)
        return
    session.flush()  # the last changes, and what they touch
    marks = session.info.pop(DIRTY, None)
    if not marks:
        return
    ids = changes.services_for(session, marks)
    if ids is None:
        rebuild(session)
    else:
        write_services(session, ids)
    session.info.pop(DIRTY, None)  # nothing the rewrite itself flushed needs writing again


def register_pg_hooks(session_factory) -> None:
    """Attach the listeners to the app's session (once). They act only when the backend is postgres."""
    if getattr(session_factory, "_referralnet_pg_search_hooks", False):
        return
    event.listen(session_factory, "before_flush", _before_flush)
    event.listen(session_factory, "after_flush", _after_flush)
    event.listen(session_factory, "do_orm_execute", _orm_execute)
    event.listen(session_factory, "before_commit", _before_commit)
    event.listen(session_factory, "after_soft_rollback", lambda s, t: _after_rollback(s, t))
    session_factory._referralnet_pg_search_hooks = True


# --- reading: the plan as SQL ---------------------------------------------------------------------

class _Params:
    """Bound parameters with generated names."""

    def __init__(self):
        self.values: dict = {}

    def __call__(self, value) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return ":" + name

    def tsq(self, query: str) -> str:
        return f"CAST({self(query)} AS tsquery)"


class _Part:
    """One scored part of a clause (as service.py's parts): the words typed, one term a need was
    taken to mean, or one of its taxonomy codes.

    A document matches it when it has the `tag` (a concept or code lexeme), if any, and every body
    term of `terms`. It scores `boost` x the sum of the terms' BM25F scores (a code: `boost` x its
    count, as Whoosh scores an unscored keyword field)."""

    def __init__(self, tsq: str, terms: tuple[str, ...], tag: str | None, boost: float = 1.0, credit: float = 1.0):
        self.tsq, self.terms, self.tag, self.boost, self.credit = tsq, terms, tag, boost, credit

    def boosted(self, boost: float, credit: float = 1.0) -> "_Part":
        return _Part(self.tsq, self.terms, self.tag, self.boost * boost, credit)

    @property
    def key(self) -> tuple:
        return self.tsq, self.boost


def _words_part(words: str) -> _Part | None:
    """Some words as a part: the concept tag of a multi-word lexicon term (scored by its words),
    else all their terms (as service._make_words_query asks Whoosh)."""
    if " " in words and words in concept_queries(document_schema()):
        tag = "~c:" + words
        return _Part(_lexeme(tag), tag_terms(tag), tag)  # its postings carry tag_terms' frequencies
    terms = tuple(dict.fromkeys(body_terms(words)))
    if not terms:
        return None
    tsq = _lexeme(terms[0]) if len(terms) == 1 else "(" + " & ".join(_lexeme(t) for t in terms) + ")"
    return _Part(tsq, terms, None)


def _need_parts(need) -> list[_Part]:
    """A need's terms and taxonomy codes, each a part of its own (boosted as service._need_parts)."""
    from referralnet.search.service import CODE_BOOST, NEED_BOOST

    parts = [q.boosted(NEED_BOOST) for q in (_words_part(t) for t in need.terms) if q]
    parts += [_Part(_lexeme("~k:" + c), (), "~k:" + c, NEED_BOOST * CODE_BOOST) for c in need.codes]
    return parts


def _or(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


class _Clause:
    """One clause of the plan: its parts, matched together, scored as the best part plus TIE x the others."""

    def __init__(self, weight: float, source: int):
        self.weight = weight
        self.source = source  # its index in the plan's clauses
        self.parts: list[_Part] = []
        self.alternatives: list[tuple[str | None, str]] = []  # (need id or None, tsquery) for explanations

    def add(self, need_id, parts: list[_Part]) -> None:
        seen = {p.key for p in self.parts}
        parts = [p for p in parts if p.key not in seen]
        if parts:
            self.parts.extend(parts)
            self.alternatives.append((need_id, _or([p.tsq for p in parts])))

    @property
    def match(self) -> str:
        return _or(list(dict.fromkeys(p.tsq for p in self.parts)))


def _count_at_least(session: Session, tsq: str, limit: int) -> int:
    return session.scalar(text(
        "SELECT count(*) FROM (SELECT 1 FROM search_document WHERE vector @@ CAST(:q AS tsquery) LIMIT :n) x"),
        {"q": tsq, "n": limit})


def _clauses(session: Session, plan: QueryPlan) -> list[_Clause]:
    from referralnet.search.service import RELATED_BOOST, WIDEN_BELOW

    out = []
    for i, clause in enumerate(plan.clauses):
        c = _Clause(clause.weight, i)
        typed = _words_part(" ".join(clause.words))
        if typed:
            c.add(None, [typed])
        for need in clause.needs:
            c.add(need.id, _need_parts(need))
        if clause.related and (not c.parts or _count_at_least(session, c.match, WIDEN_BELOW) < WIDEN_BELOW):
            # A narrow phrasing that finds little: what its words mean on their own, weaker, and a
            # match through them only partly counts as matching the clause.
            for need in clause.related:
                c.add(need.id, [q.boosted(RELATED_BOOST, RELATED_BOOST) for q in _need_parts(need)])
        if c.parts:
            out.append(c)
    return out


def plan_for(session: Session, text_: str) -> QueryPlan:
    """What the text asks for: understanding.understand, asking these rows what the directory knows.

    Each kind of question is one query for all the words that may need it, and none when the lexicon
    knows every word: it was one per word (and per candidate weighed), so a misspelt search made ~19
    statements in all, now ~12 (in-process profile, 10,000 services)."""
    text_ = (text_ or "").strip()
    if not text_:
        return QueryPlan(text_)
    spelt = [w for w in dict.fromkeys(text_.lower().split()) if w.isalpha() and len(w) > 2]
    in_directory: dict[str, bool] = {}

    def known(word: str) -> bool:
        if word not in in_directory:  # the first word asked about: every word of the text at once
            words = sorted({word, *words_of(text_), *spelt} - in_directory.keys())
            found = set(session.scalars(text("SELECT word FROM search_word WHERE word = ANY(:ws)"), {"ws": words}))
            in_directory.update((w, w in found) for w in words)
        return in_directory[word]

    asked: dict[str, list[str]] = {}

    def vocabulary() -> list[str]:
        # The directory's words close to the text's unknown words (trigram similarity, indexed).
        words = [w for w in spelt if not known(w)]
        key = " ".join(words)
        if key not in asked:
            found: list[str] = []
            if words:
                session.execute(text("SET LOCAL pg_trgm.similarity_threshold = 0.2"))
                found = session.scalars(text(
                    "SELECT c.word FROM unnest(CAST(:ws AS text[])) w(w) CROSS JOIN LATERAL (SELECT word "
                    "FROM search_word WHERE word % w.w AND length(word) > 2 ORDER BY similarity(word, w.w) DESC "
                    "LIMIT 200) c"), {"ws": words}).all()
            asked[key] = sorted({x for x in found if x.isalpha()})
        return asked[key]

    @functools.cache
    def weight(word: str) -> float:
        terms = body_terms(word)
        if not terms:
            return 0.0
        return math.log1p(session.scalar(select(search_term.c.df).where(search_term.c.term == terms[0])) or 0)

    return understand(text_, known=known, vocabulary=vocabulary, weight=weight)


def _collection_stats(session: Session, terms: list[str]) -> tuple[int, float, dict[str, int]]:
    """(documents, average body length, {term: documents with it}): BM25F's collection statistics."""
    df = dict(session.execute(select(search_term.c.term, search_term.c.df)
                              .where(search_term.c.term.in_([DOCS, LENGTH, *terms]))).all())
    n = df.pop(DOCS, 0)
    length = df.pop(LENGTH, 0)
    return n, (length / n if n and length else 1.0), {t: max(0, df.get(t, 0)) for t in terms}


def _float(value: float) -> str:
    """A float8 constant (a bare decimal literal is a numeric)."""
    return f"CAST({float(value)!r} AS float8)"


class _Several(NamedTuple):
    """A part of several words in a clause (it counts only when a document has them all)."""
    clause: int
    boost: float
    credit: float
    words: int
    times: int  # how often the clause has it


def _units(clauses: list[_Clause]) -> tuple[dict[tuple[str, int, int], list[float]], list[_Several]]:
    """The keys a search reads, one per (key, clause, several-word part or 0), each with what a
    posting of the key adds to the clause's best part (the greatest boost of the clause's parts
    on the key alone), to the sum of its parts (their boosts' sum) and the credit it gives for
    matching the clause; and the several-word parts (numbered from 1)."""
    units: dict[tuple[str, int, int], list[float]] = {}
    several: list[_Several] = []
    for ci, c in enumerate(clauses):
        seen: dict[tuple, int] = {}
        for part in c.parts:
            keys = (part.tag,) if part.tag else part.terms
            if len(keys) == 1:
                u = units.setdefault((keys[0], ci, 0), [0.0, 0.0, 0.0])
                u[0], u[1], u[2] = max(u[0], part.boost), u[1] + part.boost, max(u[2], part.credit)
            elif (part.key, part.credit) in seen:
                g = seen[(part.key, part.credit)]
                several[g] = several[g]._replace(times=several[g].times + 1)
            else:
                seen[(part.key, part.credit)] = len(several)
                several.append(_Several(ci, part.boost, part.credit, len(keys), 1))
                for t in keys:
                    units[(t, ci, len(several))] = [0.0, 0.0, 0.0]
    return units, several


def _score_sql(session: Session, p: _Params, clauses: list[_Clause],
               cells: list[int] | None) -> tuple[str, str, str, str]:
    """(score, share of the clause weight matched, sums, matched) as SQL: `sums` is a query of
    what each document's postings of the query's keys add up to per clause (a row per document
    with at least one, with its domains' `domain_mask`), `score`, `share` and `matched` (whether
    its postings match the query) expressions over a row `q` of it, as Whoosh scores its `body`
    field (service.TextQuery).

    Each posting is scored on its own (its BM25F score from its frequency, its document's length,
    which the posting carries, and the collection's statistics), and a document's postings are
    then summed up per clause in one aggregate of a few plain columns: a clause scores its best
    part plus TIE x the others, and most parts are one key each (a word, a concept tag, a code),
    so their best is the best of the key's postings times its part's boost (the greatest boost
    among the clause's parts on that key) and their sum the sum times the boosts' sum. A part of
    several words counts only when the document has all of them (their count, per part). A
    concept tag's posting carries its words' frequencies (`words`), which score its part, so a
    word's own postings are read only when a part without a tag scores it. A search within a
    radius reads only the postings of the `cells` its bounding box covers (radius_cells)."""
    from referralnet.search.service import COORDINATION, TIE

    def by_tag(part: _Part) -> bool:
        return bool(part.tag and part.tag.startswith("~c:") and part.terms)

    parts = [part for c in clauses for part in c.parts]
    terms = list(dict.fromkeys(t for part in parts if not by_tag(part) for t in part.terms))
    concepts = list(dict.fromkeys(part.tag for part in parts if by_tag(part)))
    n, avgfl, df = _collection_stats(session, list(dict.fromkeys(terms + [t for g in concepts for t in tag_terms(g)])))
    # Every constant a float8: a bare 0.3 is a numeric, and numeric arithmetic costs ~50 times more.
    norm = f"({_float(BM25_K1 * (1 - BM25_B))} + {_float(BM25_K1 * BM25_B / avgfl)} * x.norm_len)"

    def idf(t: str) -> float:
        return (math.log(max(n, 1) / (df[t] + 1)) + 1) * (BM25_K1 + 1)

    def bm25(weight: str, tf: str) -> str:
        return f"{weight} * {tf} / ({tf} + {norm})"

    # How a posting of a key is scored (`kind`): 0 a word (its BM25F score; the key's idf is k.idf),
    # 1 a tag counted (a code: how often the document has it), 2.. a concept tag (its words').
    kinds = {g: 2 + i for i, g in enumerate(concepts)}

    def kind(key: str) -> int:
        return kinds.get(key, 1 if key.startswith("~") else 0)

    units, groups = _units(clauses)
    rows = [(key, ci, g, kind(key), idf(key) if kind(key) == 0 else None, *v) for (key, ci, g), v in units.items()]
    columns = list(zip(*rows))

    def concept_score(g: str) -> str:
        ws = [f"x.words[{j + 1}]" for j in range(len(tag_terms(g)))]
        present = " AND ".join(f"{w} IS NOT NULL" for w in ws)
        amount = " + ".join(bm25(_float(idf(t)), w) for t, w in zip(tag_terms(g), ws))
        return f"CASE WHEN {present} THEN {amount} ELSE {_float(0)} END"

    score_of = (f"CASE k.kind WHEN 0 THEN {bm25('k.idf', 'x.tf')} WHEN 1 THEN x.tf "
                + "".join(f"WHEN {kinds[g]} THEN {concept_score(g)} " for g in concepts) + "END")
    # Per clause: its single-key parts' best (b) and sum (t), and the credit when not all 1 (r);
    # per several-word part: its postings' sum (s) and count (n). With a single clause and no
    # several-word part, every posting counts for b and t, and their filters are left out.
    aggs = []
    plain = len(clauses) == 1 and not groups
    for ci, c in enumerate(clauses):
        mine = "" if plain else f" FILTER (WHERE x.c = {ci} AND x.g = 0)"
        aggs.append(f"max(x.mx * x.s){mine} AS b{ci}")
        aggs.append(f"sum(x.sm * x.s){mine} AS t{ci}")
        if any(part.credit != 1.0 for part in c.parts):
            aggs.append(f"max(CASE WHEN x.s > 0 THEN x.cr ELSE {_float(0)} END){mine} AS r{ci}")
    for g in range(1, len(groups) + 1):
        aggs.append(f"sum(x.s) FILTER (WHERE x.g = {g}) AS s{g}")
        aggs.append(f"count(*) FILTER (WHERE x.g = {g}) AS n{g}")
    keys = (f"unnest(CAST({p(list(columns[0]))} AS text[]), CAST({p(list(columns[1]))} AS int[]), "
            f"CAST({p(list(columns[2]))} AS int[]), CAST({p(list(columns[3]))} AS int[]), "
            f"CAST({p(list(columns[4]))} AS float8[]), CAST({p(list(columns[5]))} AS float8[]), "
            f"CAST({p(list(columns[6]))} AS float8[]), CAST({p(list(columns[7]))} AS float8[])) "
            f"k(term, c, g, kind, idf, mx, sm, cr)")
    # The query's keys' postings, each scored once (OFFSET 0 keeps the subquery, so its score is
    # computed once per posting rather than once per aggregate reading it) and summed up per
    # document; a search that needs its matches' rows joins them to those sums (see run): hashing
    # the postings by document and joining the matches to the sums cost half as much as joining
    # every posting to its match first and grouping by the match's row ("senior center" at 50,000
    # services: 39,579 postings, 17,568 documents).
    cond = f" AND x.cell = ANY(CAST({p(cells)} AS int[]))" if cells else ""
    postings = (f"SELECT x.doc_id, x.domain_mask, k.c, k.g, k.mx, k.sm, k.cr, {score_of} AS s FROM {keys} "
                f"JOIN search_posting x ON x.term = k.term{cond} OFFSET 0")
    # (Every posting of a document carries its domains: any one's will do.)
    sums = (f"SELECT x.doc_id, max(x.domain_mask) AS domain_mask, {', '.join(aggs)} FROM ({postings}) x "
            f"GROUP BY x.doc_id")
    # A document's postings match the query when they match a clause's part: a key of one (its
    # best is then not NULL) or every word of a several-word part, as the query's tsquery matches
    # its vector (whose lexemes are its postings' keys).
    matched = " OR ".join([f"q.b{ci} IS NOT NULL" for ci in range(len(clauses))]
                          + [f"q.n{g} = {grp.words}" for g, grp in enumerate(groups, 1)])
    total_weight = sum(c.weight for c in clauses) or 1.0
    zero = _float(0)
    scores, shares = [], []
    for ci, c in enumerate(clauses):
        mine = [(g, grp) for g, grp in enumerate(groups, 1) if grp.clause == ci]
        several = [(f"CASE WHEN q.n{g} = {grp.words} THEN {_float(grp.boost)} * q.s{g} ELSE {zero} END", grp) for g, grp in mine]
        best = f"GREATEST(COALESCE(q.b{ci}, {zero}){''.join(', ' + s for s, _ in several)})" if several \
            else f"COALESCE(q.b{ci}, {zero})"
        occurrences = len(c.parts)
        if occurrences == 1:
            clause = best
        else:
            summed = f"COALESCE(q.t{ci}, {zero})" + "".join(f" + {_float(grp.times)} * {s}" for s, grp in several)
            clause = f"({_float(1.0 - TIE)} * {best} + {_float(TIE)} * ({summed}))"
        scores.append(f"{_float(c.weight)} * {clause}")
        credits = [f"COALESCE(q.r{ci}, {zero})" if any(part.credit != 1.0 for part in c.parts)
                   else f"CASE WHEN COALESCE(q.b{ci}, {zero}) > 0 THEN {_float(1)} ELSE {zero} END"]
        credits += [f"CASE WHEN {s} > 0 THEN {_float(grp.credit)} ELSE {zero} END" for s, grp in several]
        credit = f"GREATEST({', '.join(credits)})" if len(credits) > 1 else credits[0]
        shares.append(f"{_float(c.weight)} * {credit}")
    share = "(" + " + ".join(shares) + ")"
    score = "(" + " + ".join(scores) + ")"
    if len(clauses) > 1:
        score = f"{score} * power({share} / {_float(total_weight)}, {_float(COORDINATION)})"
    # Rounded (to 1e-9): the postings are summed in the order they come, so two documents scored
    # alike may differ in the last bits, and they are then ordered by id, not by that noise.
    score = f"round({score} * {_float(SCORE_UNIT)}) / {_float(SCORE_UNIT)}"
    return score, share, sums, "true" if plain else f"({matched})"


def _scored(carried: str, score: str, share: str, sums: str) -> str:
    """The matches (`found0`) with their scores and shares: each joined to its postings' sums."""
    joined = f" LEFT JOIN ({sums}) q ON q.doc_id = f.id" if sums else ""
    return f"SELECT {_columns('f', carried)}, {score} AS score, {share} AS share FROM found0 f{joined}"


def _columns(alias: str, names: str, computed: dict[str, str] | None = None) -> str:
    """The columns `names` of `alias`, each as `alias.name`, or as `computed[name] AS name`."""
    computed = computed or {}
    return ", ".join(f"{computed[n]} AS {n}" if n in computed else f"{alias}.{n}" for n in names.split(", "))


def _distance_sql(p: _Params, place: Place) -> str:
    lat, lon = p(place.latitude), p(place.longitude)
    return (f"(2 * {EARTH_RADIUS_MILES} * asin(least(1.0, sqrt(power(sin(radians(d.lat - {lat}) / 2), 2) "
            f"+ cos(radians({lat})) * cos(radians(d.lat)) * power(sin(radians(d.lon - {lon}) / 2), 2)))))")


def _zones(session: Session) -> list[str]:
    """The time zones the documents are in: a skip scan of the tz index (a few zones, many rows)."""
    return list(session.scalars(text(
        "WITH RECURSIVE z(tz) AS (SELECT min(tz) FROM search_document UNION ALL "
        "SELECT (SELECT min(tz) FROM search_document WHERE tz > z.tz) FROM z WHERE z.tz IS NOT NULL) "
        "SELECT tz FROM z WHERE tz IS NOT NULL")))


def _open_now_sql(session: Session, p: _Params, now: datetime, where: list[str]) -> str:
    """Open now in each place's own zone (the typical week's slots); holiday closures and special
    hours are checked exactly for the places that have one today or yesterday (in any of the
    directory's zones), and seasonal hours for every place with some, among those `where` (every
    other condition of the search) leaves."""
    from referralnet.search.service import _really_open_card

    parts, days = [], set()
    for zone in _zones(session):
        local = now.astimezone(ZoneInfo(zone)) if "/" in zone or zone == "UTC" else now
        parts.append(f"(d.tz = {p(zone)} AND d.slots @> ARRAY[CAST({p(slot_key(local.weekday(), local.hour * 60 + local.minute))} AS text)])")
        days |= {local.date(), local.date() - timedelta(days=1)}  # yesterday's hours may run past midnight
    if not parts:
        return "false"
    slot_open = "(" + " OR ".join(parts) + ")"
    others = "".join(f" AND {c}" for c in where)
    special = session.execute(text(f"SELECT id, card FROM search_document d WHERE d.has_exceptions AND "
                                   f"(d.exception_days && CAST({p(sorted(days))} AS date[]) OR d.seasonal) AND {slot_open}{others}"),
                              p.values).all()
    closed = [row.id for row in special if not _really_open_card(row.card, now)]
    if closed:
        return f"({slot_open} AND d.id <> ALL(CAST({p(closed)} AS text[])))"
    return slot_open


def _filters_sql(session: Session, p: _Params, q, place: Place | None, now: datetime) -> list[str]:
    """Every filter but the domain filter and open now (see run), as SQL conditions on search_document d."""
    out = []
    if q.term_ids is not None and q.term_ids:
        out.append(f"d.term_ids && CAST({p(list(q.term_ids))} AS text[])")
    if q.language:
        out.append(f"d.languages @> ARRAY[CAST({p(q.language.strip().lower())} AS text)]")
    if q.accepting_only:
        out.append("d.accepting")
    if q.free_only:
        out.append("d.free")
    if q.age is not None:
        out.append(f"d.min_age <= {p(q.age)} AND d.max_age >= {p(q.age)}")
    if q.organization_id:
        out.append(f"d.organization_id = {p(q.organization_id)}")
    if q.service_ids is not None:
        out.append(f"d.service_id = ANY(CAST({p(list(q.service_ids))} AS text[]))")
    if q.open_at is not None:
        out.append(f"d.slots @> ARRAY[CAST({p(slot_key(*q.open_at))} AS text)]")
    if place is not None and (q.radius_miles or q.sort == "distance"):
        out.append("d.lat IS NOT NULL")
    if place is not None and q.radius_miles:
        south, north, west, east = _box(place, q.radius_miles)
        out.append(f"d.lat BETWEEN {p(south)} AND {p(north)}")
        out.append(f"d.lon BETWEEN {p(west)} AND {p(east)}")
        out.append(f"{_distance_sql(p, place)} <= {p(float(q.radius_miles))}")
    return out


class Found:
    """What a search found: the page (or every match) in order, with the total and facets."""

    def __init__(self, rows, total: int, facets: dict[str, int], clauses: list[_Clause]):
        self.rows, self.total, self.facets, self.clauses = rows, total, facets, clauses


def _execute(session: Session, sql: str, values: dict, by_index: bool) -> list:
    """The statement's rows, with the memory to sum up a broad search's postings in a hash table;
    `by_index`: the words are matched through the GIN index, never by a scan.

    At the server's default work_mem (4 MB) the planner sorted "medi-cal"'s 37,028 postings by
    document on disk to sum them up (48 ms; 28 ms summed in a hash table of ~3 MB at 50,000
    services). The planner prices `vector @@ query` on a scanned row as one cheap operator, but it
    decompresses the row's whole vector (~4 us), while the GIN index answers it without reading the
    vectors (no recheck for plain lexemes): it would scan 13,020 rows in 46 ms where the index reads
    the 2,064 matches in 9 ms. Both are set for this statement only."""
    settings = {"work_mem": SEARCH_WORK_MEM, **({"enable_seqscan": "off"} if by_index else {})}
    names = {f"n{i}": name for i, name in enumerate(settings)}
    before = session.execute(text("SELECT " + ", ".join(
        f"current_setting(:{n}) || left(set_config(:{n}, :v{n}, true), 0)" for n in names)),
        {**names, **{f"v{n}": settings[name] for n, name in names.items()}}).one()
    rows = session.execute(text(sql), values).all()
    # (A failed statement needs no restoring: the settings, local to the transaction, end with it.)
    session.execute(text("SELECT " + ", ".join(f"set_config(:{n}, :v{n}, true)" for n in names)),
                    {**names, **{f"v{n}": value for n, value in zip(names, before)}})
    return rows


def run(session: Session, q, plan: QueryPlan, place: Place | None, now: datetime, *, page: bool) -> Found:
    """The plan and filters as one statement. `page`: only the page asked for, with the total and
    facet counts (the search page); else every match in order (the HSDS API pages services itself)."""
    p = _Params()
    clauses = _clauses(session, plan)
    where = _filters_sql(session, p, q, place, now)
    if plan.clauses and not clauses:
        where.append("false")  # words the directory has nowhere
    filtered = bool(where)  # a condition besides the words
    if clauses:
        where.append(f"d.vector @@ {p.tsq(_or([c.match for c in clauses]))}")
    if q.open_now and q.open_at is None:  # last: its exact check reads only what every other condition leaves
        where.append(_open_now_sql(session, p, now, where))
        filtered = True
    # The columns carried through the stages: only what the answer, the order and the facets read
    # (each stage copies every match's row).
    carried = "id, domains, dist" + ("" if page else ", service_id, organization_id") + ("" if clauses else ", name_sort")
    score, share, sums, matched = ("0.0", "1.0", "", "true")
    if clauses:
        cells = radius_cells(place, q.radius_miles) if place is not None and q.radius_miles else None
        score, share, sums, matched = _score_sql(session, p, clauses, cells)
    dist = _distance_sql(p, place) if place is not None else "NULL::float8"
    cond = " AND ".join(where) or "true"
    domains = f"f.domains && CAST({p(list(q.domains))} AS text[])" if q.domains else "true"
    best = "true"
    if clauses and q.sort == "distance" and len(clauses) > 1:
        # Nearest first lists what matches the most of what was asked (as the Whoosh backend).
        best = "f.share >= f.best_share - 1e-9"
    if q.sort == "distance":
        order = "k.dist ASC NULLS LAST, k.id"
    elif clauses:
        order = "k.score DESC, k.id"
    else:
        order = "k.name_sort, k.id"
    # What matches (and its distance), then its scores from its postings (see _score_sql).
    head = (f"WITH found0 AS MATERIALIZED (SELECT {_columns('d', carried, {'dist': dist})} FROM search_document d "
            f"WHERE {cond})")
    shown_dist = "k.dist"
    by_domains = page and best == "true" and clauses and q.sort != "distance" and not filtered
    if by_domains:
        # The words are all that was asked: their postings' sums say which documents match and
        # their domains, so the total and facets are counted from the sums, per set of domains
        # (kind 3: a mask in `domain`, and its matches), and no row is read but the page's (no
        # found0: the matches' rows are not needed).
        head = f"WITH sums AS MATERIALIZED ({sums}) "
        in_domains = f" AND q.domain_mask & {p(domain_mask(q.domains))} <> 0" if q.domains else ""
        kept = f"(SELECT q.doc_id AS id, {score} AS score FROM sums q WHERE {matched}{in_domains})"
        shown_dist = dist
        counts = (f"UNION ALL SELECT 3, count(*), NULL, NULL, NULL, NULL, CAST(q.domain_mask AS text) FROM sums q "
                  f"WHERE {matched} GROUP BY q.domain_mask")
    elif page and best == "true":
        # Every match counts (no share to reach): the total and facets are the matches' own, and
        # only the page's bounded sort reads the scores (no stage keeps every match's score).
        counted, found, facet_best = f"found0 f WHERE {domains}", "found0", "true"
        if clauses and q.sort != "distance":
            # Best first: the page is the best of the postings' sums that match, among the matches
            # (those a filter or domain keeps), and only its rows' distances are computed. No stage
            # joins every match to its sums.
            kept = (f"(SELECT q.doc_id AS id, {score} AS score FROM ({sums}) q WHERE {matched} "
                    f"AND q.doc_id IN (SELECT f.id FROM found0 f WHERE {domains}))")
            shown_dist = dist
        else:
            scored = _scored(carried, score, share, sums)
            kept = f"(SELECT * FROM ({scored}) f WHERE {domains})"
        head += " "
    else:
        head += f", scored AS MATERIALIZED ({_scored(carried, score, share, sums)}) "
        found, kept = "scored", "scored"
        if best != "true":  # the best share of all matches (a window over them), and what reaches it
            head += ", found AS MATERIALIZED (SELECT f.*, max(f.share) OVER () AS best_share FROM scored f) "
            found = "found"
        if best != "true" or domains != "true":
            head += f", kept AS MATERIALIZED (SELECT * FROM {found} f WHERE {domains} AND {best}) "
            kept = "kept"
        counted, facet_best = kept, best.replace("f.", "x.")
    if not page:
        sql = head + f"SELECT k.id, k.service_id, k.organization_id, k.score, k.dist FROM {kept} k ORDER BY {order}"
        rows = _execute(session, sql, p.values, by_index=bool(clauses))
        return Found(rows, len(rows), {}, clauses)
    if not by_domains:
        counts = (f"UNION ALL SELECT 1, count(*), NULL, NULL, NULL, NULL, NULL FROM {counted} "
                  # Facets: the matches counted per set of domains (few), then per domain.
                  f"UNION ALL SELECT 2, CAST(sum(g.n) AS bigint), NULL, NULL, NULL, NULL, dom FROM (SELECT x.domains, "
                  f"count(*) AS n FROM {found} x WHERE {facet_best} GROUP BY x.domains) g, unnest(g.domains) dom "
                  f"GROUP BY dom")
    limit, offset = p(q.per_page), p((q.page - 1) * q.per_page)
    sql = head + (
        # The page: the best of the matches (a bounded sort), numbered in order.
        f"SELECT 0 AS kind, n, k.id, k.score, {shown_dist} AS dist, d.card, NULL::text AS domain FROM "
        f"(SELECT k.*, row_number() OVER (ORDER BY {order}) AS n FROM (SELECT * FROM {kept} k ORDER BY {order} "
        f"LIMIT {limit} OFFSET {offset}) k) k JOIN search_document d ON d.id = k.id {counts}")
    rows = _execute(session, sql, p.values, by_index=bool(clauses) and not by_domains)
    hits = sorted((r for r in rows if r.kind == 0), key=lambda r: r.n)
    if by_domains:
        total, facets = _counted_by_domains([(int(r.domain), r.n) for r in rows if r.kind == 3], q.domains)
    else:
        total = next((r.n for r in rows if r.kind == 1), 0)
        facets = {r.domain: r.n for r in rows if r.kind == 2 and r.domain}
    return Found(hits, total, facets, clauses)


def _counted_by_domains(counts: list[tuple[int, int]], wanted: list[str]) -> tuple[int, dict[str, int]]:
    """(total, facets) from the matches counted per set of domains (its mask: domain_bits): the
    total counts the sets that have one of the `wanted` domains (all when none is), the facets
    every set's."""
    bits = domain_bits()
    want = domain_mask(wanted)
    total = sum(n for mask, n in counts if not wanted or mask & want)
    facets: dict[str, int] = {}
    for mask, n in counts:
        for code, bit in bits.items():
            if mask >> bit & 1:
                facets[code] = facets.get(code, 0) + n
    return total, facets


def explanations(session: Session, found: Found, plan: QueryPlan, ids: list[str]) -> dict[str, list[str]]:
    """Why each of these documents matched: each clause it matches, with what the words were taken to mean."""
    if not found.clauses or not ids:
        return {}
    p = _Params()
    checks = [(ci, need_id, f"d.vector @@ {p.tsq(q)}")
              for ci, c in enumerate(found.clauses) for need_id, q in c.alternatives]
    sql = f"SELECT d.id, ARRAY[{', '.join(c for _, _, c in checks)}] AS hits FROM search_document d " \
          f"WHERE d.id = ANY(CAST({p(list(ids))} AS text[]))"
    out: dict[str, list[str]] = {}
    for row in session.execute(text(sql), p.values):
        why, done = [], set()
        for (ci, need_id, _), hit in zip(checks, row.hits):
            if hit and ci not in done:
                clause = plan.clauses[found.clauses[ci].source]
                need = next((n for n in clause.needs + clause.related if n.id == need_id), None)
                why.append(clause.explain(need))
                done.add(ci)
        out[row.id] = why
    return out


# --- state ----------------------------------------------------------------------------------------

def tables_exist(session: Session) -> bool:
    """Whether every table of the backend is there (migrations 0011, 0016 and 0018)."""
    return all(session.execute(text("SELECT " + ", ".join(f"to_regclass('{t}') IS NOT NULL" for t in TABLES))).one())


def document_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(search_document))


def is_ready(session: Session) -> tuple[bool, str]:
    """Whether search can answer from these rows: the tables exist and hold the active services."""
    if session.get_bind().dialect.name != "postgresql":
        return False, "SEARCH_BACKEND=postgres needs a PostgreSQL database"
    if not tables_exist(session):
        return False, "search tables missing: run `flask db upgrade`"
    documents = document_count(session)
    if not documents and session.scalar(select(m.Service.id).where(m.Service.status == "active").limit(1)):
        return False, "search rows empty while the directory has active services: run `flask search reindex`"
    if documents and not session.scalar(text("SELECT EXISTS (SELECT 1 FROM search_posting)")):
        # Rows without postings (written around the application, or a partial restore) still match,
        # but rank unscored.
        return True, (f"postgres search: {documents} documents and no postings (term frequencies): "
                      "run `flask search reindex`")
    unranked = session.scalar(select(func.count()).where(search_document.c.body_len.is_(None)))
    if unranked:  # rows from before migration 0016: they still match, so searches answer (ranked worse)
        return True, (f"postgres search: {documents} documents, {unranked} without ranking statistics: "
                      "run `flask search reindex`")
    return True, f"postgres search: {documents} documents"


def clear(session: Session) -> None:
    """Remove every row (tests)."""
    if tables_exist(session):
        session.execute(delete(search_document))
        session.execute(delete(search_word))
        session.execute(delete(search_term))
        session.execute(delete(search_posting))
