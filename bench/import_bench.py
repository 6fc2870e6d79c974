"""Import speed and memory on a large synthetic HSDS 3.0 JSON file (nested service documents).

    .venv/bin/python bench/import_bench.py [--services 45000] [--database-url URL] [--keep FILE]

Generates one `services.json` of N nested HSDS 3.0 service documents (45,000 ≈ 150 MB): the
synthetic Bay Area directory of bench/search_bench.py (its generator, same seed), each service
with its organization, its service_at_locations with their locations and addresses, phones,
schedules, languages, cost options and SDOH attributes nested as the HSDS API's full service
objects carry them (organizations and locations repeat in every service that shares them).

Then, into a fresh database (SQLite in a temp folder, or the PostgreSQL database given with
--database-url, emptied first), each in its own child process running the real
`flask directory import` command, so that peak memory is the import process's own
(ru_maxrss from wait4):

1. the SDOH taxonomy (`seed_data/sdoh_domains.json`, small; not timed);
2. the file: first import (all created);
3. the same file again (all unchanged).

It prints the file size, wall time (process start to exit, app start-up and the commit included),
rows/s and peak RSS of each run, and the command's summary. The search index is not updated
by these runs (`SEARCH_AUTO_INDEX` off): `flask search reindex` is a separate step, timed on
the last line in its own process.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

TARGET_SECONDS, TARGET_RSS_MB = 180, 1024
DOCUMENTS = ["Photo ID (any, expired is fine)", "Proof of address (a utility bill or a letter)",
             "Proof of income for the last 30 days, if any", "Medi-Cal or insurance card, if you have one"]


def write_services_json(path: Path, services: int, seed: int = 7) -> int:
    """Write N nested service documents to `path`; returns the number of HSDS rows they hold."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search_bench import bay_area_zips, generate  # noqa: PLC0415 - the bench's generator, reused

    pkg = generate(services, bay_area_zips(), seed)
    rows = pkg.rows
    by_service: dict[str, dict[str, list[dict]]] = {}
    for table in ("phone", "schedule", "language", "cost_option", "service_at_location"):
        for r in rows[table]:
            by_service.setdefault(r["service_id"], {}).setdefault(table, []).append(r)
    for r in rows["attribute"]:
        by_service.setdefault(r["link_id"], {}).setdefault("attribute", []).append(r)
    orgs = {o["id"]: o for o in rows["organization"]}
    locations = {loc["id"]: dict(loc) for loc in rows["location"]}
    for a in rows["address"]:
        locations[a["location_id"]].setdefault("addresses", []).append(_plain(a, "location_id"))
    rng = random.Random(seed)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i, service in enumerate(rows["service"]):
            children = by_service.get(service["id"], {})
            doc = _plain(service, "organization_id")
            doc["organization"] = orgs[service["organization_id"]]
            doc["service_at_locations"] = [
                {"id": sal["id"], "location": locations[sal["location_id"]]}
                for sal in children.get("service_at_location", [])]
            for table, key in (("phone", "phones"), ("schedule", "schedules"), ("language", "languages"),
                               ("cost_option", "cost_options"), ("attribute", "attributes")):
                doc[key] = [_plain(r, "service_id", "link_id", "link_entity") for r in children.get(table, [])]
            doc["contacts"] = [{"id": f"{service['id'][:24]}{rng.getrandbits(48):012x}",
                                "name": "Intake desk", "title": "Intake coordinator",
                                "email": f"intake{i}@example.org"}]
            county = (doc["service_at_locations"] or [{"location": {"name": "San Mateo"}}])[0]["location"]["name"]
            doc["service_areas"] = [{"id": f"{service['id'][:24]}{rng.getrandbits(48):012x}",
                                     "name": county.split(" – ")[-1], "extent_type": "text",
                                     "description": "Residents of the city and its neighbouring communities."}]
            doc["required_documents"] = [
                {"id": f"{service['id'][:24]}{rng.getrandbits(48):012x}", "document": document}
                for document in rng.sample(DOCUMENTS, rng.randint(1, 2))]
            count += 2 + sum(1 + len(loc["location"].get("addresses", [])) + 1
                             for loc in doc["service_at_locations"]) + sum(
                len(doc[k]) for k in ("phones", "schedules", "languages", "cost_options", "attributes",
                                      "contacts", "service_areas", "required_documents"))
            fh.write(("" if i == 0 else ",\n") + json.dumps(doc, ensure_ascii=False, indent=2))
        fh.write("\n]\n")
    return count


def _plain(record: dict, *drop: str) -> dict:
    """A generated row as HSDS JSON: empty strings left out, the parent link implied by nesting."""
    return {k: v for k, v in record.items() if k not in drop and v != ""}


def child_import(url: str, index_dir: str, target: str, *args: str) -> None:
    """Run in the child: the real `flask directory import` command, search auto-indexing off."""
    from referralnet import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": index_dir, "SEARCH_AUTO_INDEX": False})
    result = app.test_cli_runner().invoke(args=["directory", "import", target, *args])
    sys.stdout.write(result.output)  # click >= 8.2: stdout and stderr, as the operator sees them
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    raise SystemExit(result.exit_code)


def child_setup(url: str, index_dir: str) -> None:
    """Run in the child: an empty, migrated database."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from referralnet import create_app
    from referralnet.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": index_dir, "SEARCH_AUTO_INDEX": False})
    with app.app_context():
        if url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()


def child_reindex(url: str, index_dir: str) -> None:
    from referralnet import create_app
    from referralnet.search.index import rebuild_index

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": index_dir, "SEARCH_AUTO_INDEX": False})
    with app.app_context():
        print(f"{rebuild_index()} services indexed")


def run_child(*args: str, quiet: bool = False) -> tuple[float, float, str, float]:
    """Run this script in a child process; returns (wall seconds, peak RSS in MB, its output, CPU seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode and not quiet:
        print(output)
        raise SystemExit(f"child {' '.join(args[:2])} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime  # ru_maxrss: KiB on Linux


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("--child-"):
        kind, *rest = sys.argv[1:]
        {"--child-setup": child_setup, "--child-import": child_import, "--child-reindex": child_reindex}[kind](*rest)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=45_000, help="services in the file (45,000 ≈ 150 MB)")
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file in a temp folder; a PostgreSQL database is emptied")
    parser.add_argument("--keep", type=Path, default=None, help="also keep the generated file here")
    parser.add_argument("--no-reindex", action="store_true", help="skip the search index rebuild line")
    args = parser.parse_args()
    from referralnet.directory.sdoh import DOMAINS_FILE

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        index_dir = str(tmp / "index")
        data = args.keep or tmp / "services.json"
        start = time.perf_counter()
        rows = write_services_json(data, args.services)
        size_mb = data.stat().st_size / 1e6
        print(f"file: {data.name}, {args.services:,} services, {rows:,} HSDS rows, {size_mb:,.1f} MB "
              f"(generated in {time.perf_counter() - start:.0f} s)")
        print(f"database: {url.split('://')[0]}; machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}")
        run_child("--child-setup", url, index_dir)
        run_child("--child-import", url, index_dir, str(DOMAINS_FILE))
        verdicts = []
        for label in ("import (all created)", "re-import (all unchanged)"):
            load = os.getloadavg()[0]
            seconds, rss, output, cpu = run_child("--child-import", url, index_dir, str(data))
            ok = seconds <= TARGET_SECONDS and rss <= TARGET_RSS_MB
            verdicts.append(ok)
            print(f"{label:<26} {seconds:8.1f} s  {rows / seconds:9,.0f} rows/s  {size_mb / seconds:6.2f} MB/s  "
                  f"peak RSS {rss:7,.0f} MB  {'ok' if ok else 'OVER'} (target <= {TARGET_SECONDS} s, "
                  f"<= {TARGET_RSS_MB} MB)")
            print(f"{'':<26} CPU {cpu:.1f} s (user + system; the rest of the wall time is waiting for a core: "
                  f"load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            summary = [line for line in output.splitlines() if line.startswith(("total", "service ", "Import"))]
            for line in summary:
                print(f"    {line}")
        if not args.no_reindex:
            seconds, rss, output, cpu = run_child("--child-reindex", url, index_dir)
            print(f"{'search reindex (separate)':<26} {seconds:8.1f} s  {args.services / seconds:9,.0f} services/s"
                  f"  peak RSS {rss:7,.0f} MB  ({output.strip().splitlines()[-1]})")
        if not all(verdicts):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
