"""Imports from the careless user's side: files that are not UTF-8, mis-decoded text, rows that do
not fit their header, CRLF line endings, binary junk, and inputs too large to hold in memory.

Every bad file is refused with a message that names the file (and the row where there is one),
and nothing is written; every readable file is read exactly, and the summary says what was guessed.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import tracemalloc
import uuid

import pytest
from sqlalchemy import func, select

from referralnet.directory import models as m
from referralnet.directory.hsds import TABLES
from referralnet.directory.importer import ImportFailed, import_path
from referralnet.directory.ohana import ohana_id
from referralnet.directory.textfiles import repair_text

SPANISH = [
    ("org-1", "Despensa de Alimentos San José", "Comida gratis para familias; atención en español. ¿Necesita ayuda? "
                                                "Llame al 650-555-0100. Niños bienvenidos."),
    ("org-2", "Clínica Comunitaria Año Nuevo", "Servicios médicos y dentales para adultos mayores (más de 60 años)."),
    ("org-3", "Café y Compañía", "Empleo y capacitación — “Programa Puente” – cupos limitados."),
]


def counts(db) -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t.model)) for t in TABLES}


def write_csv(path, rows, *, encoding="utf-8", newline="\n"):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def organizations(tmp_path, *, encoding, rows=SPANISH, name="organizations.csv"):
    folder = tmp_path / f"pkg-{encoding}"
    folder.mkdir(exist_ok=True)
    write_csv(folder / name, [["id", "name", "description"], *rows], encoding=encoding)
    return folder


def org_names(db) -> dict[str, tuple[str, str]]:
    return {o.id: (o.name, o.description) for o in db.session.scalars(select(m.Organization))}


# --- encodings --------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_non_utf8_csv_is_detected_and_read_exactly(db, tmp_path, encoding):
    rows = SPANISH if encoding == "cp1252" else [r for r in SPANISH if r[0] != "org-3"]  # curly quotes: cp1252 only
    report = import_path(organizations(tmp_path, encoding=encoding, rows=rows))
    db.session.commit()
    assert org_names(db) == {i: (n, d) for i, n, d in rows}
    # Never silently: the summary names the file and the encoding it was read in.
    note = next(line for line in report.summary_lines() if line.startswith("organizations.csv: not UTF-8"))
    assert "read as cp1252" in note and "--encoding" in note
    # Correct accents are never "repaired".
    assert not report.repaired


def test_cli_encoding_override_and_its_mistakes(runner, db, tmp_path):
    folder = organizations(tmp_path, encoding="latin-1", rows=SPANISH[:2])
    result = runner.invoke(args=["directory", "import", str(folder), "--encoding", "latin-1"])
    assert result.exit_code == 0, result.output
    assert "organizations.csv: read as iso8859-1 (--encoding)" in result.output
    assert org_names(db)["org-1"][0] == "Despensa de Alimentos San José"

    # Saying UTF-8 for a Latin-1 file: refused with file, row and byte; no traceback, nothing written.
    db.session.execute(m.Organization.__table__.delete())
    db.session.commit()
    result = runner.invoke(args=["directory", "import", str(folder), "--encoding", "utf-8"])
    assert result.exit_code == 1
    assert "organizations.csv: byte 0xE9 on line 2 cannot be read as utf-8" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, UnicodeError)
    assert counts(db)["organization"] == 0

    result = runner.invoke(args=["directory", "import", str(folder), "--encoding", "klingon"])
    assert result.exit_code == 1
    assert "--encoding 'klingon' is not a character encoding" in result.output


@pytest.mark.parametrize("content, problem", [
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4, "spreadsheet workbook"),
    (b"id,name\n1,\x00\x01\x02\xff\xfe\x00\x00binary", "NUL bytes"),
    (bytes(range(128, 256)) * 64, "cannot be detected"),
])
def test_undetectable_or_binary_file_is_refused_by_name(db, runner, tmp_path, content, problem):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "organizations.csv").write_bytes(content)
    with pytest.raises(ImportFailed) as info:
        import_path(folder / "organizations.csv")
    assert any(e.startswith("organizations.csv: ") and problem in e for e in info.value.errors), info.value.errors
    result = runner.invoke(args=["directory", "import", str(folder)])
    assert result.exit_code == 1 and "organizations.csv: " in result.output and "Traceback" not in result.output
    assert sum(counts(db).values()) == 0


def test_real_211_export_saved_as_cp1252_reimports_unchanged(db, shared, tmp_path):
    """The DC 211 export (curly quotes, dashes) re-saved in Windows-1252 reads back exactly."""
    source = shared / "datasets/sf-211/dc_211_directory_subset.csv"
    first = import_path(source)
    db.session.commit()
    assert not first.repaired
    converted = tmp_path / source.name
    converted.write_bytes(source.read_text(encoding="utf-8").encode("cp1252"))
    again = import_path(converted)
    db.session.commit()
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    assert sum(again.unchanged.values()) == sum(first.created.values())
    assert any(n.startswith(f"{source.name}: not UTF-8") and "read as cp1252" in n for n in again.notes)


def test_ohana_folder_with_a_cp1252_file(db, shared, tmp_path):
    src = tmp_path / "ohana"
    shutil.copytree(shared / "datasets/ohana-san-mateo", src)
    text = (src / "organizations.csv").read_text()
    assert ",Peninsula Volunteers," in text
    (src / "organizations.csv").write_bytes(
        text.replace(",Peninsula Volunteers,", ",Voluntarios de la Península – Año 2024,", 1).encode("cp1252"))
    report = import_path(src)
    db.session.commit()
    assert db.session.get(m.Organization, ohana_id("organization", "2")).name == \
        "Voluntarios de la Península – Año 2024"
    assert any(n.startswith("organizations.csv: not UTF-8") for n in report.notes)


def test_json_that_is_not_utf8(db, tmp_path):
    path = tmp_path / "organizations.json"
    path.write_bytes(json.dumps([{"id": "o1", "name": "Clínica Año", "description": "Médicos"}], ensure_ascii=False).encode("latin-1"))
    with pytest.raises(ImportFailed) as info:
        import_path(path)
    assert info.value.errors[0].startswith("organizations.json: not valid JSON (it is not UTF-8")
    assert counts(db)["organization"] == 0
    import_path(path, encoding="latin-1")
    assert db.session.get(m.Organization, "o1").name == "Clínica Año"


# --- mis-decoded text -------------------------------------------------------------------------

def link_sf_as_hsds(shared, tmp_path):
    """The real Link-SF file, byte for byte (Mac Roman, CR line endings, mojibake), with an id column
    and HSDS column names so that it is an HSDS locations.csv."""
    raw = (shared / "datasets/link-sf/locations.csv").read_bytes()
    records = list(csv.reader(io.StringIO(raw.decode("latin-1"), newline="")))
    header = ["id" if h == "phone" else {"notes": "description", "lat": "latitude", "long": "longitude"}.get(h, h)
              for h in records[0]]
    rows = [[str(uuid.uuid5(uuid.NAMESPACE_URL, f"link-sf:{n}")) if h == "phone" else v
             for h, v in zip(records[0], r)] for n, r in enumerate(records[1:]) if r]
    folder = tmp_path / "link-sf"
    folder.mkdir()
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r").writerows([header, *rows])
    (folder / "locations.csv").write_bytes(buffer.getvalue().encode("latin-1"))
    assert b"\x89\xdb\xaa" in (folder / "locations.csv").read_bytes()  # still the file's own bytes
    return folder


def test_link_sf_mojibake_is_repaired_and_counted(db, shared, tmp_path, runner):
    folder = link_sf_as_hsds(shared, tmp_path)
    result = runner.invoke(args=["directory", "import", str(folder)])
    assert result.exit_code == 0, result.output
    assert "locations.csv: not UTF-8" in result.output and "read as mac_roman" in result.output
    assert "Repaired mis-decoded text (mojibake) in 3 value(s)" in result.output
    names = set(db.session.scalars(select(m.Location.name)))
    assert "Community Awareness & Treatment Services, Inc. (CATS) - A Woman\u2019s Place" in names
    descriptions = " ".join(filter(None, db.session.scalars(select(m.Location.description))))
    assert "primary needs\u2013 escaping the cold" in descriptions
    assert not any(ch in descriptions + " ".join(names) for ch in "\u2030\u00db\u00e2\u20ac")
    # Imported again (already repaired in the database): all unchanged.
    again = runner.invoke(args=["directory", "import", str(folder)])
    assert "location        0        0         89        0" in again.output


def test_utf8_mojibake_is_repaired_but_correct_text_is_not(db, tmp_path):
    rows = [("o1", "CafÃ© para niÃ±os", "AtenciÃ³n en espaÃ±ol â€“ sin costo"), *SPANISH]
    report = import_path(organizations(tmp_path, encoding="utf-8", rows=rows))
    db.session.commit()
    names = org_names(db)
    assert names["o1"] == ("Café para niños", "Atención en español – sin costo")
    assert {i: names[i] for i, _, _ in SPANISH} == {i: (n, d) for i, n, d in SPANISH}
    assert len(report.repaired) == 2
    assert "Repaired mis-decoded text (mojibake) in 2 value(s), for example:" in report.summary_lines()


@pytest.mark.parametrize("text", ["José Martí", "¿Dónde está la clínica?", "“quoted” – dash — ellipsis…",
                                  "ﬁnance ﬂoor", "ＡＢＣ", "Straße", "naïve façade", "日本語のサービス", "Ñandú",
                                  "e\u0301 (combining)", "© 2024 ™", "Mañana à la carte"])
def test_repair_leaves_correct_text_alone(text):
    assert repair_text(text) == text


def test_real_directories_need_no_repairs(db, shared):
    """The real data sets and the demo directory hold accents and typography, not mojibake."""
    for source in [shared / "datasets/ohana-san-mateo", shared / "datasets/sf-211/dc_211_directory_subset.csv",
                   shared / "datasets/sf-211/sf_211_directory_subset.csv", shared / "hsds/examples/csv"]:
        report = import_path(source)
        assert not report.repaired, (source, report.repair_examples)
        db.session.rollback()


# --- rows that do not fit their header --------------------------------------------------------

@pytest.mark.parametrize("layout", ["hsds", "ohana", "airs211"])
def test_rows_with_wrong_column_counts_name_file_and_row(db, shared, tmp_path, layout):
    if layout == "hsds":
        folder = organizations(tmp_path, encoding="utf-8")
        file = folder / "organizations.csv"
    elif layout == "ohana":
        folder = tmp_path / "ohana"
        shutil.copytree(shared / "datasets/ohana-san-mateo", folder)
        file = folder / "organizations.csv"
    else:
        folder = tmp_path / "sf"
        folder.mkdir()
        file = folder / "sf_211.csv"
        file.write_bytes((shared / "datasets/sf-211/sf_211_directory_subset.csv").read_bytes())
    lines = file.read_text().splitlines()
    lines[2] = lines[2] + ",an extra value"  # row 3: one value more than the header
    lines[3] = lines[3].rsplit(",", 2)[0]  # row 4: values missing at the end
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFailed) as info:
        import_path(folder)
    errors = info.value.errors
    assert any(e.startswith(f"{file.name} row 3: ") and "more than the header" in e for e in errors), errors
    assert any(e.startswith(f"{file.name} row 4: ") and "fewer than the header" in e for e in errors), errors
    assert sum(counts(db).values()) == 0


# --- line endings -----------------------------------------------------------------------------

def to_crlf(folder):
    for file in folder.glob("*.csv"):
        data = file.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        file.write_bytes(data)


def test_crlf_copy_of_the_same_data_reimports_unchanged(db, shared, tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    write_csv(folder / "organizations.csv", [["id", "name", "description"],
                                             ["o1", "Food Bank", "Line one\nLine two\n\nLine four"],
                                             ["o2", "Clínica", "Una línea\notra línea"]])
    ohana = tmp_path / "ohana"
    shutil.copytree(shared / "datasets/ohana-san-mateo", ohana)
    first = [import_path(folder), import_path(ohana)]
    db.session.commit()
    assert db.session.get(m.Organization, "o1").description == "Line one\nLine two\n\nLine four"
    to_crlf(folder)
    to_crlf(ohana)
    assert b'"Line one\r\nLine two\r\n\r\nLine four"' in (folder / "organizations.csv").read_bytes()
    again = [import_path(folder), import_path(ohana)]
    db.session.commit()
    for before, after in zip(first, again):
        assert sum(after.created.values()) == 0 and sum(after.updated.values()) == 0, after.summary_lines()
        assert sum(after.unchanged.values()) == sum(before.created.values())
    assert db.session.get(m.Organization, "o1").description == "Line one\nLine two\n\nLine four"


def test_json_line_breaks_are_normalized(db, tmp_path):
    path = tmp_path / "organizations.json"
    path.write_text(json.dumps([{"id": "o1", "name": "A", "description": "one\r\ntwo\rthree"}]))
    import_path(path)
    assert db.session.get(m.Organization, "o1").description == "one\ntwo\nthree"
    path.write_text(json.dumps([{"id": "o1", "name": "A", "description": "one\ntwo\nthree"}]))
    assert import_path(path).unchanged["organization"] == 1


# --- large inputs -----------------------------------------------------------------------------

def service_documents(n: int, bad_at: int | None = None):
    for i in range(n):
        org = f"00000000-0000-4000-8000-{i // 4:012d}"
        doc = {"id": f"10000000-0000-4000-8000-{i:012d}", "name": f"Service {i}", "status": "active",
               "description": "Food, rent help and rides to the clinic. " * 8,
               "organization": {"id": org, "name": f"Agency {i // 4}", "description": "A community agency."},
               "phones": [{"id": f"20000000-0000-4000-8000-{i:012d}", "number": f"650-555-{i % 10000:04d}"}],
               "schedules": [{"id": f"3{d}000000-0000-4000-8000-{i:012d}", "freq": "WEEKLY", "byday": day,
                              "opens_at": "09:00", "closes_at": "17:00"} for d, day in enumerate(["MO", "WE", "FR"])],
               "service_at_locations": [{"id": f"40000000-0000-4000-8000-{i:012d}", "location": {
                   "id": f"50000000-0000-4000-8000-{i // 4:012d}", "name": f"Site {i // 4}", "location_type": "physical",
                   "latitude": 37.5, "longitude": -122.3,
                   "addresses": [{"id": f"60000000-0000-4000-8000-{i // 4:012d}", "address_1": f"{i // 4} Main St",
                                  "city": "San Mateo", "state_province": "CA", "postal_code": "94401",
                                  "country": "US"}]}}]}
        if i == bad_at:
            doc["schedules"][1]["opens_at"] = "9 a.m."
        yield doc


def write_json_list(path, docs):
    with path.open("w") as fh:
        fh.write("[")
        for i, doc in enumerate(docs):
            fh.write(("," if i else "") + json.dumps(doc, indent=1))
        fh.write("]")


def test_large_json_streams_in_flat_memory(db, tmp_path):
    """6,000 nested services (~10 MB): imported in a fraction of the memory that merely loading the
    file whole takes (the importer used to hold it whole, and every row of it twice), then
    re-imported as all unchanged."""
    path = tmp_path / "services.json"
    write_json_list(path, service_documents(6000))
    tracemalloc.start()
    try:
        json.loads(path.read_text())
        _, loading_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        report = import_path(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    db.session.commit()
    assert report.created["service"] == 6000 and report.created["organization"] == 1500
    assert report.created["schedule"] == 18000 and report.created["address"] == 1500
    assert counts(db)["location"] == 1500
    assert peak < loading_peak / 2, (peak, loading_peak)
    again = import_path(path)
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    assert again.unchanged["service"] == 6000


def test_error_at_the_end_of_a_large_file_writes_nothing(db, tmp_path, runner):
    path = tmp_path / "services.json"
    write_json_list(path, service_documents(3000, bad_at=2990))
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code == 1
    assert "services.json $[2990].schedules[1], field 'opens_at': '9 a.m.' is not a time of day" \
        in result.output
    assert sum(counts(db).values()) == 0


def test_paged_api_response_and_tabular_json_stream_too(db, tmp_path):
    docs = list(service_documents(30))
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"total_items": 30, "page_number": 1, "contents": docs}))
    assert import_path(page).created["service"] == 30
    tabular = tmp_path / "tabular.json"
    tabular.write_text(json.dumps({"organizations.csv": [{"id": "o-t", "name": "Tabular Org", "description": "D"}],
                                   "services.csv": [{"id": "s-t", "name": "Tabular", "organization_id": "o-t",
                                                     "status": "active"}]}))
    report = import_path(tabular)
    assert report.created["service"] == 1 and report.created["organization"] == 1
