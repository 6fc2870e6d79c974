"""Fast evaluation of search queries on one Whoosh searcher (one index generation).

Whoosh's own search walks every posting of every query term through Python matcher objects,
builds a docnum set for each filter, and scores every match. Here, per searcher, each term's
postings are read once (whole blocks at a time) and kept:

- as an int bitset of document numbers, for matching and filtering (AND/OR are C-speed integer
  operations, counts are `int.bit_count()`); a few KB per term at 50,000 documents;
- for text terms that take part in scoring, as {docnum: BM25F score contribution}, computed
  with Whoosh's own scorer formula (same idf, field lengths and weights as Whoosh would use).

A query tree from Whoosh's parser (Term / And / Or / Every / Not, `Concept`) is evaluated with
these; any other node (Phrase, NumericRange, ...) falls back to Whoosh (`docs()` for matching,
its matcher for scores). Scores are summed like Whoosh's matchers do: an And adds the scores of
its parts, an Or adds the scores of the parts that match, boosts multiply.

The caches live as long as the searcher: a commit makes a new generation and a new Snapshot.
What only depends on a segment's content (postings, bitsets, columns, field lengths) is kept per
segment across generations; BM25F tables are kept across generations too, with the collection
statistics of the generation where they were built, until the index changed by more than
STATS_TOLERANCE (see `_TermTable`).
"""
from __future__ import annotations

import itertools
import math
import struct
import threading
from collections import OrderedDict
from itertools import accumulate

import numpy as np

from whoosh.columns import NumericColumn, TranslatingColumnReader
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import And, Every, Not, NullQuery, Or, Query, Term
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F, BM25FScorer, bm25
from whoosh.util.numeric import byte_to_length

_LENGTH_OF_BYTE = [byte_to_length(b) for b in range(256)]

MAX_CACHED_SETS = 4096  # bitsets of ~n/8 bytes each
MAX_CACHED_POSTINGS = 1_000_000  # score entries kept (term tables and rankings), ~100 MB at most
MAX_SEGMENT_DATA = 256  # per-segment columns and field lengths kept
MAX_CACHED_ARRAY_BYTES = 64 << 20  # score vectors of the service's rankings, per generation


def _nbytes(value) -> int:
    """The bytes an array (or a tuple of arrays) holds; 1 for anything else."""
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value) or 1
    return getattr(value, "nbytes", 1) or 1


class Concept(Term):
    """Term("concepts", meaning) standing for the phrase query `phrase` (tagged at index time).

    Matching uses the concepts term; the score is that of the phrase's words (in `body` when the
    index has it, else in the fields where they all occur), close to what Whoosh gives a phrase."""

    def __init__(self, meaning: str, phrase: Query, boost: float = 1.0):
        super().__init__("concepts", meaning, boost=boost)
        self.phrase = phrase

    def __hash__(self):
        return super().__hash__() ^ hash("concept")


def bits_from(docnums) -> int:
    docnums = list(docnums)
    if not docnums:
        return 0
    if len(docnums) > 64:  # numpy packs the bits in C
        flags = np.zeros(max(docnums) + 1, dtype=bool)
        flags[docnums] = True
        return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")
    buf = bytearray((max(docnums) >> 3) + 1)
    for d in docnums:
        buf[d >> 3] |= 1 << (d & 7)
    return int.from_bytes(buf, "little")


def bits_to_list(bits: int) -> list[int]:
    """The set bits of `bits`, ascending."""
    if not bits:
        return []
    return bits_to_array(bits).tolist()


def bits_to_array(bits: int):
    """The set bits of `bits`, ascending, as a numpy array of docnums."""
    if not bits:
        return np.zeros(0, dtype=np.int64)
    raw = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little"))


class _LRU(OrderedDict):
    def __init__(self, limit, size=len):
        super().__init__()
        self.limit, self.size, self.total = limit, size, 0
        self.lock = threading.Lock()

    def get_or(self, key, make):
        try:
            value = self[key]
        except KeyError:
            pass
        else:
            try:
                self.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile
                pass
            return value
        value = make()
        with self.lock:
            if key not in self:
                self[key] = value
                self.total += self.size(value)
                while self.total > self.limit and len(self) > 1:
                    _, old = self.popitem(last=False)
                    self.total -= self.size(old)
        return value


class _Segment:
    """One leaf of a searcher: its reader, docnum offset in the searcher, cache key and deletions."""

    __slots__ = ("sub", "offset", "key", "size", "deleted", "delmask")

    def __init__(self, sub, offset: int):
        self.sub, self.offset = sub, offset
        reader = sub.reader()
        self.size = reader.doc_count_all()
        self.key = _segment_key(reader)
        if not reader.has_deletions():
            self.deleted = frozenset()
        elif hasattr(reader, "deleted_docs_set"):
            self.deleted = reader.deleted_docs_set
        else:
            self.deleted = frozenset(d for d in range(self.size) if reader.is_deleted(d))
        self.delmask = bits_from(self.deleted)


_local_keys = itertools.count()


def _segment_key(reader):
    """A key that names a segment's immutable content (postings, columns, lengths): the index
    folder and the segment id (a new segment always gets a new random id; deletions are kept
    apart). Readers without a segment get a key of their own, never reused."""
    try:
        segment = reader.segment()
        segid = segment.segment_id() if segment is not None else None
    except Exception:  # noqa: BLE001 - a reader of another kind
        segid = None
    if segid is None:
        return ("local", next(_local_keys))
    storage = getattr(reader, "_storage", None)
    folder = getattr(storage, "folder", None)
    if folder is None:  # a compound segment: OverlayStorage(files, index storage)
        folder = getattr(getattr(storage, "b", None), "folder", None)
    return (folder if folder is not None else id(storage), segid, segment.doc_count_all())


# Per-segment caches, shared by every generation (a commit usually adds one small segment and
# deletes a few documents in old ones, so almost everything stays valid). Values never have
# deletions applied: each generation masks out its segments' current deleted documents.
_SEG_BITS = _LRU(MAX_CACHED_SETS * 2, size=lambda v: 1)  # (segment, field, text) -> bitset (local docnums)
_SEG_POSTINGS = _LRU(MAX_CACHED_POSTINGS, size=lambda v: len(v[0]))  # (segment, field, text) -> (ids, weights)
_SEG_DATA = _LRU(MAX_SEGMENT_DATA, size=lambda v: 1)  # (segment, "col"/"len", name) -> list / bytes

_TERM_TABLES = _LRU(MAX_CACHED_POSTINGS, size=lambda t: t.counted)  # (index folder, field, text) -> _TermTable
_SCHEMA_MEMO = _LRU(MAX_CACHED_SETS, size=lambda v: 1)  # (schema fields, key) -> parsed queries etc.


def clear_caches() -> None:
    """Forget every cache shared across generations (benchmarks of the cold path; tests)."""
    for cache in (_SEG_BITS, _SEG_POSTINGS, _SEG_DATA, _TERM_TABLES, _SCHEMA_MEMO):
        with cache.lock:
            cache.clear()
            cache.total = 0


def _read_postings(sub, fieldname: str, text, weights: bool):
    """(ids, weights or None) of a term in one segment, deleted documents included; None when absent."""
    try:
        m = sub.reader().postings(fieldname, text)
    except (TermNotFound, ValueError, KeyError):
        return None
    if isinstance(m, FilterMatcher) and m._exclude:  # deletions: applied by the caller
        m = m.child
        m.reset()
    ids: list[int] = []
    ws: list[float] | None = [] if weights else None
    if type(m) is W3LeafMatcher:
        while m.is_active():
            if m._ids is None:  # W3LeafMatcher._read_ids, with C-speed delta decoding
                if m._data is None:
                    m._read_data()
                raw = m._data[0]
                m._ids = raw if m._byteids else tuple(accumulate(raw))
            ids.extend(m._ids[m._i:])
            if weights:
                if m._weights is None:
                    m._read_weights()
                ws.extend(m._weights[m._i:])
            m._next_block()
    else:
        while m.is_active():
            ids.append(m.id())
            if weights:
                ws.append(m.weight())
            m.next()
    return ids, ws


def _may_have(seg: _Segment, fieldname: str, text) -> bool:
    """False when `seg` surely has no such term. A commit adds a small segment, where most of a
    query's terms are absent; asking the term table directly is several times cheaper than
    `postings()` failing (term info unpickled, TermNotFound raised and caught)."""
    try:
        reader = seg.sub.reader()
        return (fieldname, reader._text_to_bytes(fieldname, text)) in reader._terms
    except Exception:  # noqa: BLE001 - a reader of another kind: let the ordinary lookup decide
        return True


class Snapshot:
    """In-memory views of one searcher's postings and columns (see the module docstring)."""

    def __init__(self, searcher):
        self.s = searcher
        self.leaves = list(searcher.leaf_searchers())
        self.segs = [_Segment(sub, offset) for sub, offset in self.leaves]
        self.doc_count_all = searcher.doc_count_all()
        self._bits = _LRU(MAX_CACHED_SETS, size=lambda v: 1)
        self._scores = _LRU(MAX_CACHED_POSTINGS)
        self._arrays = _LRU(MAX_CACHED_ARRAY_BYTES, size=_nbytes)
        self._columns: dict[str, list] = {}
        self._misc: dict = {}
        self._schema_key = None

    # --- postings -------------------------------------------------------------------------------

    def _seg_postings(self, seg: _Segment, fieldname: str, text):
        """A segment's (ids, weights) for a term (None when absent), cached across generations."""
        key = (seg.key, fieldname, text)
        return _SEG_POSTINGS.get_or(key, lambda: (_read_postings(seg.sub, fieldname, text, True)
                                                  if _may_have(seg, fieldname, text) else None) or ((), ()))

    def _seg_bits(self, seg: _Segment, fieldname: str, text) -> int:
        """A segment's bitset (local docnums, deletions not applied) for a term."""
        def make():
            if not _may_have(seg, fieldname, text):
                return 0
            if fieldname == "body":  # read once for matching and scoring
                return bits_from(self._seg_postings(seg, fieldname, text)[0])
            post = _read_postings(seg.sub, fieldname, text, False)
            return bits_from(post[0]) if post else 0

        return _SEG_BITS.get_or((seg.key, fieldname, text), make)

    def _combine(self, part) -> int:
        """One bitset over the searcher from per-segment bitsets `part(seg)`, deletions masked."""
        out = 0
        for seg in self.segs:
            b = part(seg)
            if b:
                if seg.delmask:
                    b &= ~seg.delmask
                out |= b << seg.offset if seg.offset else b
        return out

    def term_bits(self, fieldname: str, text) -> int:
        return self._bits.get_or(("t", fieldname, text),
                                 lambda: self._combine(lambda seg: self._seg_bits(seg, fieldname, text)))

    def _length_bytes(self, seg: _Segment, fieldname: str):
        """A segment's encoded field length per document (one byte each; None when unreadable)."""
        def make():
            try:
                perdoc = seg.sub.reader()._perdoc
                col = perdoc._cached_reader("_%s_len" % fieldname, LENGTHS_COLUMN)
                if col is not None and getattr(col, "_fixedlen", None) == 1:
                    data = bytes(col._dbfile.get(col._basepos, col._count))
                    return data + bytes(max(0, seg.size - len(data)))
            except Exception:  # noqa: BLE001 - another codec: fall back to per-document lookups
                pass
            return None

        return _SEG_DATA.get_or((seg.key, "len", fieldname), make)

    def term_scores(self, fieldname: str, text) -> dict[int, float]:
        """{docnum: the term's BM25F contribution}, as Whoosh's scorer would compute it (with the
        collection statistics of a recent generation, see `_TermTable`)."""
        def make():
            table = self._term_table(fieldname, text)
            if table is not None:
                return table
            out: dict[int, float] = {}
            weighting = self.s.weighting
            for seg in self.segs:
                ids, ws = self._seg_postings(seg, fieldname, text)
                if not ids:
                    continue
                sub, offset = seg.sub, seg.offset
                scorer = weighting.scorer(sub, fieldname, text)
                if type(scorer) is BM25FScorer:
                    # bm25(idf, tf, fl, avgfl, B, K1) = idf * (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)),
                    # with the length part precomputed for each of the 256 encoded lengths.
                    raw = self._length_bytes(seg, fieldname)
                    c = scorer.idf * (scorer.K1 + 1)
                    if raw is not None:
                        K1, B, avgfl = scorer.K1, scorer.B, scorer.avgfl
                        table = [K1 * ((1 - B) + B * length / avgfl) for length in _LENGTH_OF_BYTE]
                        values = [c * tf / (tf + table[raw[d]]) for d, tf in zip(ids, ws)]
                    else:
                        dfl = sub.reader().doc_field_length
                        values = [scorer._score(tf, dfl(d, fieldname, 1)) for d, tf in zip(ids, ws)]
                    part = dict(zip(ids if not offset else [offset + d for d in ids], values))
                else:  # another weighting model: ask it for each posting
                    part = {}
                    m = _FakeMatcher()
                    for d, w in zip(ids, ws):
                        m.docnum, m.w = d, w
                        part[offset + d] = scorer.score(m)
                if seg.deleted:
                    if len(seg.deleted) < len(part):
                        for d in seg.deleted:
                            part.pop(offset + d, None)
                    else:
                        part = {d: v for d, v in part.items() if d - offset not in seg.deleted}
                if out:
                    out.update(part)
                else:
                    out = part
            return out

        return self._scores.get_or((fieldname, text), make)

    def _term_table(self, fieldname: str, text):
        """The term's `_TermTable` (shared across generations), rebuilt when stale; None when the
        weighting is not plain BM25F or a segment has no lasting key (then scores are per generation)."""
        weighting = self.s.weighting
        if type(weighting) is not BM25F or not self.segs or not self.s.schema[fieldname].scorable:
            return None
        if any(seg.key[0] == "local" for seg in self.segs):
            return None
        key = (self.segs[0].key[0], fieldname, text)
        table = _TERM_TABLES.get(key)
        if table is not None and table.fresh_for(self):
            return table.scores(self, fieldname, text)
        table = _TermTable(self, weighting, fieldname, text)
        out = table.scores(self, fieldname, text)
        table.count()
        with _TERM_TABLES.lock:
            old = _TERM_TABLES.pop(key, None)
            if old is not None:
                _TERM_TABLES.total -= old.counted
        _TERM_TABLES.get_or(key, lambda: table)
        return out

    def deleted_total(self) -> int:
        if "deleted" not in self._misc:
            self._misc["deleted"] = sum(len(seg.deleted) for seg in self.segs)
        return self._misc["deleted"]

    # --- whole-index views -----------------------------------------------------------------------

    def live_bits(self) -> int:
        if "live" not in self._misc:
            self._misc["live"] = self._combine(lambda seg: (1 << seg.size) - 1)
        return self._misc["live"]

    def column(self, name: str) -> list | None:
        """A column's values for every docnum (None when the index has no such column)."""
        if name not in self._columns:
            if not self.s.reader().has_column(name):
                self._columns[name] = None
            else:
                values: list = []
                for seg in self.segs:
                    values.extend(_SEG_DATA.get_or((seg.key, "col", name),
                                                   lambda: _read_column(seg.sub.reader(), name)))
                self._columns[name] = values
        return self._columns[name]

    def within(self, low: str, high: str, value) -> int:
        """The documents whose column `low` is at most `value` and column `high` at least `value`,
        as a bitset (0 when the index has no such columns). Each segment's documents are grouped
        once by their (low, high) pair (a handful of distinct pairs, e.g. the age ranges), so a
        value's bitset is the union of its pairs' bitsets."""
        def part(seg: _Segment) -> int:
            groups = _SEG_DATA.get_or((seg.key, "pairs", low, high), lambda: _pair_bits(seg.sub.reader(), low, high))
            return _union_bits(bits for (lo, hi), bits in groups.items() if lo <= value <= hi)

        if not (self.s.reader().has_column(low) and self.s.reader().has_column(high)):
            return 0
        return self._bits.get_or(("within", low, high, value), lambda: self._combine(part))

    def lexicon(self, fieldname: str) -> list[str]:
        key = ("lexicon", fieldname)
        if key not in self._misc:
            self._misc[key] = [t.decode() if isinstance(t, bytes) else t for t in self.s.lexicon(fieldname)]
        return self._misc[key]

    def domain_bits(self) -> dict[str, int]:
        if "domains" not in self._misc:
            self._misc["domains"] = {d: self.term_bits("domains", d) for d in self.lexicon("domains") if d}
        return self._misc["domains"]

    def cached_ranking(self, q: Query, make):
        """A text query's ranked matches, kept per generation (LRU by total size)."""
        return self._scores.get_or(("ranking", q), make)

    def cached(self, key, make):
        """A per-generation memo for callers (spelling suggestions, ...)."""
        return self._bits.get_or(("m", key), make)

    def has_array(self, key) -> bool:
        return key in self._arrays

    def cached_arrays(self, key, make):
        """A per-generation memo for arrays (score vectors), bounded by their total size in bytes."""
        return self._arrays.get_or(key, make)

    def cached_for_schema(self, key, make):
        """A memo for what depends only on the schema, not on the documents (parsed queries): kept
        across generations of indexes with the same fields."""
        if self._schema_key is None:
            self._schema_key = tuple((name, type(f).__name__) for name, f in sorted(self.s.schema.items()))
        return _SCHEMA_MEMO.get_or((self._schema_key, key), make)

    # --- query evaluation ------------------------------------------------------------------------

    def match(self, q: Query) -> int:
        """The bitset of the documents matching `q`."""
        kind = type(q)
        if kind is Term or kind is Concept:
            return self.term_bits(q.fieldname, q.text)
        if kind is And:
            parts = sorted((self.match(sub) for sub in q.subqueries), key=int.bit_length)
            if not parts:
                return 0
            out = parts[0]
            for p in parts[1:]:
                if not out:
                    break
                out &= p
            return out
        if kind is Or and not q.minmatch:
            out = 0
            for sub in q.subqueries:
                out |= self.match(sub)
            return out
        if kind is Every and q.fieldname is None:
            return self.live_bits()
        if kind is Not:
            return self.live_bits() & ~self.match(q.query)
        if q is NullQuery:
            return 0
        # Any other query: Whoosh's matcher on each segment (kept per segment; a segment's deletions
        # only grow, so masking with the current ones is exact).
        return self._bits.get_or(("q", q), lambda: self._combine(
            lambda seg: _SEG_BITS.get_or((seg.key, "q", q), lambda: bits_from(q.docs(seg.sub)))))

    def scores(self, q: Query, docs: set[int]) -> dict[int, float]:
        """{docnum: score} for the documents of `docs` that match `q`."""
        kind = type(q)
        if kind is Concept:
            members = self._bits.get_or(("set", q.fieldname, q.text),
                                        lambda: frozenset(bits_to_list(self.term_bits(q.fieldname, q.text))))
            inside = docs & members
            if not inside:
                return {}
            words = _phrase_words(q.phrase)
            scoring = And([Term("body", w) for w in words]) if words and "body" in self.s.schema \
                else _as_terms(q.phrase)
            return self._scale(self.scores(scoring, inside), q.boost)
        if kind is Term:
            table = self.term_scores(q.fieldname, q.text)
            common = table.keys() & docs
            out = table if len(common) == len(table) else {d: table[d] for d in common}
            return self._scale(out, q.boost)
        if kind is And:
            parts = [self.scores(sub, docs) for sub in q.subqueries]
            if not parts:
                return {}
            parts.sort(key=len)
            first, rest = parts[0], parts[1:]
            keys = first.keys()
            for p in rest:
                keys = keys & p.keys()
            out = {d: first[d] for d in keys}
            for p in rest:
                for d in keys:
                    out[d] += p[d]
            return self._scale(out, q.boost)
        if kind is Or and not q.minmatch and not getattr(q, "scale", None):
            out: dict[int, float] = {}
            for sub in q.subqueries:
                part = self.scores(sub, docs)
                if not out:
                    out = dict(part)
                    continue
                both = out.keys() & part.keys()
                before = {d: out[d] for d in both}
                out.update(part)
                for d in both:
                    out[d] = before[d] + out[d]
            return self._scale(out, q.boost)
        if q is NullQuery:
            return {}
        return self._whoosh_scores(q, docs)

    @staticmethod
    def _scale(scores: dict[int, float], boost: float) -> dict[int, float]:
        if boost != 1.0:
            return {d: v * boost for d, v in scores.items()}
        return scores

    def _whoosh_scores(self, q: Query, docs: set[int]) -> dict[int, float]:
        """Whoosh's own scores for these documents (any query type), skipping between them."""
        out = {}
        wanted = sorted(docs)
        m = q.matcher(self.s, self.s.context())
        for d in wanted:
            if not m.is_active():
                break
            if m.id() < d:
                m.skip_to(d)
                if not m.is_active():
                    break
            if m.id() == d:
                out[d] = m.score()
        return out


STATS_TOLERANCE = 0.005  # fraction of the documents added or deleted before BM25F tables are rebuilt


class _TermTable:
    """A term's BM25F contributions per segment ({local docnum: score}, deletions not applied),
    kept across index generations.

    BM25F depends on collection statistics (the term's idf, the field's average length) that
    change by a hair with every commit. Recomputing every scored term's table after each commit
    made the first queries of a new generation slower than a cold start, so a table keeps the
    statistics of the generation where it was built and is reused, computing the contributions
    of documents in new segments with those same statistics, while fewer than STATS_TOLERANCE
    of the documents were added or deleted since (deleted documents are masked anyway). Until the
    table is rebuilt, scores may differ from Whoosh's exact BM25F by a negligible amount (well
    under 1%); on a small index any change exceeds the tolerance, so scores stay exact there."""

    __slots__ = ("idf", "avgfl", "B", "K1", "lengths", "parts", "base_docs", "base_deleted", "base_keys",
                 "counted")

    def __init__(self, snap: Snapshot, weighting, fieldname: str, text):
        s = snap.s
        self.B = weighting._field_B.get(fieldname, weighting.B)
        self.K1 = weighting.K1
        self.idf = s.idf(fieldname, text)
        self.avgfl = s.avg_field_length(fieldname) or 1
        K1, B, avgfl = self.K1, self.B, self.avgfl
        self.lengths = [K1 * ((1 - B) + B * length / avgfl) for length in _LENGTH_OF_BYTE]
        self.parts: dict = {}
        self.counted = 1
        self.base_docs = max(1, s.doc_count())
        self.base_deleted = snap.deleted_total()
        self.base_keys = frozenset(seg.key for seg in snap.segs)

    def count(self) -> int:
        """The score entries held (the LRU's size, remembered so that removal subtracts the same)."""
        self.counted = sum(len(p) for p in self.parts.values()) or 1
        return self.counted

    def fresh_for(self, snap: Snapshot) -> bool:
        """Whether `snap`'s index differs from the one the statistics come from by less than the tolerance."""
        fresh = snap._misc.get(("fresh", id(self)))
        if fresh is None:
            added = sum(seg.size for seg in snap.segs if seg.key not in self.base_keys)
            changed = added + abs(snap.deleted_total() - self.base_deleted)
            fresh = changed <= STATS_TOLERANCE * self.base_docs
            snap._misc[("fresh", id(self))] = fresh
        return fresh

    def _part(self, snap: Snapshot, seg: _Segment, fieldname: str, text) -> dict:
        part = self.parts.get(seg.key)
        if part is None:
            ids, ws = snap._seg_postings(seg, fieldname, text)
            if not ids:
                part = {}
            else:
                c = self.idf * (self.K1 + 1)
                raw = snap._length_bytes(seg, fieldname)
                if raw is not None:
                    table = self.lengths
                    values = [c * tf / (tf + table[raw[d]]) for d, tf in zip(ids, ws)]
                else:
                    dfl = seg.sub.reader().doc_field_length
                    idf, avgfl, B, K1 = self.idf, self.avgfl, self.B, self.K1
                    values = [bm25(idf, tf, dfl(d, fieldname, 1), avgfl, B, K1) for d, tf in zip(ids, ws)]
                part = dict(zip(ids, values))
            self.parts[seg.key] = part
        return part

    def scores(self, snap: Snapshot, fieldname: str, text) -> dict[int, float]:
        out: dict[int, float] = {}
        for seg in snap.segs:
            part = self._part(snap, seg, fieldname, text)
            if not part:
                continue
            offset = seg.offset
            if not out and not offset:
                out = dict(part)
            elif offset:
                out.update(zip([offset + d for d in part], part.values()))
            else:
                out.update(part)
            if seg.deleted:
                pop = out.pop
                for d in seg.deleted:
                    pop(offset + d, None)
        return out


def _phrase_words(q: Query) -> list[str]:
    from whoosh.query import Phrase

    if type(q) is Phrase:
        return list(dict.fromkeys(q.words))
    for sub in getattr(q, "subqueries", ()):
        words = _phrase_words(sub)
        if words:
            return words
    return []


def _as_terms(q: Query) -> Query:
    """A phrase query as the And of its words (for scoring the documents it is known to match)."""
    from whoosh.query import Phrase

    if type(q) is Phrase:
        return And([Term(q.fieldname, w) for w in q.words], boost=q.boost)
    if type(q) in (And, Or):
        return type(q)([_as_terms(sub) for sub in q.subqueries], boost=q.boost)
    return q


class _FakeMatcher:
    docnum = 0
    w = 1.0

    def id(self):
        return self.docnum

    def weight(self):
        return self.w

    def supports_block_quality(self):
        return False


def _read_column(reader, name: str) -> list:
    """A segment's column values, one per document (deleted ones included)."""
    col = reader.column_reader(name)
    translate = None
    if type(col) is TranslatingColumnReader:
        col, translate = col._reader, col._translate
    if type(col) is NumericColumn.Reader and col._typecode in "bBhHiIlLqQfd":
        # the whole column in one C-speed unpack instead of one struct call per document
        n = col._count
        data = bytes(col._dbfile.get(col._basepos, n * col._fixedlen)) if n else b""
        values = list(struct.unpack("!%d%s" % (n, col._typecode), data))
        if n < col._doccount:
            values.extend([col._default] * (col._doccount - n))
    else:
        values = list(col)
    return [translate(v) for v in values] if translate is not None else values


def _pair_bits(reader, low: str, high: str) -> dict[tuple, int]:
    """{(low value, high value): bitset of a segment's documents with that pair} (deleted ones included)."""
    if not (reader.has_column(low) and reader.has_column(high)):
        return {}
    groups: dict[tuple, list[int]] = {}
    for docnum, pair in enumerate(zip(_read_column(reader, low), _read_column(reader, high))):
        docs = groups.get(pair)
        if docs is None:
            groups[pair] = [docnum]
        else:
            docs.append(docnum)
    return {pair: bits_from(docs) for pair, docs in groups.items()}


def _union_bits(bitsets) -> int:
    out = 0
    for b in bitsets:
        out |= b
    return out


def snapshot(searcher) -> Snapshot:
    snap = getattr(searcher, "_referralnet_snapshot", None)
    if snap is None:
        snap = Snapshot(searcher)
        searcher._referralnet_snapshot = snap
    return snap


def isnan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
