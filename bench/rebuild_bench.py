"""Whoosh full rebuild speed: documents/s, wall and CPU, for synthetic directories of N services.

    .venv/bin/python bench/rebuild_bench.py                      # 10,000 and 50,000 services, 2 processes
    .venv/bin/python bench/rebuild_bench.py --sizes 10000 --procs 1,2 --repeat 2
    .venv/bin/python bench/rebuild_bench.py --sizes 10000 --profile   # + cProfile of a 1-process rebuild
    .venv/bin/python bench/rebuild_bench.py --sizes 10000 --fingerprint  # + a digest of the index's contents

For each size it generates the search bench's synthetic Bay Area directory (bench/search_bench.py:
same generator, same seed), imports it with the real importer into an SQLite database (kept in
`--data-dir` between runs when given, so a before/after comparison rebuilds from the same rows),
then runs a full rebuild (`rebuild_index()`, what `flask search reindex` and the applier after a
restore run) in a fresh Python process per measurement, with `SEARCH_REBUILD_PROCS` set to each of
`--procs`. Per run it prints:

- documents and services, wall seconds of `rebuild_index()` and documents/s (the target: >= 1,000
  documents/s wall-clock on this 2-core machine at 10,000 and 50,000 services);
- CPU seconds of that process and every worker it started (user + system), and CPU seconds per
  1,000 documents: the machine is shared, so wall time depends on the others' load and CPU does not;
- the load average when the run started.

`--fingerprint` also prints a digest of everything the index holds (every field's terms with each
document's weight and positions, field lengths, stored fields and sortable columns, by document id
rather than document number): two builds of the same rows with the same digest hold the same index,
whatever the number of processes or the code that built them.
`--profile` runs one more 1-process rebuild under cProfile and prints the top functions by own time
and by cumulative time. Nothing outside the temp folder (or `--data-dir`) is written.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

TARGET_DOCS_PER_S = 1000


def _config(folder: Path, procs: int) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
            "SEARCH_INDEX_DIR": str(folder / f"search-index-{procs}"), "SEARCH_AUTO_INDEX": False,
            "SEARCH_REBUILD_PROCS": procs, "RATELIMIT_ENABLED": False, "TESTING": True}


def prepare(services: int, folder: Path, seed: int) -> None:
    """Generate and import the directory into folder/bench.db unless it is already there."""
    marker = folder / "bench.done"
    if marker.exists() and marker.read_text() == f"{services} {seed}":
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from flask_migrate import upgrade
    from search_bench import bay_area_zips, generate, load_directory  # noqa: PLC0415 - the bench's generator

    from referralnet import create_app

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.db").unlink(missing_ok=True)
    app = create_app(_config(folder, 1))
    with app.app_context():
        upgrade()
        start = time.perf_counter()
        print(f"  generating and importing {services:,} services ...", file=sys.stderr, flush=True)
        load_directory(generate(services, bay_area_zips(), seed), folder / "pkg")
        print(f"  imported in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        from referralnet.extensions import db

        db.session.remove()
        db.engine.dispose()
    marker.write_text(f"{services} {seed}")


def _cpu() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child(folder: Path, procs: int, profile: bool, fingerprint: bool) -> None:
    """In a fresh process: one full rebuild; prints one JSON line of what it measured."""
    import shutil

    from referralnet import create_app
    from referralnet.search.documents import active_service_ids
    from referralnet.search.index import rebuild_index

    config = _config(folder, procs)
    shutil.rmtree(config["SEARCH_INDEX_DIR"], ignore_errors=True)
    app = create_app(config)
    with app.app_context():
        from referralnet.extensions import db

        services = len(active_service_ids())
        db.session.remove()
        load = os.getloadavg()[0]
        cpu0, wall0 = _cpu(), time.perf_counter()
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            documents = prof.runcall(rebuild_index)
        else:
            documents = rebuild_index()
        wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
        digest = index_fingerprint() if fingerprint else None
    if profile:
        for key in ("tottime", "cumulative"):
            print(f"--- top 30 by {key} ---", file=sys.stderr)
            pstats.Stats(prof, stream=sys.stderr).sort_stats(key).print_stats(30)
    print(json.dumps({"documents": documents, "services": services, "wall": wall, "cpu": cpu, "load": load,
                      "fingerprint": digest}))


def index_fingerprint() -> str:
    from referralnet.search.index import content_digest, open_index

    return content_digest(open_index())


def run(folder: Path, procs: int, profile: bool = False, fingerprint: bool = False) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, __file__, "--child", str(folder), "--procs", str(procs)]
    if profile:
        cmd.append("--profile")
    if fingerprint:
        cmd.append("--fingerprint")
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000", help="comma-separated service counts")
    ap.add_argument("--procs", default="2", help="comma-separated SEARCH_REBUILD_PROCS values to measure")
    ap.add_argument("--repeat", type=int, default=1, help="rebuilds per size and process count")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="keep the generated databases here (reused when present) instead of a temp folder")
    ap.add_argument("--profile", action="store_true", help="also cProfile a 1-process rebuild (to stderr)")
    ap.add_argument("--fingerprint", action="store_true", help="print a digest of each built index's contents")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    procs_list = [int(p) for p in args.procs.split(",") if p.strip()]
    if args.child:
        child(args.child, procs_list[0], args.profile, args.fingerprint)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="rebuild-bench-") as tmp:
        base = args.data_dir or Path(tmp)
        print(f"{'services':>9} {'docs':>7} {'procs':>5} {'wall s':>7} {'docs/s':>7} {'CPU s':>7} "
              f"{'CPU s/1k docs':>13} {'load':>5}" + ("  fingerprint" if args.fingerprint else ""), flush=True)
        for size in sizes:
            folder = base / f"services-{size}-seed-{args.seed}"
            prepare(size, folder, args.seed)
            for procs in procs_list:
                for _ in range(args.repeat):
                    r = run(folder, procs, fingerprint=args.fingerprint)
                    rate = r["documents"] / r["wall"]
                    print(f"{size:>9,} {r['documents']:>7,} {procs:>5} {r['wall']:>7.1f} {rate:>7,.0f} "
                          f"{r['cpu']:>7.1f} {1000 * r['cpu'] / r['documents']:>13.2f} {r['load']:>5.2f}"
                          + (f"  {r['fingerprint']}" if args.fingerprint else "")
                          + ("" if rate >= TARGET_DOCS_PER_S else f"  (below {TARGET_DOCS_PER_S:,} docs/s)"),
                          flush=True)
            if args.profile:
                print(f"cProfile of a 1-process rebuild of {size:,} services (stderr):", flush=True)
                run(folder, 1, profile=True)


if __name__ == "__main__":
    main()
