"""Import/export speed on synthetic HSDS 3.0 CSV packages.

    .venv/bin/python bench/import_bench.py [--services 10000] [--database-url URL]

Generates a package of N services (each with an organization share, one location, an address, a
phone, five weekly schedules and a language), then times: first import (all created), re-import
(all unchanged), a search index rebuild (rate in services/s), JSON export and CSV export.
The import is timed without the commit hook's indexing, which the rebuild line measures.
"""
from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
import uuid
from pathlib import Path

from referralnet import create_app
from referralnet.directory.exporter import export_csv, export_json
from referralnet.directory.hsds import BY_NAME
from referralnet.directory.importer import import_path
from referralnet.extensions import db
from referralnet.search.index import rebuild_index

WORDS = ("food pantry rent help shelter ride clinic legal aid job training utility bill senior meals "
         "counseling housing navigation benefits enrollment diapers clothing internet literacy").split()


def write_package(folder: Path, services: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    rows: dict[str, list[dict]] = {k: [] for k in ["organization", "service", "location", "service_at_location",
                                                   "address", "phone", "schedule", "language"]}
    ident = lambda: str(uuid.UUID(int=rng.getrandbits(128)))  # noqa: E731
    orgs = [ident() for _ in range(max(1, services // 5))]
    for org in orgs:
        rows["organization"].append({"id": org, "name": f"Agency {org[:8]}", "description": "A community agency."})
    for i in range(services):
        sid, lid = ident(), ident()
        org = orgs[i % len(orgs)]
        rows["service"].append({"id": sid, "organization_id": org, "name": " ".join(rng.sample(WORDS, 3)).title(),
                                "description": " ".join(rng.choices(WORDS, k=40)), "status": "active",
                                "minimum_age": str(rng.choice(["", "0", "18", "60"]))})
        rows["location"].append({"id": lid, "organization_id": org, "location_type": "physical",
                                 "name": f"Site {i}", "latitude": f"{37.4 + rng.random() * 0.3:.6f}",
                                 "longitude": f"{-122.5 + rng.random() * 0.3:.6f}"})
        rows["service_at_location"].append({"id": ident(), "service_id": sid, "location_id": lid})
        rows["address"].append({"id": ident(), "location_id": lid, "address_1": f"{i} Main St", "city": "San Mateo",
                                "state_province": "CA", "postal_code": "94401", "country": "US",
                                "address_type": "physical"})
        rows["phone"].append({"id": ident(), "service_id": sid, "number": f"650-555-{i % 10000:04d}"})
        for day in ["MO", "TU", "WE", "TH", "FR"]:
            rows["schedule"].append({"id": ident(), "service_id": sid, "freq": "WEEKLY", "byday": day,
                                     "opens_at": "09:00", "closes_at": "17:00"})
        rows["language"].append({"id": ident(), "service_id": sid, "name": "Spanish", "code": "es"})
    total = 0
    for name, records in rows.items():
        table = BY_NAME[name]
        with (folder / table.csv_file).open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=table.field_names)
            writer.writeheader()
            writer.writerows(records)
        total += len(records)
    return total


def timed(label: str, count: int, fn, unit: str = "rows"):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<28} {seconds:8.2f} s   {count / seconds:10,.0f} {unit}/s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        # The commit hook would index every imported service inside the timed import; time it apart.
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": str(tmp / "index"),
                          "SEARCH_AUTO_INDEX": False})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            (tmp / "pkg").mkdir()
            rows = write_package(tmp / "pkg", args.services)
            print(f"{args.services:,} services, {rows:,} rows in {url.split('://')[0]}")
            timed("import (all created)", rows, lambda: (import_path(tmp / "pkg"), db.session.commit()))
            timed("re-import (all unchanged)", rows, lambda: (import_path(tmp / "pkg"), db.session.commit()))
            timed("search index rebuild", args.services, rebuild_index, unit="services")
            timed("export json", rows, lambda: export_json(tmp / "json"))
            timed("export csv", rows, lambda: export_csv(tmp / "csv"))


if __name__ == "__main__":
    main()
