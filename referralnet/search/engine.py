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
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from itertools import accumulate

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import And, Every, Not, NullQuery, Or, Query, Term
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25FScorer
from whoosh.util.numeric import byte_to_length

_LENGTH_OF_BYTE = [byte_to_length(b) for b in range(256)]

MAX_CACHED_SETS = 4096  # bitsets of ~n/8 bytes each
MAX_CACHED_POSTINGS = 1_000_000  # score entries kept (term tables and rankings), ~100 MB at most


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
    buf = bytearray((max(docnums) >> 3) + 1)
    for d in docnums:
        buf[d >> 3] |= 1 << (d & 7)
    return int.from_bytes(buf, "little")


def bits_to_list(bits: int) -> list[int]:
    """The set bits of `bits`, ascending."""
    if not bits:
        return []
    digits = bin(bits)[:1:-1]  # least significant first, without "0b"
    out: list[int] = []
    append, find = out.append, digits.find
    i = find("1")
    while i >= 0:
        append(i)
        i = find("1", i + 1)
    return out


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


class Snapshot:
    """In-memory views of one searcher's postings and columns (see the module docstring)."""

    def __init__(self, searcher):
        self.s = searcher
        self.leaves = list(searcher.leaf_searchers())
        self.doc_count_all = searcher.doc_count_all()
        self._bits = _LRU(MAX_CACHED_SETS, size=lambda v: 1)
        self._scores = _LRU(MAX_CACHED_POSTINGS)
        self._columns: dict[str, list] = {}
        self._misc: dict = {}
        self._lengths: dict = {}

    # --- postings -------------------------------------------------------------------------------

    def _postings(self, fieldname: str, text, weights: bool):
        """[(leaf searcher, offset, ids, weights or None)] with deleted documents left out."""
        out = []
        for sub, offset in self.leaves:
            try:
                m = sub.reader().postings(fieldname, text)
            except (TermNotFound, ValueError, KeyError):
                continue
            deleted = None
            if isinstance(m, FilterMatcher) and m._exclude:
                deleted, m = m._ids, m.child
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
            if deleted:
                keep = [i for i, d in enumerate(ids) if d not in deleted]
                ids = [ids[i] for i in keep]
                if weights:
                    ws = [ws[i] for i in keep]
            if ids:
                out.append((sub, offset, ids, ws))
        return out

    def term_bits(self, fieldname: str, text) -> int:
        if fieldname == "body":  # read once for matching and scoring
            key = ("t", fieldname, text)
            if key not in self._bits:
                self.term_scores(fieldname, text)
        def make():
            docs = []
            for _, offset, ids, _ in self._postings(fieldname, text, False):
                docs.extend(ids if not offset else [offset + d for d in ids])
            return bits_from(docs)

        return self._bits.get_or(("t", fieldname, text), make)

    def _length_bytes(self, sub, fieldname: str):
        key = (id(sub), fieldname)
        if key not in self._lengths:
            data = None
            try:
                perdoc = sub.reader()._perdoc
                col = perdoc._cached_reader("_%s_len" % fieldname, LENGTHS_COLUMN)
                if col is not None and getattr(col, "_fixedlen", None) == 1:
                    data = bytes(col._dbfile.get(col._basepos, col._count))
            except Exception:  # noqa: BLE001 - another codec: fall back to per-document lookups
                data = None
            self._lengths[key] = data
        return self._lengths[key]

    def _norms(self, sub, fieldname: str, avgfl: float, B: float, K1: float) -> list[float] | None:
        """K1 * ((1 - B) + B * length / avgfl) for each document of a segment (None: lengths unreadable)."""
        key = ("norms", id(sub), fieldname, avgfl, B, K1)
        if key not in self._lengths:
            raw = self._length_bytes(sub, fieldname)
            if raw is None:
                self._lengths[key] = None
            else:
                table = [K1 * ((1 - B) + B * length / avgfl) for length in _LENGTH_OF_BYTE]
                norms = [table[b] for b in raw]
                norms.extend([table[0]] * (sub.reader().doc_count_all() - len(norms)))
                self._lengths[key] = norms
        return self._lengths[key]

    def term_scores(self, fieldname: str, text) -> dict[int, float]:
        """{docnum: the term's BM25F contribution}, as Whoosh's scorer would compute it."""
        def make():
            out: dict[int, float] = {}
            weighting = self.s.weighting
            for sub, offset, ids, ws in self._postings(fieldname, text, True):
                scorer = weighting.scorer(sub, fieldname, text)
                if type(scorer) is BM25FScorer:
                    # bm25(idf, tf, fl, avgfl, B, K1) = idf * (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)),
                    # with the length part precomputed per document.
                    norms = self._norms(sub, fieldname, scorer.avgfl, scorer.B, scorer.K1)
                    c = scorer.idf * (scorer.K1 + 1)
                    if norms is not None:
                        values = [c * tf / (tf + norms[d]) for d, tf in zip(ids, ws)]
                    else:
                        dfl = sub.reader().doc_field_length
                        values = [scorer._score(tf, dfl(d, fieldname, 1)) for d, tf in zip(ids, ws)]
                    out.update(zip(ids if not offset else [offset + d for d in ids], values))
                else:  # another weighting model: ask it for each posting
                    m = _FakeMatcher()
                    for d, w in zip(ids, ws):
                        m.docnum, m.w = d, w
                        out[offset + d] = scorer.score(m)
            self._bits.get_or(("t", fieldname, text), lambda: bits_from(out))
            return out

        return self._scores.get_or((fieldname, text), make)

    # --- whole-index views -----------------------------------------------------------------------

    def live_bits(self) -> int:
        if "live" not in self._misc:
            docs = []
            for sub, offset in self.leaves:
                r = sub.reader()
                if r.has_deletions():
                    docs.extend(offset + d for d in r.all_doc_ids())
                else:
                    docs.extend(range(offset, offset + r.doc_count_all()))
            self._misc["live"] = bits_from(docs)
        return self._misc["live"]

    def column(self, name: str) -> list | None:
        """A column's values for every docnum (None when the index has no such column)."""
        if name not in self._columns:
            reader = self.s.reader()
            self._columns[name] = list(reader.column_reader(name)) if reader.has_column(name) else None
        return self._columns[name]

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
        """A per-generation memo for callers (parsed queries, ...)."""
        return self._bits.get_or(("m", key), make)

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
        return self._bits.get_or(("q", q), lambda: bits_from(q.docs(self.s)))

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


def snapshot(searcher) -> Snapshot:
    snap = getattr(searcher, "_referralnet_snapshot", None)
    if snap is None:
        snap = Snapshot(searcher)
        searcher._referralnet_snapshot = snap
    return snap


def isnan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
