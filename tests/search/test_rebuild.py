"""A full rebuild's shortcuts build the index plain Whoosh would build from the same documents.

The rebuild analyses each document's text once (schema.Analyzed: concept tags, postings, spelling
words and `body` from one analysis), hands some keyword fields over pre-split, writes postings
through lighter code paths (search/_whoosh_patch.py) and builds shares in several processes.
None of that may change what the index holds: these tests compare the index's content digest
(every term, weight, position, field length, stored field and column, by document id) with an
index built from the same documents by Whoosh's own analysis and writer.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh import writing
from whoosh.codec import whoosh3

from referralnet.search import _whoosh_patch, index
from referralnet.search.concepts import _positions, concepts_for
from referralnet.search.documents import active_service_ids, documents_for
from referralnet.search.index import content_digest, open_index, rebuild_index
from referralnet.search.schema import ANALYZED, TEXT_FIELDS, build_schema, document_schema


@pytest.fixture(autouse=True)
def whoosh_backend(app, monkeypatch, whoosh_only):
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "whoosh")


def plain_whoosh_index(path, monkeypatch):
    """The same documents as text, through Whoosh's own analysis and unpatched writer code."""
    with monkeypatch.context() as mp:
        mp.setattr(whoosh3.W3FieldWriter, "add_postings", _whoosh_patch._original_add_postings)
        mp.setattr(writing.PostingPool, "add", _whoosh_patch._original_pool_add)
        path.mkdir()
        ix = whoosh_index.create_in(str(path), build_schema())
        writer = ix.writer()
        for doc in documents_for(active_service_ids()):
            doc.pop(ANALYZED)
            writer.add_document(**doc)
        writer.commit()
    return ix


def test_a_rebuild_indexes_what_whoosh_would_from_the_text(demo, tmp_path, monkeypatch):
    documents = rebuild_index()
    assert documents > 50
    assert content_digest(open_index()) == content_digest(plain_whoosh_index(tmp_path / "plain", monkeypatch))


def test_the_one_analysis_gives_the_fields_own_tokens_and_concept_tags(demo):
    schema = document_schema()
    tagged = 0
    for doc in documents_for(active_service_ids()):
        analyzed = doc[ANALYZED]
        direct = {}
        for name in TEXT_FIELDS:
            words: dict[str, list[int]] = {}
            for t in schema[name].analyzer(doc[name] or "", positions=True, mode="index"):
                words.setdefault(t.text, []).append(t.pos)
            direct[name] = words
            if doc[name]:
                spelling = {t.text for t in schema[name].analyzer(doc[name], no_morph=True)}
                assert analyzed[name].spelling == spelling
        assert _positions(schema, doc, analyzed) == direct
        assert doc["concepts"] == ",".join(concepts_for(schema, {k: v for k, v in doc.items() if k != ANALYZED}))
        body = {}
        for t in schema["body"].analyzer(doc["body"], boosts=True):
            body[t.text] = body.get(t.text, 0.0) + t.boost
        mine = {}
        for text, _, boost in analyzed["body"].tokens:
            mine[text] = mine.get(text, 0.0) + boost
        assert mine == body
        tagged += bool(doc["concepts"])
    assert tagged  # the demo directory has documents with multi-word meanings to tag


@pytest.mark.parametrize("text", [
    "The food bank", "of the", "a b c Food", "I am at it", "U.S.A. e.g. 3.5 co-op foo*bar", "ÉCOLE Ñandú café",
    "it's 24/7 -- OK? the  END", "x", "Clinics, clinics and CLINIC: renters' rights", "",
])
def test_the_text_fields_words_and_stems_are_their_analyzers(text):
    """schema._analyze_field reads a StemmingAnalyzer's words from its tokenizer's matches and stems
    each word once (schema._plain_words, schema._Stems): the same words, positions (renumbered past
    stop words, the first kept word keeping its own) and stems as the analyzer's own filters."""
    from referralnet.search.schema import _analysis_for, _analyze_field

    schema = document_schema()
    for name in TEXT_FIELDS:
        analyzer = schema[name].analyzer
        plain, _ = _analysis_for(schema)[name]
        assert plain is not None  # the text fields' analyzer takes the short way
        assert plain(text) == [(t.text, t.pos) for t in analyzer(text, positions=True, no_morph=True)]
        analyzed, _ = _analyze_field(schema, name, text) if text else (None, None)
        if analyzed is not None:
            assert [(t, p) for t, p, _ in analyzed.tokens] == [(t.text, t.pos) for t in analyzer(text, positions=True)]


def test_a_documents_concept_tags_are_the_meanings_whose_query_matches_it(demo):
    """concepts_for tests each text field's value once against that field's phrases (one per
    meaning and field, concepts._field_meanings): the tags are the meanings whose whole query
    matches the document's positions, each meaning tried (no filing by word, nothing remembered)."""
    from referralnet.search.concepts import _matches, concept_queries

    schema = document_schema()
    queries = concept_queries(schema)
    docs = list(documents_for(active_service_ids()))
    assert any(doc["concepts"] for doc in docs)
    for doc in docs:
        positions = _positions(schema, doc, doc[ANALYZED])
        assert doc["concepts"] == ",".join(sorted(m for m, q in queries.items() if _matches(q, positions)))


def test_a_parallel_rebuild_holds_the_same_contents_as_a_serial_one(app, demo, monkeypatch):
    serial = rebuild_index()
    serial_digest = content_digest(open_index())
    monkeypatch.setattr(index, "PARALLEL_MIN_SERVICES", 1)
    monkeypatch.setitem(app.config, "SEARCH_REBUILD_PROCS", 2)
    assert rebuild_index() == serial
    assert len(open_index()._read_toc().segments) == 2  # one per share
    assert content_digest(open_index()) == serial_digest
    assert not (index.index_dir() / "MAIN.tmp").exists()  # the shared temp folder is removed at the end


def test_every_share_of_a_parallel_rebuild_is_built_by_a_worker_that_frees_nothing(app, demo, monkeypatch, tmp_path):
    """Forked workers build the shares and keep what they built from (the pool ends them); this process
    only waits, then commits: it neither grows by a rebuild's postings nor frees them one by one, and
    its garbage collector is left as it was."""
    import gc
    import multiprocessing
    import os

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("workers are forked only where the platform can")
    serial = rebuild_index()
    serial_digest = content_digest(open_index())
    monkeypatch.setattr(index, "PARALLEL_MIN_SERVICES", 1)
    monkeypatch.setitem(app.config, "SEARCH_REBUILD_PROCS", 2)
    write_segment = index._write_segment

    def noting(ix, ids, session, end_reads, progress=None, keep=None):
        segment, written = write_segment(ix, ids, session, end_reads, progress, keep)
        assert keep is index._kept and keep  # the writer and memo, kept
        assert not all(not terms for terms in keep[0].pool.fields.values())  # postings not emptied
        (tmp_path / f"{os.getpid()}").write_text(f"{written} {gc.isenabled()}")
        return segment, written

    monkeypatch.setattr(index, "_write_segment", noting)
    assert gc.isenabled()
    assert rebuild_index() == serial
    assert gc.isenabled()
    builders = {int(p.name): p.read_text().split() for p in tmp_path.iterdir()}
    assert len(builders) == 2 and os.getpid() not in builders
    assert sum(int(written) for written, _ in builders.values()) == serial
    assert {enabled for _, enabled in builders.values()} == {"False"}  # never collecting what they keep
    assert content_digest(open_index()) == serial_digest
    assert index._kept == []  # this process kept nothing


def test_a_serial_rebuild_frees_its_postings_before_the_collector_is_back(app, demo, monkeypatch):
    """In this process, the writer's postings and memo are freed before the garbage collector is
    started again (its first collection would walk every one of them)."""
    import gc

    from referralnet.search._bulk_writer import BulkSegmentWriter

    seen = []
    enable = gc.enable

    def enabling():
        objects = gc.get_objects()
        seen.append(sum(len(o) for o in objects if type(o) is index.Memo)
                    + sum(len(o.pool.fields) + len(o._memo) for o in objects if isinstance(o, BulkSegmentWriter)))
        enable()

    monkeypatch.setattr(gc, "enable", enabling)
    assert rebuild_index() > 0
    assert seen == [0] and gc.isenabled()  # nothing the rebuild remembered is alive when collecting again


def test_a_plain_text_document_is_still_analysed_by_the_field(demo, tmp_path):
    """A document without its analysis (an older caller) is indexed by the fields' own analyzers."""
    doc = next(iter(documents_for(active_service_ids()[:1])))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "a"), build_schema())
    with ix.writer() as w:
        index.add_document(w, doc)
    plain = {k: v for k, v in doc.items() if k != ANALYZED}
    ix2 = whoosh_index.create_in(str(tmp_path / "b"), build_schema())
    with ix2.writer() as w:
        index.add_document(w, plain)
    assert content_digest(ix) == content_digest(ix2)


def _whooshs_own_writing(mp) -> None:
    """Whoosh's own posting pool, postings writing and block minifying (not _whoosh_patch's)."""
    mp.setattr(writing.PostingPool, "add", writing.PostingPool._referralnet_original)
    mp.setattr(whoosh3.W3FieldWriter, "add_postings", whoosh3.W3FieldWriter._referralnet_original)
    mini_ids, mini_weights = whoosh3.W3PostingsWriter._referralnet_originals
    mp.setattr(whoosh3.W3PostingsWriter, "_mini_ids", mini_ids)
    mp.setattr(whoosh3.W3PostingsWriter, "_mini_weights", mini_weights)


def test_the_bulk_writer_writes_the_same_segment_files_as_whoosh(demo, tmp_path, monkeypatch):
    """_bulk_writer.BulkSegmentWriter (postings grouped by term, blocks filled at once) writes the
    same postings (with their block statistics) and term table, byte for byte, as Whoosh's
    SegmentWriter for the same documents (Whoosh's own writing code: without _whoosh_patch)."""
    import hashlib

    from whoosh.writing import SegmentWriter

    from referralnet.search._bulk_writer import BulkSegmentWriter

    docs = list(documents_for(active_service_ids())) * 3  # common terms span several 128-posting blocks
    assert len(docs) > 256
    files = {}
    for name, make in (("whoosh", lambda ix: SegmentWriter(ix, _lk=False, compound=False)),
                       ("bulk", lambda ix: BulkSegmentWriter(ix, compound=False))):
        (tmp_path / name).mkdir()
        with monkeypatch.context() as mp:
            if name == "whoosh":
                _whooshs_own_writing(mp)
            writer = make(whoosh_index.create_in(str(tmp_path / name), build_schema()))
            for doc in docs:
                index.add_document(writer, dict(doc))
            writer._commit_toc([writer._finalize_segment()])
        files[name] = {f.suffix: hashlib.sha256(f.read_bytes()).hexdigest()
                       for f in (tmp_path / name).iterdir() if f.name.startswith("MAIN_") and f.is_file()}
    assert set(files["bulk"]) == {".col", ".pst", ".trm"}
    # The .col file (stored fields and columns) differs between two of Whoosh's own builds (it is
    # written with the segment's random id); the digest compares its contents.
    assert {k: v for k, v in files["bulk"].items() if k != ".col"} == \
        {k: v for k, v in files["whoosh"].items() if k != ".col"}
    assert content_digest(whoosh_index.open_dir(str(tmp_path / "bulk"))) == \
        content_digest(whoosh_index.open_dir(str(tmp_path / "whoosh")))


def test_opening_hours_are_indexed_as_a_few_blocks_of_half_hours():
    """schema.slot_blocks: the fewest aligned blocks that are exactly the open half hours (the
    slots field was a third of a rebuild's postings as one term per half hour)."""
    from referralnet.directory.hours import WEEK_SLOTS, build_hours
    from referralnet.search.schema import slot_block_terms, slot_blocks

    def blocks(byday, opens, closes):
        numbers = build_hours([{"freq": "WEEKLY", "byday": byday, "opens_at": opens,
                                "closes_at": closes}]).weekly_slot_numbers()
        terms = slot_blocks(numbers)
        for n in range(WEEK_SLOTS):  # a half hour's 9 block terms meet the document's exactly when open
            assert bool(set(slot_block_terms(n)) & set(terms)) == (n in numbers)
        return numbers, terms

    numbers, terms = blocks("MO,TU,WE,TH,FR", "09:00", "17:00")
    assert (len(numbers), len(terms)) == (80, 20)
    numbers, terms = blocks("MO,TU,WE,TH,FR,SA,SU", "00:00", "23:59")
    assert (len(numbers), sorted(terms)) == (336, ["e20", "g4", "i0"])  # 0-255, 256-319, 320-335
    numbers, terms = blocks("SU", "22:00", "02:00")  # Sunday night into Monday: both ends of the week
    assert numbers == {332, 333, 334, 335, 0, 1, 2, 3} and sorted(terms) == ["c0", "c83"]


def test_a_rebuild_works_out_the_zip_time_zones_and_concept_queries_before_it_forks(demo):
    """documents.prepare_documents: what every rebuild process needs first is done once, in the
    process that forks the others (they start with it done)."""
    from sqlalchemy import select

    from referralnet.directory import models as m
    from referralnet.extensions import db
    from referralnet.geo import zip_place
    from referralnet.search import concepts
    from referralnet.search.documents import prepare_documents

    codes = set(db.session.scalars(select(m.Address.postal_code).where(m.Address.address_type == "physical")))
    assert codes
    zip_place.cache_clear()
    concepts._prepared.cache_clear()
    prepare_documents()
    assert zip_place.cache_info().currsize == len(codes)
    assert concepts._prepared.cache_info().currsize == 1
    misses = zip_place.cache_info().misses
    list(documents_for(active_service_ids()))
    assert zip_place.cache_info().misses == misses  # building the documents looked up no ZIP code again


def test_a_later_rebuild_reads_the_directorys_zip_places_from_the_cache_dir(app, demo, monkeypatch):
    """The places of the directory's ZIP codes are saved in CACHE_DIR (geo.load_zip_places): a rebuild
    in a later process answers the same without loading the package's ZIP table (~0.9 CPU s)."""
    from referralnet import geo
    from referralnet.search.documents import prepare_documents

    assert rebuild_index() > 0
    digest = content_digest(open_index())
    assert any(Path(app.config["CACHE_DIR"]).glob("zip-places-*.json"))
    monkeypatch.setattr(geo, "_saved_places", {})  # a later process: nothing looked up yet
    geo.zip_place.cache_clear()

    def no_table(code):
        raise AssertionError(f"the ZIP table was asked for {code}")

    monkeypatch.setattr(geo, "_zip_place_from_table", no_table)
    prepare_documents()
    assert rebuild_index() > 0
    assert content_digest(open_index()) == digest
    geo.zip_place.cache_clear()


def test_a_rebuild_tags_concepts_without_building_the_whole_need_lexicon(app, demo):
    """The concept tags need the lexicon's concepts only (understanding.need_concepts): a rebuild does
    not stem the lexicon's ~20,000 phrasing words on its serial path. The tags are the same."""
    from referralnet.search import concepts
    from referralnet.search.understanding import lexicon, need_concepts

    assert need_concepts() == lexicon().needs
    digest = content_digest(open_index()) if rebuild_index() else None
    lexicon.cache_clear()
    concepts._concept_queries.cache_clear()
    concepts._prepared.cache_clear()
    assert rebuild_index() > 0
    assert lexicon.cache_info().currsize == 0
    assert content_digest(open_index()) == digest
