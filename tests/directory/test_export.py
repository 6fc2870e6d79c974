"""Export writes HSDS 3.0 that validates against the official schemas and round-trips exactly."""
from __future__ import annotations

import csv
import json

import pytest

from referralnet.directory.exporter import export_csv, export_json
from referralnet.directory.hsds import BY_LIST_KEY, TABLES
from referralnet.directory.importer import import_path
from tests.hsds_schema import schema_errors


def load_everything(db, shared):
    for source in [shared / "datasets/ohana-san-mateo", shared / "hsds/examples/service_full.json",
                   shared / "hsds/examples/csv"]:
        import_path(source)
    db.session.commit()


def wipe(db):
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def read_tree(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_json_export_validates_against_official_schemas(db, shared, tmp_path):
    load_everything(db, shared)
    counts = export_json(tmp_path / "out")
    assert counts["services.json"] == 24 and counts["organizations.json"] == 9
    checked = 0
    for file in (tmp_path / "out").glob("*.json"):
        table = BY_LIST_KEY[file.stem]
        for document in json.loads(file.read_text()):
            errors = schema_errors(document, f"{table.name}.json")
            assert not errors, f"{file.name} {document['id']}: {errors}"
            checked += 1
    assert checked > 30


def test_json_export_nests_each_row_once(db, shared, tmp_path):
    load_everything(db, shared)
    export_json(tmp_path / "out")
    services = json.loads((tmp_path / "out/services.json").read_text())
    sal_ids = [sal["id"] for s in services for sal in s.get("service_at_locations", [])]
    assert len(sal_ids) == len(set(sal_ids))
    orgs = json.loads((tmp_path / "out/organizations.json").read_text())
    phone_ids = []

    def collect(doc):
        for key, value in doc.items():
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        if key == "phones":
                            phone_ids.append(item["id"])
                        collect(item)

    for doc in orgs + services:
        collect(doc)
    assert len(phone_ids) == len(set(phone_ids)) == 55


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_import_export_round_trip(db, shared, tmp_path, fmt):
    load_everything(db, shared)
    export = export_json if fmt == "json" else export_csv
    export(tmp_path / "first")
    wipe(db)
    report = import_path(tmp_path / "first")
    db.session.commit()
    assert sum(report.skipped.values()) == 0, report.warnings
    export(tmp_path / "second")
    first, second = read_tree(tmp_path / "first"), read_tree(tmp_path / "second")
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs after the round trip"


def test_csv_export_has_hsds_columns_in_order(db, shared, tmp_path):
    load_everything(db, shared)
    export_csv(tmp_path / "csv")
    official = {}
    with (shared / "hsds/schema/simple/schema.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["type"] != "array" and row["name"] not in {"taxonomy_term", "taxonomy", "program", "organization",
                                                                "location"}:
                official.setdefault(row["table_name"], []).append(row["name"])
    for table in TABLES:
        header = (tmp_path / "csv" / table.csv_file).read_text().splitlines()[0].split(",")
        if table.name in official:
            # Same fields, same order, for every table HSDS defines.
            assert [h for h in header if h in official[table.name]] == \
                [f for f in official[table.name] if f in header], table.name
            assert set(official[table.name]) <= set(header), (table.name, set(official[table.name]) - set(header))
    package = json.loads((tmp_path / "csv/datapackage.json").read_text())
    assert {r["path"] for r in package["resources"]} == {t.csv_file for t in TABLES}


def test_cli_export(runner, shared, tmp_path):
    assert runner.invoke(args=["directory", "import", str(shared / "datasets/ohana-san-mateo")]).exit_code == 0
    result = runner.invoke(args=["directory", "export", str(tmp_path / "x"), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "services.csv: 23" in result.output
    assert (tmp_path / "x/services.csv").exists()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_confidential_places_export_no_address_or_coordinates(db, shared, tmp_path, fmt):
    from sqlalchemy import select

    from referralnet.directory import models as m

    import_path(shared / "datasets/ohana-san-mateo")
    loc = db.session.scalar(select(m.Location).where(m.Location.name == "Fair Oaks Adult Activity Center"))
    loc.address_confidential = True
    db.session.commit()
    (export_json if fmt == "json" else export_csv)(tmp_path / "out")
    everything = "".join(p.read_text() for p in (tmp_path / "out").iterdir())
    assert "2600 Middlefield Road" not in everything
    assert "37.477227" not in everything and "-122.213221" not in everything
    assert "Fair Oaks Adult Activity Center" in everything  # the place itself is still listed
