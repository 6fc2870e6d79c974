"""A Whoosh segment writer for full rebuilds: the same segment as Whoosh's SegmentWriter writes, with
less work per posting (a full rebuild writes a few hundred postings per document).

Whoosh's writer turns every posting into a (field, term, document, weight, value) tuple in a
`PostingPool`, spills the pool to disk in sorted runs when it passes `limitmb`, and at the end
sorts and merges every posting of the segment into (field, term, document) order. Here a posting
goes straight into its term's list ({field: {term: [(document, weight, value)]}}): documents are
added in number order, so each list is already in document order, and only the fields' and terms'
names are sorted when the segment is written. Everything stays in memory until then (a rebuild
process writes one segment of its share: ~100 MB per 10,000 documents).

Only used by `index.rebuild_index` (a fresh segment, no deletions, no merging of old segments);
every other write goes through Whoosh's own writer. `content_digest` (bench/rebuild_bench.py
--fingerprint, tests/search/test_rebuild.py) shows the index is the same.
"""
from __future__ import annotations

from pickle import dumps

from whoosh import formats
from whoosh.codec import whoosh3
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.util.text import utf8encode
from whoosh.writing import SegmentWriter

from referralnet.search import _whoosh_patch  # noqa: F401  (add_posting_unchecked)
from referralnet.search.schema import Analyzed, AnalyzedTEXT

MEMO_LIMIT = 100_000  # remembered (field, value) postings of the keyword-like fields per segment


def _positions_postings(tokens: list, field_boost: float):
    """What `formats.Positions.word_values` + `FieldType.index` yield for an `Analyzed` value's
    tokens, per word in first-seen order: (term bytes, frequency, weight, the encoded positions in
    two parts). The parts are joined for each document (see `BulkSegmentWriter._postings`)."""
    poses: dict[str, list[int]] = {}
    weights: dict[str, float] = {}
    for text, pos, boost in tokens:
        seen = poses.get(text)
        if seen is None:
            poses[text] = [pos]
            weights[text] = 0.0 + boost
        else:
            seen.append(pos)
            weights[text] += boost
    out = []
    for text, poslist in poses.items():
        deltas, base = [], 0
        for pos in poslist:
            deltas.append(pos - base)
            base = pos
        out.append((text.encode("utf-8"), len(poslist), weights[text] * field_boost,
                    pack_uint(len(deltas)), dumps(deltas, 2)))
    return out


def _frequency_postings(tokens: list, field_boost: float):
    """What `formats.Frequency.word_values` + `FieldType.index` yield for an `Analyzed` value's
    tokens, the encoded frequency in two parts as `_positions_postings`."""
    freqs: dict[str, int] = {}
    weights: dict[str, float] = {}
    for text, _, boost in tokens:
        if text in freqs:
            freqs[text] += 1
            weights[text] += boost
        else:
            freqs[text] = 1
            weights[text] = 0.0 + boost
    return [(text.encode("utf-8"), freq, weights[text] * field_boost, pack_uint(freq), b"")
            for text, freq in freqs.items()]


def _whole_values(postings) -> list:
    """Whoosh's (term bytes, frequency, weight, value) postings, each value as one part."""
    return [(text, freq, weight, value, b"") for text, freq, weight, value in postings]


def _prepared(postings: list) -> tuple[int, bool, list]:
    """A value's postings as `add_document` appends them for each document that has it: (the
    field length they add up to, whether their values are in two parts, and per posting (term
    bytes, weight as a float, value) or (term bytes, weight as a float, head, tail)). A weight
    is times 1.0 here, what a document's boost of 1.0 makes of it (the same float)."""
    length = sum(freq for _, freq, _, _, _ in postings)
    if any(tail for _, _, _, _, tail in postings):
        return length, True, [(text, weight * 1.0, head, tail) for text, _, weight, head, tail in postings]
    return length, False, [(text, weight * 1.0, head) for text, _, weight, head, _ in postings]


class GroupedPostings:
    """The postings of one segment being written, by field and term, in document order.

    Stands in for Whoosh's PostingPool in a `BulkSegmentWriter` (`add`, `iter_postings` and
    `cleanup` keep Whoosh's own callers working; the writer itself appends to `fields`)."""

    def __init__(self):
        self.fields: dict[str, dict[bytes, list]] = {}
        # Spelling fields: every posting names document 0 with weight 1, so a term's list holds
        # only the postings' values (a word's list is as long as the documents that have it).
        self.spelling: set[str] = set()
        self.keep = False  # True: `cleanup` leaves the postings (a worker process ended right after)

    def terms(self, fieldname: str) -> dict[bytes, list]:
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        return terms

    def add(self, item) -> None:
        fieldname, btext, docnum, weight, vbytes = item
        rows = self.terms(fieldname).setdefault(btext, [])
        rows.append(vbytes if fieldname in self.spelling else (docnum, weight, vbytes))

    def sorted_values(self, fieldname: str, btext: bytes) -> list:
        """A spelling term's postings' values in Whoosh's pool order: all document 0 and weight 1,
        ordered by value as Whoosh's sort of the (document, weight, value) rows does (stable: equal
        values keep their order)."""
        values = self.fields[fieldname][btext]
        values.sort()
        return values

    def sorted_rows(self, fieldname: str, btext: bytes) -> list:
        """A term's postings in Whoosh's pool order: (document, weight, value)."""
        if fieldname in self.spelling:
            return [(0, 1, vbytes) for vbytes in self.sorted_values(fieldname, btext)]
        # Any other term has at most one posting per document (a field's values are counted per
        # term), appended as the documents were numbered: already in order.
        return self.fields[fieldname][btext]

    def iter_postings(self):
        for fieldname in sorted(self.fields):
            for btext in sorted(self.fields[fieldname]):
                for docnum, weight, vbytes in self.sorted_rows(fieldname, btext):
                    yield fieldname, btext, docnum, weight, vbytes

    def cleanup(self) -> None:
        if not self.keep:
            self.fields.clear()


class BulkSegmentWriter(SegmentWriter):
    """A SegmentWriter (without the index's write lock: see `index._write_segment`) whose postings
    are grouped in memory by field and term instead of sorted as tuples (see module docstring)."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, _lk=False, **kwargs)
        self.pool = GroupedPostings()
        self._memo: dict[tuple, list] = {}
        self._fields: dict[str, tuple] = {}
        self._plans: dict[tuple, list] = {}

    def _analyzed_postings(self, fieldname: str, field, value: Analyzed) -> tuple[int, bool, list]:
        """`field.index(value)` for an `Analyzed` text value, computed straight from its tokens once
        per value and field (the same tuples as its format's `word_values`, without a Token per
        word), as `_prepared` has them (a value in two parts is joined per document by
        `add_document`)."""
        written = value.written
        if written is None:
            written = value.written = {}
        hit = written.get(fieldname)
        if hit is None:
            fmt = type(field.format)
            if fmt is formats.Positions:
                hit = _positions_postings(value.tokens, field.format.field_boost)
            elif fmt is formats.Frequency:
                hit = _frequency_postings(value.tokens, field.format.field_boost)
            else:
                hit = _whole_values(field.index(value))
            hit = written[fieldname] = _prepared(hit)
        return hit

    def _postings(self, fieldname: str, field, value) -> tuple[int, bool, list]:
        """`field.index(value)` as `_prepared` has it: for an `Analyzed` text value computed from its
        tokens (`_analyzed_postings`), for the other fields remembered per value (a keyword field's
        value -- domains, languages, a week's hours -- repeats across documents; indexing is a
        function of the value alone)."""
        if type(value) is Analyzed and type(field) is AnalyzedTEXT:
            return self._analyzed_postings(fieldname, field, value)
        if field.unique:
            return _prepared(_whole_values(field.index(value)))
        key = (fieldname, type(value), tuple(value) if type(value) is list else value)
        try:
            hit = self._memo.get(key)
        except TypeError:  # an unhashable value
            return _prepared(_whole_values(field.index(value)))
        if hit is None:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            hit = self._memo[key] = _prepared(_whole_values(field.index(value)))
        return hit

    def _field(self, fieldname: str) -> tuple:
        """A field and what add_document asks of it for every document, looked up once."""
        info = self._fields.get(fieldname)
        if info is None:
            field = self.schema[fieldname]
            spellfield = field.spelling_fieldname(fieldname) if field.separate_spelling() else None
            info = self._fields[fieldname] = (field, field.indexed, field.scorable, spellfield)
        return info

    def _spelling_words(self, fieldname: str, field, value) -> list[bytes]:
        if type(value) is Analyzed:
            written = value.written
            if written is None:
                written = value.written = {}
            hit = written.get(("spelling", fieldname))
            if hit is None:
                hit = written[("spelling", fieldname)] = [utf8encode(w)[0] for w in field.spellable_words(value)]
            return hit
        return [utf8encode(w)[0] for w in field.spellable_words(value)]

    def _plan(self, fields: dict) -> list[tuple]:
        """For documents with these keys (every document of a rebuild has one of two sets: with or
        without coordinates): the indexed fields in Whoosh's order (sorted names), each with its
        field, what add_document asks of it, and its boost key. Checked against the schema once."""
        key = tuple(fields)
        plan = self._plans.get(key)
        if plan is None:
            fieldnames = sorted(name for name in fields if not name.startswith("_"))
            self._check_fields(self.schema, fieldnames)
            plan = self._plans[key] = [(name, *self._field(name), "_%s_boost" % name) for name in fieldnames]
        return plan

    def add_document(self, **fields):
        """Whoosh's SegmentWriter.add_document, appending each posting to its term's list."""
        self._check_state()
        perdocwriter = self.perdocwriter
        docnum = self.docnum
        pool = self.pool
        docboost = self._doc_boost(fields)
        plan = self._plan(fields)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname, field, indexed, scorable, spellfield, boostkey in plan:
                value = fields[fieldname]
                if value is None:
                    continue
                length = 0
                vbytes = None
                if indexed:
                    fieldboost = float(fields[boostkey]) if boostkey in fields else docboost
                    terms = pool.terms(fieldname)
                    get = terms.get
                    total, split, postings = self._postings(fieldname, field, value)
                    if scorable:
                        length = total
                    if fieldboost != 1.0 or type(fieldboost) is not float:
                        postings = [(tbytes, weight * fieldboost, *parts) for tbytes, weight, *parts in postings]
                    if split:
                        # A new positions value per posting (head + tail), as Whoosh makes them: a
                        # block's variable-size values are pickled, and pickle writes an object it
                        # saw before as a back-reference (other bytes, same postings).
                        for tbytes, weight, head, tail in postings:
                            vbytes = head + tail
                            rows = get(tbytes)
                            if rows is None:
                                terms[tbytes] = [(docnum, weight, vbytes)]
                            else:
                                rows.append((docnum, weight, vbytes))
                    else:
                        # A value in one part (a frequency: the same object for every document) is
                        # written as raw bytes.
                        for tbytes, weight, vbytes in postings:
                            rows = get(tbytes)
                            if rows is None:
                                terms[tbytes] = [(docnum, weight, vbytes)]
                            else:
                                rows.append((docnum, weight, vbytes))
                if spellfield is not None:
                    # As Whoosh does: one posting per word naming document 0, with the value of
                    # the field's last posting.
                    pool.spelling.add(spellfield)
                    terms = pool.terms(spellfield)
                    get = terms.get
                    for word in self._spelling_words(fieldname, field, value):
                        values = get(word)
                        if values is None:
                            terms[word] = [vbytes]
                        else:
                            values.append(vbytes)
                vformat = field.vector
                if vformat:
                    vitems = vformat.word_values(value, field.analyzer, mode="index")
                    vitems = sorted((text, weight, vb) for text, _, weight, vb in vitems)
                    perdocwriter.add_vector_items(fieldname, field, vitems)
                customval = fields.get("_stored_%s" % fieldname, value)
                perdocwriter.add_field(fieldname, field, customval if field.stored else None, length)
                column = field.column_type
                if column and customval is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(customval))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        if type(self.fieldwriter) is whoosh3.W3FieldWriter and type(lengths) is whoosh3.W3PerDocReader:
            _write_grouped(self.fieldwriter, self.schema, lengths, self.pool)
        else:
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if lengths:
            lengths.close()


def _write_grouped(fw, schema, lengths, pool: GroupedPostings) -> None:
    """What W3FieldWriter.add_postings (as _whoosh_patch.py has it) writes for the pool's postings in
    (field, term, document) order, a block of postings at a time: W3PostingsWriter.add_posting
    fills a block one posting at a time and writes it when the next posting finds it full; here
    each block's documents, weights, values and statistics are put in at once, then written the
    same way (`_write_block`, `finish_postings`)."""
    for fieldname in sorted(pool.fields):
        fw.start_field(fieldname, schema[fieldname])
        postwriter = fw._postwriter
        limit = postwriter._blocklimit
        column = lengths._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
        doc_length = None
        if column is not None:  # each document's field length as the posting writer is given it
            doc_length = [byte_to_length(b) if b else 0 for b in (column[d] for d in range(lengths._doccount))]
        terms = pool.fields[fieldname]
        spelling = fieldname in pool.spelling
        for btext in sorted(terms):
            fw.start_term(btext)
            rows = pool.sorted_values(fieldname, btext) if spelling else pool.sorted_rows(fieldname, btext)
            for start in range(0, len(rows), limit):
                if start:
                    postwriter._write_block()  # (which starts the next block)
                if spelling:
                    _fill_spelling_block(postwriter, rows[start:start + limit], doc_length)
                else:
                    _fill_block(postwriter, rows[start:start + limit], doc_length)
            fw.finish_term()
        fw.finish_field()


def _fill_spelling_block(postwriter, values: list, doc_length: list | None) -> None:
    """`_fill_block` for a spelling term's postings: document 0 and weight 1 (an int, as Whoosh's
    own spelling postings have it) for each value."""
    count = len(values)
    _fill_columns(postwriter, (0,) * count, (1,) * count, values, doc_length)


def _fill_block(postwriter, rows: list, doc_length: list | None) -> None:
    """Put up to a block's worth of postings (document, weight, value) into an empty block buffer:
    what as many `add_posting` calls leave in it."""
    ids, weights, values = zip(*rows)
    _fill_columns(postwriter, ids, weights, values, doc_length)


def _fill_columns(postwriter, ids, weights, values, doc_length: list | None) -> None:
    """A block's documents, weights and values (as many of each) into the empty block buffer."""
    postwriter._ids.extend(ids)
    postwriter._weights.extend(weights)
    postwriter._values.extend(filter(None, values))  # the non-empty values, as add_posting keeps them
    top = max(weights)
    if top > postwriter._maxweight:
        postwriter._maxweight = top
    if doc_length is not None:
        known = list(filter(None, map(doc_length.__getitem__, ids)))  # the known (non-zero) lengths
        if known:
            low, high = min(known), max(known)
            if postwriter._minlength is None or low < postwriter._minlength:
                postwriter._minlength = low
            if high > postwriter._maxlength:
                postwriter._maxlength = high
