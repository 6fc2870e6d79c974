"""Targeted speed fixes for whoosh-reloaded 2.7.x, applied once on import (same results, less work).

`W3PerDocReader._cached_reader` caches a field-length column reader only when the
column exists; when it does not (keyword and ID fields have no length column, and a
segment being written has none yet), it asks the disk again for every posting.
Building an index of 2,000 services made ~500,000 `stat` calls that way, most of the
time spent. Segments never change once written, so remembering "no column" gives
the same answers with one check per field.
"""
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


def _pool_add(self, item):
    """PostingPool.add without its per-posting type assertions (the same size estimate, so the same
    spills): called once per posting, several hundred times per document of a rebuild."""
    self.fieldnames.add(item[0])
    self.currentsize += 150 + len(item[0]) + 2 * len(item[1]) + len(item[4] or b"")
    if self.currentsize > self.limit:
        self.save()
    self.current.append(item)


if not getattr(writing.PostingPool, "_referralnet_patched", False):
    writing.PostingPool.add = _pool_add
    writing.PostingPool._referralnet_patched = True
