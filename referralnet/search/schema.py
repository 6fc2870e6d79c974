"""The Whoosh schema: one document per active service at one of its locations."""
from __future__ import annotations

from functools import lru_cache

from whoosh.analysis import (DelimitedAttributeFilter, LowercaseFilter, RegexTokenizer, StemFilter,
                             StemmingAnalyzer, StopFilter, Token)
from whoosh.analysis.tokenizers import default_pattern
from whoosh.fields import BOOLEAN, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.util.text import utf8encode

# Schema version: bump when fields, or what one holds, change so that an old index is rebuilt instead
# of misread (9: has_exceptions also flags seasonal weekly hours).
SCHEMA_VERSION = "9"


def index_version() -> str:
    """What the version file must say: the schema version and the lexicon terms tagged at index time."""
    from referralnet.search.concepts import digest

    return f"{SCHEMA_VERSION}-{digest()}"


@lru_cache(maxsize=1)
def document_schema() -> Schema:
    """One schema instance for building documents (analyzers for the index-time concept tags)."""
    return build_schema()


# The text fields (searched together) and the combined field that stands for them in searches.
TEXT_FIELDS = ["name", "organization", "terms", "description", "eligibility"]


# Opening hours: the typical week's half hours (hours.slot_number: 0 = Monday 00:00 ... 335) a place
# is open, as aligned blocks of 1, 2, 4 ... 256 half hours. A place open 9-5 on weekdays has 20 block
# terms rather than 80 half-hour terms (24/7: 3 rather than 336); a half hour's filter is the union
# of the 9 blocks that contain it, and finds exactly the places open that half hour.
SLOT_LEVELS = 9  # 2**8 = 256 half hours is the largest block that fits in a week (336)
_LEVEL_LETTERS = "abcdefghi"


def slot_blocks(numbers) -> list[str]:
    """The fewest aligned blocks that together are exactly these half hours, as index terms: the
    level's letter and the block's number ("a19" = half hour 19; "c4" = half hours 16-19)."""
    out: list[str] = []
    full = set(numbers)
    for level in range(SLOT_LEVELS):
        letter = _LEVEL_LETTERS[level]
        parents = {i >> 1 for i in full if i ^ 1 in full} if level + 1 < SLOT_LEVELS else set()
        out.extend(f"{letter}{i}" for i in sorted(full) if i >> 1 not in parents)
        full = parents
    return out


def slot_block_terms(number: int) -> list[str]:
    """The terms of the blocks containing half hour `number`: a document has one of them exactly
    when it is open that half hour."""
    return [f"{_LEVEL_LETTERS[level]}{number >> level}" for level in range(SLOT_LEVELS)]


def body_analyzer():
    """The text fields' analysis (StemmingAnalyzer) on pre-split words that carry their field's
    boost as "word^3.0": each word's weight in `body` is the sum of its fields' boosts."""
    return (RegexTokenizer(r"\S+") | DelimitedAttributeFilter("^", "boost", 1.0, float) | LowercaseFilter()
            | StopFilter() | StemFilter())


ANALYZED = "_analyzed"  # a document's key for its text fields' analysis (Whoosh ignores keys starting with "_")


class Analyzed:
    """A text field's value as its analyzer makes it, computed once when the document is built
    (`analyze_text_fields`) and used three times: for the index-time concept tags (concepts.py),
    for the field's postings and spelling words, and for the combined `body` field.

    `tokens` are (text, position, boost) as the field's analyzer yields them at index time;
    `spelling` the unstemmed words, as Whoosh's spelling field keeps them."""

    __slots__ = ("tokens", "spelling", "written", "meanings", "_positions")

    def __init__(self, tokens: list[tuple[str, int, float]], spelling: frozenset = frozenset()):
        self.tokens = tokens
        self.spelling = spelling
        # What the rebuild's writer made of it, by field (_bulk_writer): one value shared by many
        # documents (schema.Memo) is turned into postings once.
        self.written: dict | None = None
        # The concept tags its field's phrases give (concepts._field_meanings), once per value.
        self.meanings: tuple | None = None
        self._positions: dict[str, list[int]] | None = None

    def replay(self, value=None, positions=False, boosts=False, **_):
        """The tokens again, as the field's analyzer yields them (an analyzer for Whoosh's formats)."""
        t = Token(positions=positions, boosts=boosts)
        for text, pos, boost in self.tokens:
            t.text, t.pos, t.boost = text, pos, boost
            yield t

    def positions(self) -> dict[str, list[int]]:
        """{word: its positions}, worked out once (a shared value's, for the concept tags of each of
        its documents: concepts.py). Read, never changed."""
        out = self._positions
        if out is None:
            out = self._positions = {}
            for text, pos, _ in self.tokens:
                seen = out.get(text)
                if seen is None:
                    out[text] = [pos]
                else:
                    seen.append(pos)
        return out


class AnalyzedTEXT(TEXT):
    """A TEXT field that also takes an `Analyzed` value: its postings and spelling words are then
    made from the tokens already computed instead of analysing the text again (the same result:
    the tokens are what this field's analyzer yields). A plain string is analysed as by TEXT."""

    def index(self, value, **kwargs):
        if not isinstance(value, Analyzed):
            return super().index(value, **kwargs)
        return ((utf8encode(text)[0], freq, weight, vbytes)
                for text, freq, weight, vbytes in self.format.word_values(value, value.replay, mode="index"))

    def spellable_words(self, value):
        if not isinstance(value, Analyzed):
            return super().spellable_words(value)
        return iter(sorted(value.spelling))


class ColumnNUMERIC(NUMERIC):
    """A number kept only as a sortable column and (when `stored`) a stored field: no postings.

    For values the search reads per document (`Snapshot.column`) and never looks up by term: a
    NUMERIC field's postings are one term per 4 bits of the value (16 for a float), and the
    coordinates' low-order terms are different for nearly every document -- most of a rebuild's
    terms and a sixth of its postings, never read."""

    indexed = False


class ColumnID(ID):
    """A string kept only as a sortable column (see `ColumnNUMERIC`): no postings."""

    indexed = False


class _Stems(dict):
    """word -> its stem by a StemFilter, each word stemmed once (a dict look-up per word afterwards:
    Whoosh's own cache is a Python wrapper that also counts uses, and the same few thousand words
    are stemmed over and over in a rebuild). Emptied when it holds LIMIT words."""

    LIMIT = 200_000

    def __init__(self, stem_filter: StemFilter):
        super().__init__()
        self._stem = stem_filter._stem
        self._ignore = stem_filter.ignore

    def __missing__(self, word: str) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        stem = self[word] = word if word in self._ignore else self._stem(word)
        return stem


def _plain_words(analyzer):
    """For a StemmingAnalyzer (tokenizer, lower case, stop words, stemming): a function giving its
    unstemmed words and positions as `analyzer(value, positions=True, no_morph=True)` does, from
    the tokenizer's matches without a Token per word through each filter; and the analyzer's
    stems. None for any other analyzer (then it is called itself).

    StopFilter renumbers the kept words: the first keeps its own position, each next one is one
    more (tests/search/test_rebuild.py compares the result with the analyzer's, word by word)."""
    items = getattr(analyzer, "items", ())
    if len(items) != 4:
        return None
    tokenizer, lower, stop, stem = items
    if not (type(tokenizer) is RegexTokenizer and not tokenizer.gaps and type(lower) is LowercaseFilter
            and type(stop) is StopFilter and stop.renumber and type(stem) is StemFilter):
        return None
    finditer, stops, low, high = tokenizer.expression.finditer, stop.stops, stop.min, stop.max

    def words(value: str) -> list[tuple[str, int]]:
        kept = []
        first = None
        for pos, match in enumerate(finditer(value)):
            text = match.group(0).lower()
            if len(text) >= low and (high is None or len(text) <= high) and text not in stops:
                if first is None:
                    first = pos
                kept.append(text)
        return [(text, first + i) for i, text in enumerate(kept)]

    return words, _Stems(stem)


_analysis: dict[int, tuple[Schema, dict]] = {}


def _analysis_for(schema: Schema) -> dict:
    """{text field: (its words function or None, its analyzer's stems)}, one `_Stems` per analyzer."""
    hit = _analysis.get(id(schema))
    if hit is None or hit[0] is not schema:
        by_analyzer: dict[int, tuple] = {}
        fns = {}
        for name in TEXT_FIELDS:
            analyzer = schema[name].analyzer
            if id(analyzer) not in by_analyzer:
                plain = _plain_words(analyzer)
                if plain is None:
                    stem = next(item for item in analyzer.items if getattr(item, "is_morph", False))
                    plain = None, _Stems(stem)
                by_analyzer[id(analyzer)] = plain
            fns[name] = by_analyzer[id(analyzer)]
        hit = _analysis[id(schema)] = (schema, fns)
    return hit[1]


def analyze_text_fields(schema: Schema, doc: dict, memo: Memo | None = None) -> dict[str, Analyzed]:
    """Each text field of `doc` and `body` analysed once, for `AnalyzedTEXT` (see `Analyzed`).

    A field's words are tokenized, lower-cased and stop-listed by its own analyzer without its
    stemming stage (Whoosh's `no_morph`: what the spelling field keeps), then stemmed with that
    analyzer's own (cached) stemming function: the tokens its full analysis would yield. `body`
    is the same stems, each weighted by its field's boost (what `body_analyzer()` makes of
    `body_text()`).

    `memo`: a `Memo` the caller keeps while it builds many documents with this schema (a rebuild's
    share): each field value is analysed once however many documents have it (an organization's
    name, a service's text at each of its places). The tokens are shared, never changed."""
    out: dict[str, Analyzed] = {}
    body: list[tuple[str, int, float]] = []
    for name in TEXT_FIELDS:
        value = doc.get(name)
        if not value:
            continue
        if memo is None:
            out[name], weighted = _analyze_field(schema, name, value)
        else:
            out[name], weighted = memo.remember((name, value), lambda: _analyze_field(schema, name, value))
        body.extend(weighted)
    out["body"] = Analyzed(body)
    return out


def _analyze_field(schema: Schema, name: str, value: str) -> tuple[Analyzed, list[tuple[str, int, float]]]:
    """One text field's `Analyzed` value and its tokens as `body` has them (with the field's boost)."""
    field = schema[name]
    plain, stems = _analysis_for(schema)[name]
    if plain is None:
        words = [(t.text, t.pos) for t in field.analyzer(value, positions=True, mode="index", no_morph=True)
                 if not t.stopped]
    else:
        words = plain(value)
    tokens = [(stems[text], pos, 1.0) for text, pos in words]
    boost = field.format.field_boost
    return Analyzed(tokens, frozenset(text for text, _ in words)), [(text, 0, boost) for text, _, _ in tokens]


class Memo(dict):
    """Results remembered while many documents are built (`documents.documents_for`: one call, or
    every chunk of a rebuild process's share), by the values they are computed from, so never stale
    while it lives. Emptied when it holds LIMIT entries, so a rebuild's share of a large directory
    keeps it bounded."""

    LIMIT = 200_000

    def remember(self, key, make):
        hit = self.get(key)
        if hit is None:
            if len(self) >= self.LIMIT:
                self.clear()
            hit = self[key] = make()
        return hit


def _marked_words(schema: Schema, name: str, value: str) -> str:
    boost = schema[name].format.field_boost
    mark = "" if boost == 1.0 else f"^{boost}"
    return " ".join(m.group() + mark for m in default_pattern.finditer(value))


def body_text(schema: Schema, doc: dict, memo: Memo | None = None) -> str:
    """The value of `body` for a document: every text field's words, each marked with the field's
    boost. `memo` as for `analyze_text_fields` (each field value's marked words made once)."""
    out = []
    for name in TEXT_FIELDS:
        value = doc.get(name)
        if not value:
            continue
        words = _marked_words(schema, name, value) if memo is None else \
            memo.remember(("body", name, value), lambda: _marked_words(schema, name, value))
        if words:
            out.append(words)
    return " ".join(out)


def build_schema() -> Schema:
    stem = StemmingAnalyzer()
    return Schema(
        # Column-stored (sortable) ids let a caller map thousands of hits to records without
        # loading each document's stored fields.
        # A document's id: service_at_location id, or "service:<id>". Never looked up by term (a
        # service's documents are found and deleted by service_id): a column and a stored field.
        id=ColumnID(stored=True, sortable=True),
        service_id=ID(stored=True, sortable=True),
        location_id=STORED(),  # shown on hits, never searched
        organization_id=ID(stored=True, sortable=True),
        name=AnalyzedTEXT(analyzer=stem, field_boost=3.0, stored=True, spelling=True),
        name_sort=ColumnID(sortable=True),  # the order of a search without words (a column)
        organization=AnalyzedTEXT(analyzer=stem, field_boost=1.5, stored=True, spelling=True),
        description=AnalyzedTEXT(analyzer=stem, spelling=True),
        eligibility=AnalyzedTEXT(analyzer=stem),
        terms=AnalyzedTEXT(analyzer=stem, field_boost=2.0, spelling=True),
        # All five text fields in one, without positions: a searched word is one posting list here
        # (matched and scored as BM25F with field-boosted term frequencies). The fields above stay
        # for phrases, per-field queries and spelling.
        body=AnalyzedTEXT(analyzer=body_analyzer(), phrase=False),
        domains=KEYWORD(commas=True, stored=True),
        term_ids=KEYWORD(commas=True),
        # Taxonomy codes with every prefix ("bd-1800.2000" also as "bd-1800" and "bd"), so a need
        # can ask for a branch of the AIRS taxonomy with one term.
        codes=KEYWORD(lowercase=True),
        languages=KEYWORD(commas=True, lowercase=True, stored=True),
        free=BOOLEAN(stored=True),
        accepting=BOOLEAN(stored=True),
        # Columns only: the age filter reads them per document (engine.Snapshot.within).
        min_age=ColumnNUMERIC(int, stored=True, sortable=True),
        max_age=ColumnNUMERIC(int, stored=True, sortable=True),
        cells=KEYWORD(),
        # Columns only, so distance checks read them without loading documents; missing reads as NaN.
        # (Found by distance through `cells`, never by a range of coordinates: no postings.)
        lat=ColumnNUMERIC(float, sortable=True, default=0),
        lon=ColumnNUMERIC(float, sortable=True, default=0),
        tz=ID(stored=True),
        slots=KEYWORD(),  # the open half hours as blocks (slot_blocks), given as a list of terms
        # Multi-word lexicon terms found in the text at index time (see concepts.py).
        concepts=KEYWORD(commas=True),
        has_exceptions=BOOLEAN(),
        card=STORED(),  # a small JSON-ready dict for result cards (no second database round trip)
    )
