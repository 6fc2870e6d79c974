"""A targeted speed fix for whoosh-reloaded 2.7.x, applied once on import.

`W3PerDocReader._cached_reader` caches a field-length column reader only when the
column exists; when it does not (keyword and ID fields have no length column, and a
segment being written has none yet), it asks the disk again for every posting.
Building an index of 2,000 services made ~500,000 `stat` calls that way, most of the
time spent. Segments never change once written, so remembering "no column" gives
the same answers with one check per field.
"""
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
