"""Search quality on judged queries: does the right agency come up in the first five results?

    .venv/bin/python bench/search_quality.py                 # every query set in bench/queries/
    .venv/bin/python bench/search_quality.py --failures      # + the build half's misses, for tuning
    .venv/bin/python bench/search_quality.py --datasets demo
    .venv/bin/python bench/search_quality.py --backend both --database-url postgresql+psycopg://...

The judged queries (bench/queries/*.csv: id, dataset, query, expected, note) are written as
patients and coordinators speak, each with every record a coordinator would accept as a right
answer. Datasets, each imported into its own fresh SQLite database and search index through the
real importer:

- `sf`: the San Francisco 211 export (../shared/datasets/sf-211/sf_211_directory_subset.csv);
- `dc`: the DC/MD/VA 211 export (dc_211_directory_subset.csv); for both, `expected` holds
  ResourceAgencyNum values of agencies or programs (directory.airs211.record_id);
- `demo`: the demo directory (seed_data); `expected` holds HSDS service or organization ids.

Each query is split into a half by a hash of its id: `build` (the lexicon was tuned against
these) and `held` (held back: never look at its misses while tuning). Per language and half it
prints success@5 (a right service in the first five), MRR@10 and the zero-result rate, for the
search service (`search_matches`: services ranked as the HSDS API and REST list them, one entry
per service) and for a plain BM25 baseline over the same documents (SQLite FTS5, porter
tokenizer, the query's words OR'd, same field weights), in the same run.

`--backend whoosh|postgres|both` chooses the search backend (search/backend.py): whoosh runs on
SQLite as above; postgres imports the dataset into the PostgreSQL database of `--database-url`
(its schema is dropped and recreated: use a scratch database) and searches its rows. With both,
each backend is scored on the same queries and the difference in success@5 is printed.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench")

from referralnet import create_app  # noqa: E402

SHARED = ROOT.parent / "shared"
QUERIES_DIR = ROOT / "bench" / "queries"
SEED = ROOT / "seed_data"
DATASETS = {
    "sf": [SEED / "sdoh_domains.json", SHARED / "datasets" / "sf-211" / "sf_211_directory_subset.csv"],
    "dc": [SEED / "sdoh_domains.json", SHARED / "datasets" / "sf-211" / "dc_211_directory_subset.csv"],
    "demo": [SEED / "sdoh_domains.json", SEED / "san-mateo-hsds", SEED / "demo-agencies-hsds"],
}
TOP = 5
MRR_DEPTH = 10


@dataclass
class Judged:
    id: str
    dataset: str
    query: str
    expected: list[str]
    language: str
    half: str


@dataclass
class Outcome:
    rank: int | None  # 1-based rank of the first right service within MRR_DEPTH, or None
    total: int
    top: list[str] = field(default_factory=list)  # the first services' names (for --failures)


def half_of(query_id: str) -> str:
    """A fixed split nobody chooses: the first byte of sha1(id) even -> build, odd -> held."""
    return "build" if hashlib.sha1(query_id.encode()).digest()[0] % 2 == 0 else "held"


def load_queries(folder: Path) -> list[Judged]:
    out = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                qid = row["id"].strip()
                language = "es" if qid.startswith("es") else "en"
                out.append(Judged(qid, row["dataset"].strip(), row["query"].strip(), row["expected"].split(),
                                  language, half_of(qid)))
    return out


def expected_ids(dataset: str, expected: list[str]) -> set[str]:
    if dataset in ("sf", "dc"):
        from referralnet.directory.airs211 import record_id

        return {record_id(x) for x in expected}
    return set(expected)


class Fts:
    """Plain BM25 over the same documents: FTS5 with the porter tokenizer, the words OR'd."""

    WEIGHTS = "3.0, 1.5, 2.0, 1.0, 1.0"  # name, organization, terms, description, eligibility

    def __init__(self, docs):
        self.con = sqlite3.connect(":memory:")
        self.con.executescript("""
            CREATE TABLE docs(rid INTEGER PRIMARY KEY, service_id TEXT, organization_id TEXT, name TEXT);
            CREATE VIRTUAL TABLE fts USING fts5(name, organization, terms, description, eligibility,
                                                tokenize='porter unicode61 remove_diacritics 2');
        """)
        for rid, doc in enumerate(docs, 1):
            self.con.execute("INSERT INTO docs VALUES (?,?,?,?)",
                             (rid, doc["service_id"], doc["organization_id"], doc["card"]["service_name"]))
            self.con.execute("INSERT INTO fts(rowid, name, organization, terms, description, eligibility) "
                             "VALUES (?,?,?,?,?,?)", (rid, doc["name"], doc["organization"], doc["terms"],
                                                      doc["description"], doc["eligibility"]))

    def search(self, text: str) -> list[tuple[str, str, str]]:
        words = [w for w in re.findall(r"\w+", text.lower()) if len(w) > 1]
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        rows = self.con.execute(
            f"SELECT d.service_id, d.organization_id, d.name FROM fts JOIN docs d ON d.rid = fts.rowid "
            f"WHERE fts MATCH ? ORDER BY bm25(fts, {self.WEIGHTS})", (match,)).fetchall()
        return _distinct(rows)


def _distinct(rows) -> list[tuple[str, str, str]]:
    seen, out = set(), []
    for service_id, org_id, name in rows:
        if service_id not in seen:
            seen.add(service_id)
            out.append((service_id, org_id, name))
    return out


def outcome(ranked: list[tuple[str, str, str]], right: set[str]) -> Outcome:
    rank = next((i for i, (sid, oid, _) in enumerate(ranked[:MRR_DEPTH], 1) if sid in right or oid in right), None)
    return Outcome(rank, len(ranked), [name for _, _, name in ranked[:TOP]])


def run_dataset(name: str, queries: list[Judged], backend: str = "whoosh",
                database_url: str | None = None) -> dict[str, tuple[Outcome, Outcome]]:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from referralnet.directory.importer import import_path
    from referralnet.extensions import db
    from referralnet.search.backend import current_backend
    from referralnet.search.documents import active_service_ids, documents_for
    from referralnet.search.service import SearchQuery, search_matches

    out = {}
    with tempfile.TemporaryDirectory(prefix=f"search-quality-{name}-") as tmp:
        url = database_url if backend == "postgres" else f"sqlite:///{Path(tmp) / 'q.db'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_BACKEND": backend,
                          "SEARCH_INDEX_DIR": str(Path(tmp) / "index"), "SEARCH_AUTO_INDEX": False,
                          "RATELIMIT_ENABLED": False, "TESTING": True})
        with app.app_context():
            if backend == "postgres":
                db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                db.session.commit()
            upgrade()
            start = time.perf_counter()
            for source in DATASETS[name]:
                import_path(source)
                db.session.commit()
            documents = current_backend().rebuild()
            fts = Fts(documents_for(active_service_ids()))
            print(f"  {name} [{backend}]: {documents} documents imported and indexed in "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
            times = []
            for q in queries:
                right = expected_ids(name, q.expected)
                t0 = time.perf_counter()
                matches = search_matches(SearchQuery(text=q.query))
                times.append(time.perf_counter() - t0)
                names = _names(matches)
                ranked = _distinct([(m.service_id, m.organization_id, names.get(m.service_id, "")) for m in matches])
                out[q.id] = (outcome(ranked, right), outcome(fts.search(q.query), right))
            times.sort()
            if times:
                print(f"  {name} [{backend}]: {len(times)} queries, p50 {times[len(times) // 2] * 1000:.1f} ms, "
                      f"p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms through search_matches", file=sys.stderr)
            db.session.remove()
            db.engine.dispose()
    return out


def _names(matches) -> dict[str, str]:
    from sqlalchemy import select

    from referralnet.directory.models import Service
    from referralnet.extensions import db

    ids = list(dict.fromkeys(m.service_id for m in matches[:TOP * 4]))
    return dict(db.session.execute(select(Service.id, Service.name).where(Service.id.in_(ids))).all()) if ids else {}


def summarize(queries: list[Judged], results: dict[str, tuple[Outcome, Outcome]]) -> list[str]:
    groups: dict[tuple[str, str], list[Judged]] = defaultdict(list)
    for q in queries:
        if q.id in results:
            groups[(q.language, q.half)].append(q)
            groups[(q.language, "all")].append(q)
    lines = [f"{'language':8} {'half':5} {'n':>4}   {'success@5':>9} {'MRR@10':>7} {'zero':>6}   "
             f"{'BM25 s@5':>8} {'MRR@10':>7} {'zero':>6}"]
    for key in sorted(groups, key=lambda k: (k[0], ["build", "held", "all"].index(k[1]))):
        qs = groups[key]
        row = [f"{key[0]:8} {key[1]:5} {len(qs):>4}  "]
        for which in (0, 1):
            outs = [results[q.id][which] for q in qs]
            s5 = sum(o.rank is not None and o.rank <= TOP for o in outs) / len(outs)
            mrr = sum(1 / o.rank for o in outs if o.rank) / len(outs)
            zero = sum(o.total == 0 for o in outs) / len(outs)
            row.append(f" {s5:>9.3f} {mrr:>7.3f} {zero:>6.1%}  ")
        lines.append("".join(row).rstrip())
    return lines


def success_at_top(queries: list[Judged], results: dict[str, tuple[Outcome, Outcome]]) -> dict[tuple[str, str], float]:
    """success@5 of the search service per (language, half), "all" included."""
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for q in queries:
        if q.id in results:
            for half in (q.half, "all"):
                groups[(q.language, half)].append(results[q.id][0])
    return {k: sum(o.rank is not None and o.rank <= TOP for o in v) / len(v) for k, v in groups.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--queries", type=Path, default=QUERIES_DIR, help="folder of judged query CSV files")
    ap.add_argument("--failures", action="store_true",
                    help="list the build half's misses (never the held half's: it stays unseen while tuning)")
    ap.add_argument("--backend", choices=["whoosh", "postgres", "both"], default="whoosh",
                    help="the search backend scored (both: each, on the same queries)")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                    help="a scratch PostgreSQL database for the postgres backend (its schema is recreated)")
    args = ap.parse_args()
    backends = ["whoosh", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not (args.database_url or "").startswith("postgresql"):
        ap.error("--backend postgres needs --database-url postgresql+psycopg://... (or BENCH_DATABASE_URL)")
    queries = [q for q in load_queries(args.queries) if q.dataset in args.datasets]
    scores: dict[str, dict[tuple[str, str], float]] = {}
    for backend in backends:
        results: dict[str, tuple[Outcome, Outcome]] = {}
        for name in args.datasets:
            subset = [q for q in queries if q.dataset == name]
            if subset:
                results.update(run_dataset(name, subset, backend, args.database_url))
        print(f"search quality [{backend} backend]: {len(results)} judged queries ({', '.join(args.datasets)}); "
              f"search service (left) vs plain BM25-OR over FTS5 (right)")
        for line in summarize(queries, results):
            print(line)
        scores[backend] = success_at_top(queries, results)
    if len(backends) == 2:
        print("success@5 whoosh vs postgres (difference):")
        for key in sorted(scores["whoosh"], key=lambda k: (k[0], ["build", "held", "all"].index(k[1]))):
            a, b = scores["whoosh"][key], scores["postgres"].get(key, 0.0)
            print(f"  {key[0]:8} {key[1]:5} {a:.3f} vs {b:.3f} ({b - a:+.3f}){'' if abs(b - a) <= 0.03 else '  > 0.03'}")
    if args.failures:
        print("\nbuild-half misses (search service): id, dataset, query -> first results")
        for q in queries:
            if q.half == "build" and q.id in results:
                mine = results[q.id][0]
                if mine.rank is None or mine.rank > TOP:
                    print(f"  {q.id} [{q.dataset}] {q.query!r} (rank {mine.rank}, {mine.total} found) -> "
                          + " | ".join(mine.top))


if __name__ == "__main__":
    main()
