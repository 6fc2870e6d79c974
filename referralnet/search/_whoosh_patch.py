"""Targeted speed fixes for whoosh-reloaded 2.7.x, applied once on import (same results, less work).

`W3PerDocReader._cached_reader` caches a field-length column reader only when the
column exists; when it does not (keyword and ID fields have no length column, and a
segment being written has none yet), it asks the disk again for every posting.
Building an index of 2,000 services made ~500,000 `stat` calls that way, most of the
time spent. Segments never change once written, so remembering "no column" gives
the same answers with one check per field.

The others skip per-posting checks and Python steps in Whoosh's writing code, writing the same
bytes (tests/search/test_rebuild.py compares segment files with Whoosh's own).
"""
import itertools
import operator

from whoosh import writing
from whoosh.codec import whoosh3

_MISSING = object()


def _cached_reader(self, fieldname, column):
    reader = self._readers.get(fieldname, _MISSING)
    if reader is _MISSING:
        reader = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
        self._readers[fieldname] = reader
    return reader


if not getattr(whoosh3.W3PerDocReader, "_referralnet_patched", False):
    whoosh3.W3PerDocReader._cached_reader = _cached_reader
    whoosh3.W3PerDocReader._referralnet_patched = True


_original_pool_add = writing.PostingPool.__dict__.get("_referralnet_original", writing.PostingPool.add)


def _pool_add(self, item):
    """PostingPool.add without its per-posting type assertions (the same size estimate, so the same
    spills): called once per posting, several hundred times per document of a rebuild."""
    self.fieldnames.add(item[0])
    self.currentsize += 150 + len(item[0]) + 2 * len(item[1]) + len(item[4] or b"")
    if self.currentsize > self.limit:
        self.save()
    self.current.append(item)


if not getattr(writing.PostingPool, "_referralnet_patched", False):
    writing.PostingPool._referralnet_original = writing.PostingPool.add
    writing.PostingPool.add = _pool_add
    writing.PostingPool._referralnet_patched = True


_original_add_postings = whoosh3.W3FieldWriter.__dict__.get("_referralnet_original",
                                                             whoosh3.W3FieldWriter.add_postings)


def _add_postings(self, schema, lengths, items):
    """FieldWriter.add_postings (whoosh/codec/base.py) for the W3 codec, writing the same postings
    with less work per posting: a field's length column is looked up once per field rather than
    through `doc_field_length` per posting, and the posting is added without per-call type checks.
    A segment of a full rebuild holds a few hundred postings per document."""
    if lengths is not None and type(lengths) is not whoosh3.W3PerDocReader:
        return _original_add_postings(self, schema, lengths, items)
    from whoosh.codec.base import OutOfOrderError
    from whoosh.util.numeric import byte_to_length

    start_field, start_term = self.start_field, self.start_term
    finish_term, finish_field = self.finish_term, self.finish_field
    lastfn = lasttext = None
    column = add = None
    for fieldname, btext, docnum, weight, value in items:
        if lastfn is not None and fieldname < lastfn:
            raise OutOfOrderError("Field %r .. %r" % (lastfn, fieldname))
        if fieldname == lastfn and lasttext and btext < lasttext:
            raise OutOfOrderError("Term %s:%r .. %s:%r" % (lastfn, lasttext, fieldname, btext))
        if fieldname != lastfn:
            if lasttext is not None:
                finish_term()
            if lastfn is not None:
                finish_field()
            start_field(fieldname, schema[fieldname])
            add = self._postwriter.add_posting_unchecked
            column = None if lengths is None else lengths._cached_reader(whoosh3._lenfield(fieldname),
                                                                          whoosh3.LENGTHS_COLUMN)
            lastfn = fieldname
            lasttext = None
        if docnum == -1:
            continue
        if btext != lasttext:
            if lasttext is not None:
                finish_term()
            start_term(btext)
            lasttext = btext
        lbyte = column[docnum] if column is not None else 0
        add(docnum, weight, b"" if value is None else value, byte_to_length(lbyte) if lbyte else 0)
    if lasttext is not None:
        finish_term()
    if lastfn is not None:
        finish_field()


def _add_posting_unchecked(self, id_, weight, vbytes, length=None):
    """W3PostingsWriter.add_posting without its per-posting assertions (the same block contents)."""
    if len(self._ids) >= self._blocklimit:
        self._write_block()
    self._ids.append(id_)
    self._weights.append(weight)
    if weight > self._maxweight:
        self._maxweight = weight
    if vbytes:
        self._values.append(vbytes)
    if length:
        minlength = self._minlength
        if minlength is None or length < minlength:
            self._minlength = length
        if length > self._maxlength:
            self._maxlength = length


if not getattr(whoosh3.W3FieldWriter, "_referralnet_patched", False):
    whoosh3.W3PostingsWriter.add_posting_unchecked = _add_posting_unchecked
    whoosh3.W3FieldWriter._referralnet_original = whoosh3.W3FieldWriter.add_postings
    whoosh3.W3FieldWriter.add_postings = _add_postings
    whoosh3.W3FieldWriter._referralnet_patched = True


def _mini_ids(self):
    """W3PostingsWriter._mini_ids: a block's document numbers as gaps (the first one as is), by map
    rather than a generator step per posting (the same tuple)."""
    ids = self._ids
    if self._byteids:
        return tuple(ids)
    return tuple(map(operator.sub, ids, itertools.chain((0,), ids)))


def _mini_weights(self):
    """W3PostingsWriter._mini_weights: None when every weight is 1.0, the one weight when all are the
    same, else all of them; counted by the array itself (the same answer)."""
    weights = self._weights
    count = len(weights)
    if weights.count(1.0) == count:
        return None
    first = weights[0]
    if weights.count(first) == count:
        return first
    return tuple(weights)


if not getattr(whoosh3.W3PostingsWriter, "_referralnet_patched", False):
    # Whoosh's own, for tests/search/test_rebuild.py (the same minified block for any block).
    whoosh3.W3PostingsWriter._referralnet_originals = (whoosh3.W3PostingsWriter._mini_ids,
                                                       whoosh3.W3PostingsWriter._mini_weights)
    whoosh3.W3PostingsWriter._mini_ids = _mini_ids
    whoosh3.W3PostingsWriter._mini_weights = _mini_weights
    whoosh3.W3PostingsWriter._referralnet_patched = True
