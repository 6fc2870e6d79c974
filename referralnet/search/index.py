"""Opening, writing and rebuilding the Whoosh index.

Each host keeps its own index directory (SEARCH_INDEX_DIR). Writes take
Whoosh's lock file and wait for it (several worker processes may write);
readers keep a per-process searcher that is refreshed when the index changed.
The database is the source of truth: `rebuild_index` recreates every document
from it in one writer transaction, so readers see the old index until the new
one is complete.
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from flask import current_app
from whoosh import index as whoosh_index
from whoosh.query import Term
from whoosh.writing import CLEAR

from referralnet.search import _whoosh_patch  # noqa: F401  (indexing speed fix)
from referralnet.search.documents import active_service_ids, documents_for
from referralnet.search.schema import build_schema, index_version

log = logging.getLogger(__name__)
WRITE_LOCK_TIMEOUT = 60.0
_VERSION_FILE = "referralnet-schema-version"
_lock = threading.RLock()
_searchers: dict[str, tuple[int, object]] = {}


def index_dir() -> Path:
    return Path(current_app.config["SEARCH_INDEX_DIR"])


_indexes: dict[str, object] = {}


def open_index(create_if_missing: bool = True):
    """The index for this app, created empty (or recreated on a schema change) when needed."""
    path = index_dir()
    cached = _indexes.get(str(path))
    if cached is not None and (path / _VERSION_FILE).exists():
        return cached
    ix = _open_index(path, create_if_missing)
    if ix is not None:
        _indexes[str(path)] = ix
    return ix


def _open_index(path: Path, create_if_missing: bool):
    version_file = path / _VERSION_FILE
    if whoosh_index.exists_in(str(path)) and version_file.exists() and version_file.read_text() == index_version():
        return whoosh_index.open_dir(str(path))
    if not create_if_missing:
        return None
    with _lock:
        if path.exists() and not (version_file.exists() and version_file.read_text() == index_version()):
            shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        if not whoosh_index.exists_in(str(path)):
            whoosh_index.create_in(str(path), build_schema())
            version_file.write_text(index_version())
    return whoosh_index.open_dir(str(path))


def searcher():
    """A per-process searcher, reopened when any writer (this process or another) committed since."""
    key = str(index_dir())
    with _lock:
        ix = open_index()
        generation = ix.latest_generation()
        cached = _searchers.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        # The previous searcher is not closed here: another thread may still be reading with it.
        current = _open_searcher(ix, cached[1] if cached is not None else None)
        _searchers[key] = (generation, current)
        return current


def _open_searcher(ix, previous):
    """A searcher on the latest generation that reuses the previous searcher's readers of the segments
    that did not change (same segment id, same deleted documents). After a commit that re-indexed a
    few services, only the new segment and the segments with new deletions are opened again: opening
    a segment reads its term table headers and column directory, most of the cost of the first query."""
    from whoosh.reading import EmptyReader, MultiReader, SegmentReader
    from whoosh.searching import Searcher

    if not hasattr(ix, "_read_toc") or not hasattr(ix, "storage"):
        return ix.searcher()

    def identity(segment):
        return segment.segment_id(), segment.doc_count_all(), segment.deleted_count()

    reusable = {}
    if previous is not None:
        for r, _ in previous.reader().leaf_readers():
            if type(r) is SegmentReader and not r.is_closed:
                reusable[identity(r.segment())] = r
    for attempt in range(10):
        try:
            info = ix._read_toc()
            if not info.segments:
                return Searcher(EmptyReader(info.schema), fromindex=ix)
            readers = [reusable.get(identity(seg)) or SegmentReader(ix.storage, info.schema, seg,
                                                                     generation=info.generation)
                       for seg in info.segments]
            reader = readers[0] if len(readers) == 1 else MultiReader(readers, generation=info.generation)
            return Searcher(reader, fromindex=ix)
        except IOError:  # a writer removed a file just as it was opened (what Whoosh's own reader does)
            if attempt == 9:
                raise
            time.sleep(0.05)
    return ix.searcher()


def forget_searchers() -> None:
    with _lock:
        for _, s in _searchers.values():
            try:
                s.close()
            except Exception:  # noqa: BLE001 - closing a stale searcher must not fail a request
                pass
        _searchers.clear()


def update_services(service_ids: Iterable[str], session=None) -> int:
    """Re-index these services: delete their documents and add current ones. Returns documents written."""
    ids = sorted(set(service_ids))
    if not ids:
        return 0
    docs = list(documents_for(ids, session))
    ix = open_index()
    writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT)
    try:
        for service_id in ids:
            writer.delete_by_term("service_id", service_id)
        for doc in docs:
            writer.add_document(**doc)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return len(docs)


def rebuild_index(progress: Callable[[int, int], None] | None = None, session=None) -> int:
    """Recreate every document from the database. Returns the number of documents."""
    ix = open_index()
    ids = active_service_ids(session)
    writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT, procs=1, limitmb=256)
    written = 0
    try:
        for done, doc in enumerate(documents_for(ids, session), start=1):
            writer.add_document(**doc)
            written += 1
            if progress and done % 1000 == 0:
                progress(done, len(ids))
    except BaseException:
        writer.cancel()
        raise
    writer.commit(mergetype=CLEAR)
    if progress:
        progress(len(ids), len(ids))
    return written


def document_count() -> int:
    return searcher().doc_count()


def clear_index() -> None:
    """Remove every document (tests and `reindex` of an empty database)."""
    ix = open_index()
    writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT)
    writer.commit(mergetype=CLEAR)


def has_service(service_id: str) -> bool:
    return searcher().search(Term("service_id", service_id), limit=1).scored_length() > 0
