"""Lay-language meanings resolved at index time.

The need lexicon (understanding.py) expands a lay phrase into the terms agencies use
("food stamps" -> "food assistance", ...).
A multi-word meaning is a phrase query over the five text fields, and phrase queries are slow
(positions of every posting). So each document is tagged, when it is indexed, with every
multi-word meaning its text contains, in the `concepts` keyword field; the search then asks for
one `concepts` term instead of five phrases.

The tag is given exactly when the phrase query would match: the query is the one the search
would build (same parser, same analyzers), evaluated on the document's own token positions
(a phrase is the words at consecutive positions in one field, as Whoosh's Phrase with slop 1).
A meaning whose query is anything else is not tagged, and the search keeps its phrase query.
The set of meanings is part of the index version (schema.index_version): editing
the lexicon's terms rebuilds the index.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.query import And, NullQuery, Or, Phrase, Query, Term

from referralnet.search.schema import TEXT_FIELDS, analyze_text_fields
from referralnet.search.understanding import need_concepts
CONCEPT_FIELD = "concepts"


def text_parser(schema) -> MultifieldParser:
    return MultifieldParser(TEXT_FIELDS, schema=schema, group=AndGroup)


def _supported(q: Query) -> bool:
    if q is NullQuery or type(q) in (Term, Phrase):
        return True
    if type(q) in (And, Or) and not getattr(q, "minmatch", 0):
        return all(_supported(sub) for sub in q.subqueries)
    return False


@lru_cache(maxsize=4)
def _concept_queries(schema_key) -> dict[str, Query]:
    schema = schema_key.schema
    parser = text_parser(schema)
    out = {}
    for meaning in multiword_meanings():
        if "," not in meaning and meaning not in out:
            q = parser.parse(f'"{meaning}"')
            if _supported(q) and q is not NullQuery:
                out[meaning] = q
    return out


class _SchemaKey:
    """Hashable by the schema's field names (schemas are rebuilt per index open)."""

    def __init__(self, schema):
        self.schema = schema
        self._key = tuple(schema.names())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _SchemaKey) and other._key == self._key


def concept_queries(schema) -> dict[str, Query]:
    """{multi-word meaning: its phrase query} for the meanings that are tagged at index time."""
    return _concept_queries(_SchemaKey(schema))


def multiword_meanings() -> list[str]:
    """Every multi-word term of the need lexicon's concepts (and the synonym list they include), sorted
    (from `need_concepts`: the same concepts as `lexicon().needs`, without building the phrasings)."""
    return sorted({t for need in need_concepts().values() for t in need.terms if " " in t})


def digest() -> str:
    """Changes when the list of meanings changes (part of the index version)."""
    return hashlib.sha1("\n".join(multiword_meanings()).encode()).hexdigest()[:10]


def _positions(schema, doc: dict, analyzed: dict | None = None) -> dict[str, dict[str, list[int]]]:
    """{text field: {indexed word: its positions}}, from the fields' analysis when it was done already."""
    if analyzed is None:
        analyzed = analyze_text_fields(schema, doc)
    return {name: analyzed[name].positions() if name in analyzed else {} for name in TEXT_FIELDS}


def _matches(q: Query, positions: dict[str, dict[str, list[int]]]) -> bool:
    """Whether `q` (Term, Phrase, And, Or of them) matches a document with these positions. Tried
    for each candidate meaning of every document a rebuild builds: plain loops, no generators."""
    kind = type(q)
    if kind is Phrase:
        field = positions.get(q.fieldname)
        if not q.words or not field:
            return False
        found = []
        for word in q.words:
            at = field.get(word)
            if at is None:
                return False
            found.append(at)
        if len(found) == 1:
            return True
        rest = [set(at) for at in found[1:]]
        for start in found[0]:
            for i, pos in enumerate(rest, 1):
                if start + i not in pos:
                    break
            else:
                return True
        return False
    if kind is Or:
        for sub in q.subqueries:
            if _matches(sub, positions):
                return True
        return False
    if kind is And:
        for sub in q.subqueries:
            if not _matches(sub, positions):
                return False
        return True
    if kind is Term:
        return q.text in positions.get(q.fieldname, {})
    return False  # NullQuery, or a query the tags do not support


def _needed(q: Query) -> frozenset:
    """Words any match of `q` has in some field (a cheap test before the exact one)."""
    if type(q) is Term:
        return frozenset([q.text])
    if type(q) is Phrase:
        return frozenset(q.words)
    if type(q) is And:
        return frozenset().union(*(_needed(sub) for sub in q.subqueries))
    if type(q) is Or and q.subqueries:
        return frozenset.intersection(*(_needed(sub) for sub in q.subqueries))
    return frozenset()


Filed = dict[str, list[tuple[str, Query, frozenset]]]  # a word -> (meaning, query, words it needs)


def _file(filed: Filed, meaning: str, q: Query, needed: frozenset) -> None:
    filed.setdefault(max(sorted(needed), key=len), []).append((meaning, q, needed))


def _single_field_parts(q: Query) -> list[Query] | None:
    """The Terms and Phrases a query matches with any one of (an Or of them, or one of them): what
    each meaning's query is, one phrase per text field. None for any other query."""
    parts = q.subqueries if type(q) is Or else [q]
    if all(type(p) in (Term, Phrase) and p.fieldname in TEXT_FIELDS for p in parts):
        return list(parts)
    return None


@lru_cache(maxsize=4)
def _prepared(schema_key) -> tuple[dict[str, Filed], Filed, list[tuple[str, Query, frozenset]]]:
    """The meanings' queries, filed under one word each of them needs (its rarest-looking: the
    longest), so that a text is only tested against the meanings filed under its own words, not
    against every meaning of the lexicon: ({text field: its words' Terms and Phrases}, the other
    queries by word, the other queries that need no particular word).

    A query matches when one of its single-field parts does (`_single_field_parts`): which of a
    field's parts match depends on that field's value alone, and is worked out once per value
    (`_field_meanings`); the other queries are tested on the whole document."""
    by_field: dict[str, Filed] = {name: {} for name in TEXT_FIELDS}
    by_word: Filed = {}
    always = []
    for m, q in sorted(_concept_queries(schema_key).items()):
        parts = _single_field_parts(q)
        if parts is not None:
            for part in parts:
                needed = _needed(part)
                if needed:  # (a phrase without words matches nothing)
                    _file(by_field[part.fieldname], m, part, needed)
            continue
        needed = _needed(q)
        if needed:
            _file(by_word, m, q, needed)
        else:
            always.append((m, q, needed))
    return by_field, by_word, always


def _field_meanings(filed: Filed, name: str, analyzed) -> frozenset:
    """The meanings one of whose parts in field `name` (filed by word) matches this value of the
    field, remembered on the value (`Analyzed.meanings`): a shared value (an organization's name,
    a service's text at each of its places) is tested once."""
    hit = analyzed.meanings
    if hit is not None and hit[0] is filed:
        return hit[1]
    positions = analyzed.positions()
    field = {name: positions}
    found = set()
    for word in positions:
        for m, q, needed in filed.get(word, ()):
            if m not in found and needed <= positions.keys() and _matches(q, field):
                found.add(m)
    out = frozenset(found)
    analyzed.meanings = (filed, out)
    return out


def prepare(schema) -> None:
    """Parse the meanings' queries for `concepts_for` now (~0.5 CPU s): a rebuild does it once
    before it forks its workers, which then find them ready."""
    _prepared(_SchemaKey(schema))


def concepts_for(schema, doc: dict, analyzed: dict | None = None) -> list[str]:
    """The multi-word meanings whose phrase query matches this document. `analyzed`: the document's
    text fields as `analyze_text_fields` made them (analysed here when not given)."""
    by_field, by_word, always = _prepared(_SchemaKey(schema))
    if not any(by_field.values()) and not by_word and not always:
        return []
    if analyzed is None:
        analyzed = analyze_text_fields(schema, doc)
    found: set[str] = set()
    for name in TEXT_FIELDS:
        if name in analyzed and by_field[name]:
            found.update(_field_meanings(by_field[name], name, analyzed[name]))
    if by_word or always:
        positions = _positions(schema, doc, analyzed)
        words = set().union(*positions.values())
        candidates = list(always)
        for word in words:
            candidates.extend(by_word.get(word, ()))
        found.update(m for m, q, needed in candidates if needed <= words and _matches(q, positions))
    return sorted(found)
