"""Importers on real data: the official HSDS 3.0 examples, the San Mateo (Ohana) directory."""
from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import func, select

from referralnet.directory import models as m
from referralnet.directory.hsds import TABLES
from referralnet.directory.importer import ImportFailed, detect_format, import_path
from referralnet.directory.ohana import normalize_time, ohana_id
from referralnet.directory.sdoh import sdoh_terms


def counts(db) -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t.model)) for t in TABLES}


def test_ohana_san_mateo_import(db, shared):
    report = import_path(shared / "datasets/ohana-san-mateo")
    db.session.commit()
    assert report.created["organization"] == 8
    assert report.created["service"] == 23
    assert report.created["location"] == 22
    assert report.created["phone"] == 54
    assert report.created["taxonomy_term"] == 290 + len(sdoh_terms())
    # A known record, mapped field by field.
    center = db.session.get(m.Location, ohana_id("location", "1"))
    assert center.name == "Fair Oaks Adult Activity Center"
    assert center.latitude == pytest.approx(37.477227)
    assert {a.address_type for a in center.addresses} == {"physical", "postal"}
    service = db.session.get(m.Service, ohana_id("service", "1"))
    assert service.organization.name == "Peninsula Family Service"
    assert "Age 55 or over" in service.eligibility_description
    # 9am / 4:00 PM style hours are normalized.
    times = set(db.session.scalars(select(m.Schedule.closes_at)))
    assert "16:00" in times and "15:00" in times
    # Keywords map onto SDOH domains: meals -> food insecurity.
    food = sdoh_terms()["food-insecurity"]["id"]
    linked = set(db.session.scalars(select(m.Attribute.link_id).where(m.Attribute.taxonomy_term_id == food)))
    assert service.id in linked


def test_reimport_is_idempotent(db, shared):
    import_path(shared / "datasets/ohana-san-mateo")
    db.session.commit()
    before = counts(db)
    report = import_path(shared / "datasets/ohana-san-mateo")
    db.session.commit()
    assert counts(db) == before
    assert sum(report.created.values()) == 0
    assert sum(report.updated.values()) == 0
    assert sum(report.unchanged.values()) == sum(before.values())


def test_reimport_updates_changed_record(db, shared, tmp_path):
    src = tmp_path / "ohana"
    shutil.copytree(shared / "datasets/ohana-san-mateo", src)
    import_path(src)
    db.session.commit()
    text = (src / "organizations.csv").read_text()
    (src / "organizations.csv").write_text(text.replace(",Peninsula Volunteers,", ",Peninsula Volunteers Inc.,", 1))
    report = import_path(src)
    db.session.commit()
    assert report.updated["organization"] == 1
    assert db.session.get(m.Organization, ohana_id("organization", "2")).name == "Peninsula Volunteers Inc."
    assert db.session.scalar(select(func.count()).select_from(m.Organization)) == 8


@pytest.mark.parametrize("name", ["service_full.json", "organization_full.json", "service_at_location_full.json",
                                  "location.json", "service_list.json", "organization_list.json",
                                  "taxonomy.json", "taxonomy_list.json", "taxonomy_term.json",
                                  "taxonomy_term_list.json", "service_at_location_list.json", "tabular.json"])
def test_official_json_examples_import(db, shared, name):
    report = import_path(shared / "hsds/examples" / name)
    db.session.commit()
    assert sum(report.created.values()) >= 1
    # Importing again changes nothing.
    again = import_path(shared / "hsds/examples" / name)
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0


def test_service_full_example_keeps_nested_objects(db, shared):
    report = import_path(shared / "hsds/examples/service_full.json")
    db.session.commit()
    doc = json.loads((shared / "hsds/examples/service_full.json").read_text())
    service = db.session.get(m.Service, doc["id"])
    assert service.name == doc["name"]
    assert service.minimum_age == 12 and service.maximum_age == 100
    assert service.organization_id == doc["organization"]["id"]
    assert db.session.get(m.Phone, doc["phones"][0]["id"]).service_id == service.id
    assert db.session.get(m.CostOption, doc["cost_options"][0]["id"]).amount == doc["cost_options"][0]["amount"]
    attribute = db.session.get(m.Attribute, doc["attributes"][0]["id"])
    assert attribute.taxonomy_term_id == doc["attributes"][0]["taxonomy_term"]["id"]
    # The examples' placeholder coordinates (100, 101) are reported and dropped, not stored.
    assert any("latitude" in w and "coordinates ignored" in w for w in report.warnings)
    assert all(loc.latitude is None for loc in db.session.scalars(select(m.Location)))


def test_official_csv_example_reports_dangling_references(db, shared):
    report = import_path(shared / "hsds/examples/csv")
    db.session.commit()
    assert report.created["service"] == 1 and report.created["organization"] == 1
    dangling = [w for w in report.warnings if "neither in the import nor in the database" in w]
    # Each dangling reference is reported with its file, row and field.
    assert any(w.startswith("contacts.csv row 2, field 'organization_id'") for w in dangling)
    assert any(w.startswith("locations.csv row 2, field 'organization_id'") for w in dangling)
    assert any(w.startswith("organizations.csv row 2, field 'parent_organization_id'") for w in dangling)
    assert any(w.startswith("taxonomy_terms.csv row 2, field 'parent_id'") for w in dangling)
    assert report.skipped["contact"] == 1
    # The location stands on its own: kept, link cleared.
    assert db.session.scalar(select(m.Location.organization_id)) is None


def test_detect_format(shared):
    assert detect_format(shared / "datasets/ohana-san-mateo") == "ohana"
    assert detect_format(shared / "hsds/examples/csv") == "csv"
    assert detect_format(shared / "hsds/examples/service_full.json") == "json"


def _csv_package(tmp_path, shared):
    dst = tmp_path / "pkg"
    shutil.copytree(shared / "hsds/examples/csv", dst)
    return dst


def test_invalid_csv_changes_nothing_and_names_row_and_field(db, shared, tmp_path):
    import_path(shared / "datasets/ohana-san-mateo")
    db.session.commit()
    before = counts(db)
    pkg = _csv_package(tmp_path, shared)
    lines = (pkg / "services.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[16] == "minimum_age"
    good = lines[1]
    bad = good.replace(",12,100,", ",twelve,100,")
    (pkg / "services.csv").write_text("\n".join([lines[0], good.replace("ac148810", "bc148810"), bad]) + "\n")
    with pytest.raises(ImportFailed) as info:
        import_path(pkg)
    db.session.rollback()
    assert "services.csv row 3, field 'minimum_age': 'twelve' is not a whole number" in info.value.errors
    assert counts(db) == before


def test_invalid_enum_and_missing_required_field(db, shared, tmp_path):
    doc = json.loads((shared / "hsds/examples/service_full.json").read_text())
    doc["status"] = "open-ish"
    del doc["name"]
    path = tmp_path / "service.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ImportFailed) as info:
        import_path(path)
    errors = info.value.errors
    assert "service.json $, field 'status': 'open-ish' is not one of active, inactive, defunct, " \
           "temporarily closed" in errors
    assert "service.json $, field 'name': is required" in errors
    assert counts(db)["service"] == 0


def test_bad_nested_value_names_its_path(db, shared, tmp_path):
    doc = json.loads((shared / "hsds/examples/service_full.json").read_text())
    doc["schedules"][0]["opens_at"] = "25:99"
    path = tmp_path / "services.json"
    path.write_text(json.dumps([doc]))
    with pytest.raises(ImportFailed) as info:
        import_path(path)
    assert any(e.startswith("services.json $[0].schedules[0], field 'opens_at'") for e in info.value.errors)
    assert sum(counts(db).values()) == 0


def test_malformed_json_is_reported(db, tmp_path):
    path = tmp_path / "services.json"
    path.write_text('{"id": "x", ')
    with pytest.raises(ImportFailed) as info:
        import_path(path)
    assert info.value.errors[0].startswith("services.json: not valid JSON")


def test_conflicting_duplicate_ids_are_refused(db, shared, tmp_path):
    pkg = _csv_package(tmp_path, shared)
    lines = (pkg / "organizations.csv").read_text().splitlines()
    dup = lines[1].replace("Example Organization Inc.", "Another Name")
    (pkg / "organizations.csv").write_text("\n".join([lines[0], lines[1], dup]) + "\n")
    with pytest.raises(ImportFailed) as info:
        import_path(pkg)
    assert any("organizations.csv row 3, field 'name'" in e and "appears again (organizations.csv row 2)" in e
               for e in info.value.errors)


def test_failed_write_rolls_back_whole_import(db, shared, monkeypatch):
    """A failure half way through writing (some tables already flushed) leaves the database as it was."""
    from referralnet.directory import importer

    original = importer._upsert_batch
    calls = {"n": 0}

    def fail_on_third_table(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(*args)

    import_path(shared / "hsds/examples/service_full.json")
    db.session.commit()
    before = counts(db)
    monkeypatch.setattr(importer, "_upsert_batch", fail_on_third_table)
    with pytest.raises(RuntimeError):
        import_path(shared / "datasets/ohana-san-mateo")
    db.session.rollback()
    assert calls["n"] == 3
    assert counts(db) == before


def test_normalize_time():
    assert normalize_time("9am") == "09:00"
    assert normalize_time("4:00 PM") == "16:00"
    assert normalize_time("12pm") == "12:00"
    assert normalize_time("12am") == "00:00"
    assert normalize_time("08:30") == "08:30"


def test_cli_import_prints_summary_and_fails_cleanly(runner, shared, tmp_path):
    result = runner.invoke(args=["directory", "import", str(shared / "datasets/ohana-san-mateo")])
    assert result.exit_code == 0, result.output
    assert "organization" in result.output and "Import saved." in result.output
    from referralnet.audit.models import AuditLog
    from referralnet.extensions import db

    assert db.session.scalar(db.select(AuditLog.details).where(AuditLog.action == "directory.import")) \
        == {"format": "auto"}
    bad = tmp_path / "services.json"
    bad.write_text('[{"id": "s1", "name": "X", "status": "active", "minimum_age": "old"}]')
    result = runner.invoke(args=["directory", "import", str(bad)])
    assert result.exit_code == 1
    assert "services.json $[0], field 'minimum_age': 'old' is not a whole number" in result.output


def test_cli_shows_progress_on_large_inputs(runner, tmp_path):
    pkg = tmp_path / "big"
    pkg.mkdir()
    lines = ["id,name,description"] + [f"org-{i},Agency {i},Helps people" for i in range(2500)]
    (pkg / "organizations.csv").write_text("\n".join(lines) + "\n")
    result = runner.invoke(args=["directory", "import", str(pkg)])
    assert result.exit_code == 0, result.output
    assert "writing organization: 1000/2500" in result.output
    assert "writing organization: 2500/2500" in result.output
    assert "organization     2500" in result.output
