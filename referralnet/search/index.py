"""Opening, writing and rebuilding the Whoosh index.

Each host keeps its own index directory (SEARCH_INDEX_DIR). Writes take
Whoosh's lock file and wait for it (several worker processes may write);
readers keep a per-process searcher that is refreshed when the index changed.
The database is the source of truth: `rebuild_index` recreates every document
from it in one writer transaction, so readers see the old index until the new
one is complete. A rebuild's cost is mostly per posting (~150 per document)
and per term: each document's text is analysed once (schema.Analyzed), and each
distinct text value, schedule pattern and keyword value once per rebuild share
(schema.Memo, the bulk writer's memo); values the search reads per document
(coordinates, ages, ids, the name order) are columns without postings; keyword
fields with many words are handed over split, opening hours are a few blocks of
half hours (schema.slot_blocks), _bulk_writer.py groups a rebuild's postings by
term in memory and _whoosh_patch.py trims Whoosh's per-posting work;
`content_digest` shows the index is the same.
"""
from __future__ import annotations

import copy
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from flask import current_app
from whoosh import index as whoosh_index
from whoosh.analysis import RegexTokenizer
from whoosh.query import Term
from whoosh.writing import CLEAR

from referralnet.db import utcnow
from referralnet.search import _whoosh_patch  # noqa: F401  (indexing speed fix)
from referralnet.search import state
from referralnet.search.documents import active_service_ids, documents_for, prepare_documents
from referralnet.search.schema import ANALYZED, AnalyzedTEXT, Memo, build_schema, index_version

log = logging.getLogger(__name__)
WRITE_LOCK_TIMEOUT = 60.0
REBUILD_CHUNK = 2000  # services loaded per read transaction during a rebuild
PARALLEL_MIN_SERVICES = 2000  # fewer services: rebuilt in this process (starting workers costs more)
PRESPLIT = ("cells",)  # keyword fields with many words per document, split here (see add_document)
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


def index_exists(path: Path) -> bool:
    """Whether `path` holds a Whoosh index (whoosh.index.exists_in). A commit in another thread or process
    can replace the generation being read -- its table of contents is deleted once the next one is
    written -- between finding the file and opening it: then the newer generation is read instead of
    the FileNotFoundError escaping (as it did under a background applier's commits)."""
    return _reading_the_newest(whoosh_index.exists_in, path)


def open_dir(path: Path | str):
    """whoosh.index.open_dir, reading the newer generation when a commit replaces the one it found
    (the same race as index_exists)."""
    return _reading_the_newest(whoosh_index.open_dir, path)


_OPEN_ATTEMPTS = 5


def _reading_the_newest(read, path: Path | str):
    for _ in range(_OPEN_ATTEMPTS - 1):
        try:
            return read(str(path))
        except FileNotFoundError:
            continue
    return read(str(path))


def _open_index(path: Path, create_if_missing: bool):
    version_file = path / _VERSION_FILE
    if index_exists(path) and version_file.exists() and version_file.read_text() == index_version():
        return open_dir(path)
    if not create_if_missing:
        return None
    with _lock:
        if path.exists() and not (version_file.exists() and version_file.read_text() == index_version()):
            shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        if not index_exists(path):
            whoosh_index.create_in(str(path), build_schema())
            version_file.write_text(index_version())
    return open_dir(path)


def searcher():
    """A per-process searcher, reopened when any writer (this process or another) committed since."""
    from referralnet.search.sync import ensure_applier

    ensure_applier()  # a serving process follows the change table from its first search on
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
    that did not change (same segment id and documents): as they are when the deleted documents are the
    same, sharing their open files (`_with_deletions`) when the commit deleted more of their documents.
    After a commit that re-indexed a few services, only the new segment is opened: opening a segment
    reads its term table headers and column directory, most of the cost of the first query."""
    from whoosh.reading import EmptyReader, MultiReader, SegmentReader
    from whoosh.searching import Searcher

    if not hasattr(ix, "_read_toc") or not hasattr(ix, "storage"):
        return ix.searcher()

    def identity(segment):
        return segment.segment_id(), segment.doc_count_all()

    reusable = {}
    if previous is not None:
        for r, _ in previous.reader().leaf_readers():
            if type(r) is SegmentReader and not r.is_closed:
                reusable[identity(r.segment())] = r

    def reader_for(seg, generation):
        r = reusable.get(identity(seg))
        if r is not None:
            if r.segment().deleted_count() == seg.deleted_count():
                return r
            reused = _with_deletions(r, seg)
            if reused is not None:
                return reused
        return SegmentReader(ix.storage, info.schema, seg, generation=generation)

    for attempt in range(10):
        try:
            info = ix._read_toc()
            if not info.segments:
                return Searcher(EmptyReader(info.schema), fromindex=ix)
            readers = [reader_for(seg, info.generation) for seg in info.segments]
            reader = readers[0] if len(readers) == 1 else MultiReader(readers, generation=info.generation)
            return Searcher(reader, fromindex=ix)
        except IOError:  # a writer removed a file just as it was opened (what Whoosh's own reader does)
            if attempt == 9:
                raise
            time.sleep(0.05)
    return ix.searcher()


def _with_deletions(reader, segment):
    """A reader of `segment` sharing `reader`'s open files, term table and column readers: the same
    segment (same id and documents) whose only change is more deleted documents. Whoosh keeps a
    segment's deletions in the segment object of the table of contents, not in the segment's files,
    so only the segment object differs. Without this, the one old segment where a commit deleted a
    re-indexed service's document was opened again after each commit (its term table header and
    stored-fields directory are read in full: most of the cost of the first query after a commit).
    None when the reader is not laid out as expected (then the segment is opened again)."""
    from whoosh.codec.whoosh3 import W3PerDocReader

    perdoc = getattr(reader, "_perdoc", None)
    if type(perdoc) is not W3PerDocReader or not hasattr(reader, "_segment"):
        return None
    old_deleted = set(reader.segment().deleted_docs() or ())
    if not old_deleted <= set(segment.deleted_docs() or ()):
        return None  # deletions never shrink within a segment; be safe if they ever do
    new_perdoc = copy.copy(perdoc)
    new_perdoc._segment = segment
    new = copy.copy(reader)
    new.__dict__.pop("deleted_docs_set", None)  # a cached_property of the old deletions
    new._segment = segment
    new._perdoc = new_perdoc
    return new


def forget_searchers() -> None:
    with _lock:
        for _, s in _searchers.values():
            try:
                s.close()
            except Exception:  # noqa: BLE001 - closing a stale searcher must not fail a request
                pass
        _searchers.clear()


def update_services(service_ids: Iterable[str], session=None) -> int:
    """Re-index these services: delete their documents and add current ones. Returns documents written.

    Does not move the index's recorded database state (search/state.py): the change applier
    (search/sync.py) calls `write_services` with the writer it holds instead."""
    ids = sorted(set(service_ids))
    if not ids:
        return 0
    docs = list(documents_for(ids, session))
    ix = open_index()
    writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT)
    try:
        written = write_services(writer, ids, docs)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return written


def write_services(writer, ids: list[str], docs: list[dict]) -> int:
    for service_id in ids:
        writer.delete_by_term("service_id", service_id)
    for doc in docs:
        add_document(writer, doc)
    return len(docs)


def add_document(writer, doc: dict) -> None:
    """Add one document from `documents_for`: its text fields go in as the analysis made when the
    document was built (schema.Analyzed; the stored value stays the text), not analysed again."""
    fields = dict(doc)
    analyzed = fields.pop(ANALYZED, None) or {}
    schema = writer.schema
    for name, value in analyzed.items():
        field = schema[name] if name in schema else None
        if isinstance(field, AnalyzedTEXT):
            if field.stored:
                fields["_stored_" + name] = fields.get(name)
            fields[name] = value
    for name in PRESPLIT:
        # Whoosh takes a list of words as the field's tokens: the words its tokenizer would find.
        value, analyzer = fields.get(name), schema[name].analyzer if name in schema else None
        if isinstance(value, str) and type(analyzer) is RegexTokenizer and not analyzer.gaps:
            fields[name] = [m.group() for m in analyzer.expression.finditer(value)]
    writer.add_document(**fields)


def commit_holding_lock(writer, then: Callable[[], None], **commit_args) -> None:
    """Commit `writer`, then call `then()` before Whoosh's write lock is released: what `then` records
    about the commit (search/state.py) is written by the one process that made it, never interleaved."""
    lock, writer.writelock = writer.writelock, None
    try:
        writer.commit(**commit_args)
        then()
    finally:
        if lock is not None:
            lock.release()


def cancel_writer(writer) -> None:
    if not writer.is_closed:
        writer.cancel()


_ANY = object()


def rebuild_index(progress: Callable[[int, int], None] | None = None, session=None, expect=_ANY) -> int | None:
    """Recreate every document from the database and record the database state it reflects.

    Takes Whoosh's write lock for the whole rebuild (other writers wait; readers see the old
    index until the new one is committed). The change table's newest row is read before any
    document: changes committed meanwhile are applied again afterwards (re-indexing a service
    is idempotent). Large directories are built by SEARCH_REBUILD_PROCS processes at once, each
    loading its share of the services and writing its own segment. Returns the number of documents;
    None when `expect` (an IndexState, or None) is given and, once the lock is held, the recorded
    state is no longer it (another process rebuilt or applied meanwhile: nothing was done)."""
    from sqlalchemy.orm import Session

    from referralnet.extensions import db

    ix = open_index()
    writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT)  # holds the lock; commits the built segments
    if expect is not _ANY and state.read_state(index_dir()) != expect:
        writer.cancel()
        return None
    own = session is None
    s = Session(db.engine) if own else session
    try:
        position = state.database_position(s)
        holes = state.holes_below(s, position.max_id) if state.tracks_holes(s) else {}
        ids = active_service_ids(s)
        if own:
            s.rollback()  # no read transaction held open for the whole rebuild
        procs = max(1, int(current_app.config.get("SEARCH_REBUILD_PROCS", 2)))
        if procs > 1 and len(ids) >= PARALLEL_MIN_SERVICES:
            written = _rebuild_parallel(ix, writer, ids, procs, progress, s, own)
        else:
            written = _rebuild_serial(ix, writer, ids, s, progress, own)
    except BaseException:
        cancel_writer(writer)
        raise
    finally:
        if own:
            s.close()

    def record() -> None:
        state.write_state(index_dir(), state.IndexState(
            position.generation, position.max_id, position.max_at, holes,
            applied_at=utcnow().isoformat(), documents=written))

    _commit_segments(writer, record)
    if progress:
        progress(written, len(ids))
    return written


def _rebuild_serial(ix, writer, ids, session, progress, end_reads: bool) -> int:
    """Build every document in this process, as one new segment the caller's writer commits."""
    segment, written = _write_segment(ix, ids, session, end_reads, progress)
    writer._referralnet_segments = [segment] if segment is not None else []
    return written


def _rebuild_parallel(ix, writer, ids, procs: int, progress, session, end_reads: bool) -> int:
    """Build the documents in `procs` processes, each writing one segment of its share. The caller's
    writer (which holds the lock) then commits a table of contents of those segments, in share order
    (the same documents in the same order whichever process finished first).

    Workers are forked where the platform can: they start with this process's app, lexicon and
    tables already loaded (a spawned worker imported the app and rebuilt the lexicon first, ~2 CPU
    seconds) and open their own database connections. Every share is built by a forked worker, this
    process only waits: a worker's postings and memo (a few hundred MB, millions of small objects) are
    never freed one object at a time -- the worker is ended once its segment is written, and its memory
    goes back to the system at once (freeing them took ~5% of a process's rebuild) -- and a long-lived
    process that rebuilds (the change applier) does not keep a rebuild's worth of freed memory.
    Elsewhere workers are spawned with the app's configuration, and this process builds the first
    share meanwhile (a spawned worker takes seconds to start)."""
    import multiprocessing

    global _fork_app
    shares = [ids[i::procs] for i in range(procs)]
    forked = "fork" in multiprocessing.get_all_start_methods()
    if forked:
        ctx = multiprocessing.get_context("fork")
        prepare_documents(session)  # done once here rather than in each process
        if end_reads:
            session.rollback()
        _fork_app = current_app._get_current_object()
        config = None
        workers, own_share = shares, None
    else:
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited locks or connections
        config = {k: v for k, v in current_app.config.items()
                  if isinstance(v, (str, int, float, bool, type(None)))}
        config["SEARCH_AUTO_INDEX"] = False
        workers, own_share = shares[1:], shares[0]
    try:
        with ctx.Pool(len(workers)) as pool:
            others = pool.starmap_async(_build_segment, [(config, share) for share in workers])
            own = [_write_segment(ix, own_share, session, end_reads)] if own_share is not None else []
            results = own + others.get()
    finally:
        _fork_app = None
    segments = [segment for segment, _ in results if segment is not None]
    written = sum(count for _, count in results)
    if progress:
        progress(written, len(ids))
    writer._referralnet_segments = segments
    return written


_fork_app = None  # the app a forked rebuild worker works for (set by _rebuild_parallel before forking)


def _build_segment(config: dict | None, ids: list[str]):
    """In a worker process: write the documents of `ids` as one new segment (see `_write_segment`).
    `config` is None in a forked worker (the parent's app is used, with connections of its own). What
    the segment was built from is kept, not freed: the pool ends the worker when the rebuild is done."""
    from sqlalchemy.orm import Session

    from referralnet.extensions import db

    if config is None:
        app = _fork_app
        with app.app_context():
            db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
            with Session(db.engine) as s:
                return _write_segment(open_dir(app.config["SEARCH_INDEX_DIR"]), ids, s, True, keep=_kept)
    from referralnet import create_app

    app = create_app(config)
    with app.app_context(), Session(db.engine) as s:
        return _write_segment(open_dir(config["SEARCH_INDEX_DIR"]), ids, s, True, keep=_kept)


_kept: list = []  # in a rebuild worker: what its segment was built from (see _build_segment)


def _write_segment(ix, ids: list[str], session, end_reads: bool, progress=None, keep: list | None = None):
    """Write the documents of `ids` as one new segment, not yet in the index's table of contents (the
    process holding the write lock commits it). Returns (segment or None, documents). `keep`: a list
    the writer and the memo are put in rather than freed (a worker process about to be ended).

    Whoosh's posting pool is replaced by `_bulk_writer` (postings grouped by term in memory). The
    cyclic garbage collector is paused meanwhile: the segment's postings are millions of small
    tuples that live until it is written, and each full collection walked all of them again
    (a rebuild's cost per document grew with the directory's size). It is started again only once
    they are freed (its first collection would walk every one of them: ~0.5 s per 10,000 documents),
    and never in a worker that keeps them (`keep`)."""
    import gc

    from referralnet.search._bulk_writer import BulkSegmentWriter

    writer = BulkSegmentWriter(ix)
    memo = Memo()  # one for the whole share: what was worked out for a chunk serves the next ones
    if keep is not None:
        writer.pool.keep = True  # its postings are not emptied when the segment is closed
        keep.extend((writer, memo))
    written = 0
    collecting = gc.isenabled() and keep is None
    gc.disable()
    try:
        for start in range(0, len(ids), REBUILD_CHUNK):
            for doc in documents_for(ids[start:start + REBUILD_CHUNK], session, memo):
                add_document(writer, doc)
                written += 1
                if progress and written % 1000 == 0:
                    progress(written, len(ids))
            if end_reads:
                session.rollback()  # between chunks: SQLite's WAL can be checkpointed, PostgreSQL vacuumed
        if not written:
            writer._close_segment()
            return None, 0
        segment = writer._finalize_segment()
    except BaseException:
        writer._close_segment()  # not cancel(): that removes the temp folder the other processes write in
        raise
    finally:
        if collecting:
            writer.pool.cleanup()  # (Whoosh's writer can outlive this in a reference cycle: emptied first)
            writer._memo.clear()
            writer = memo = doc = None  # freed now, before the collector is back
            gc.enable()
    return segment, written


def _commit_segments(writer, then: Callable[[], None]) -> None:
    """Replace every segment of the index by the workers' segments (a CLEAR commit of them)."""
    lock, writer.writelock = writer.writelock, None
    try:
        writer._close_segment()
        writer._commit_toc(writer._referralnet_segments)
        writer._finish()
        then()
    finally:
        if lock is not None:
            lock.release()


def content_digest(ix) -> str:
    """A digest of everything the index holds: each field's terms with every document's weight and
    positions, field lengths, stored fields and sortable columns, keyed by document id rather than
    document number. Two indexes of the same documents have the same digest however many segments
    or processes built them (bench/rebuild_bench.py, tests)."""
    import hashlib
    import json

    h = hashlib.sha256()
    with ix.searcher() as s:
        r = s.reader()
        ids = {n: fields["id"] for n, fields in r.iter_docs()}
        h.update(json.dumps(sorted((ids[n], sorted(fields.items())) for n, fields in r.iter_docs()),
                            default=str).encode())
        # A spelling field is a word list: its postings all name its segment's first document.
        spelling = {field.spelling_fieldname(n) for n, field in r.schema.items() if field.separate_spelling()}
        for name in sorted(r.indexed_field_names()):
            if name in spelling:
                h.update(repr((name, sorted(r.lexicon(name)))).encode())
                continue
            h.update(f"{name} {sorted((ids[n], r.doc_field_length(n, name)) for n in ids)}".encode())
            for term in r.lexicon(name):
                m = r.postings(name, term)
                positions = m.supports("positions")
                rows = []
                while m.is_active():
                    rows.append((ids[m.id()], round(m.weight(), 6), m.value_as("positions") if positions else None))
                    m.next()
                h.update(repr((name, term, sorted(rows))).encode())
        for name in sorted(n for n in r.schema.names() if r.has_column(n)):
            column = r.column_reader(name)
            h.update(repr((name, sorted((ids[n], column[n]) for n in ids))).encode())
        h.update(repr(sorted(r.schema.names())).encode())
    return h.hexdigest()[:16]


def document_count() -> int:
    return searcher().doc_count()


def clear_index() -> None:
    """Remove every document (tests). The index then records no database state: the applier rebuilds it."""
    ix = open_index()
    writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT)
    commit_holding_lock(writer, lambda: state.forget_state(index_dir()), mergetype=CLEAR)


def has_service(service_id: str) -> bool:
    return searcher().search(Term("service_id", service_id), limit=1).scored_length() > 0
