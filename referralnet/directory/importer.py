"""Import HSDS data: HSDS 3.0 JSON, HSDS 3.0 tabular CSV, the Ohana (HSDS 1.x) CSV layout and
the AIRS/211 CSV export.

Every reader turns its input into `Row`s (a table name, raw values and where the
row came from). `import_rows` then validates everything before writing anything:

1. each value is coerced to its column's type; a bad value is an error naming
   the file, the row and the field;
2. any error stops the import and nothing is written (`ImportFailed`);
3. rows whose foreign keys point at records neither in the input nor in the
   database are reported and skipped, as are rows that depend on them;
4. the rest is upserted by HSDS id, parents first, so re-importing the same data
   updates records instead of duplicating them.

The caller commits (the CLI command does, once).
"""
from __future__ import annotations

import csv
import json
import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import Date, Float, Integer, String, insert, select

from referralnet.db import UTCDateTime
from referralnet.directory import models as m
from referralnet.directory.hsds import (
    BY_CSV, BY_LIST_KEY, BY_NAME, IGNORED_TABLES, NESTED_OBJECTS, TABLES, Table,
)
from referralnet.errors import ValidationFailed
from referralnet.extensions import db

# Stable ids for nested objects that arrive without one, so re-imports match them again.
ID_NAMESPACE = uuid.UUID("6f1d3c52-8a4e-4e47-9a57-2f0e0c7b8d11")
MAX_ERRORS = 200
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
ENUMS: dict[tuple[str, str], tuple[tuple[str, ...], Callable[[str], str]]] = {
    ("service", "status"): (m.SERVICE_STATUSES, str.lower),
    ("location", "location_type"): (m.LOCATION_TYPES, str.lower),
    ("address", "address_type"): (m.ADDRESS_TYPES, str.lower),
    ("schedule", "freq"): (m.SCHEDULE_FREQS, str.upper),
}
# Optional links whose target may be missing: cleared (and reported) instead of skipping the row.
# A row is kept when it stands on its own without the link (a place without its organization, a
# term without its parent); rows that only exist as part of their parent (phones, addresses...) are skipped.
SOFT_REFERENCES = {("organization", "parent_organization_id"), ("taxonomy_term", "parent_id"),
                   ("taxonomy_term", "taxonomy_id"), ("service", "program_id"), ("location", "organization_id")}
DEFAULTS = {("service", "status"): "active", ("location", "location_type"): "physical",
            ("address", "address_type"): "physical"}
# Our own (non-HSDS) columns a reader may set. Only taken when the reader gives them, so importing
# plain HSDS never resets a partner's "accepting referrals" switch or a confidential flag.
EXTRA_COLUMNS = {("service", "accepting_referrals"), ("location", "address_confidential")}
LAYOUTS = ("HSDS 3.0 JSON (a document, a list of them, an HSDS API page or tabular JSON), "
           "an HSDS 3.0 CSV package (organizations.csv, services.csv, ...), the Ohana API CSV layout "
           "(organizations.csv, locations.csv, regular_schedules.csv, ...) and the AIRS/211 CSV export "
           "(a header with ResourceAgencyNum, TaxonomyLevelName, ParentAgencyNum, AgencyStatus, ...)")


class ImportFailed(ValidationFailed):
    """The input is invalid; `errors` lists every problem found (file, row, field). Nothing was written."""

    def __init__(self, message: str, errors: list[str]):
        super().__init__(message, errors)


@dataclass
class Row:
    table: str
    values: dict[str, Any]
    source: str  # "services.csv row 4", "service_full.json $.phones[0]"


@dataclass
class ImportReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reader-specific summary lines (excluded rows, ...)

    def summary_lines(self) -> list[str]:
        tables = [t.name for t in TABLES if any(c[t.name] for c in (self.created, self.updated,
                                                                      self.unchanged, self.skipped))]
        width = max([len(t) for t in tables] + [5])
        lines = [f"{'table':<{width}}  created  updated  unchanged  skipped"]
        for name in tables:
            lines.append(f"{name:<{width}}  {self.created[name]:>7}  {self.updated[name]:>7}  "
                         f"{self.unchanged[name]:>9}  {self.skipped[name]:>7}")
        lines.append(f"{'total':<{width}}  {sum(self.created.values()):>7}  {sum(self.updated.values()):>7}  "
                     f"{sum(self.unchanged.values()):>9}  {sum(self.skipped.values()):>7}")
        return lines + self.notes


Progress = Callable[[str, int, int], None]


# --- entry point ------------------------------------------------------------------------------

def import_path(path: str | Path, *, fmt: str = "auto", progress: Progress | None = None) -> ImportReport:
    """Import a file or folder of directory data. Raises ImportFailed (nothing written) on invalid
    input, and when the input is in none of the layouts ReferralNet understands."""
    path = Path(path)
    if not path.exists():
        raise ImportFailed(f"{path} does not exist.", [f"{path}: no such file or folder"])
    fmt = detect_format(path) if fmt == "auto" else fmt
    warnings: list[str] = []
    if fmt == "airs211":
        from referralnet.directory.airs211 import airs_files, read_airs211

        if not airs_files(path):
            raise _unrecognized(path, "no CSV file with the 211 export's columns")
        reading = read_airs211(path, warnings)
        report = import_rows(reading.rows, warnings=warnings, progress=progress)
        report.skipped.update(reading.skipped)
        report.notes.extend(reading.notes)
        return report
    if fmt == "ohana":
        from referralnet.directory.ohana import read_ohana

        rows = read_ohana(path, warnings)
    elif fmt == "csv":
        rows = read_csv_package(path, warnings)
    elif fmt == "json":
        rows = read_json_path(path, warnings)
    else:
        raise ImportFailed(f"Unknown format {fmt!r}.",
                           [f"format must be auto, json, csv, ohana or airs211, not {fmt!r}"])
    if not rows:
        raise _unrecognized(path, "no records found", warnings)
    return import_rows(rows, warnings=warnings, progress=progress)


def _unrecognized(path: Path, why: str, warnings: Iterable[str] = ()) -> ImportFailed:
    return ImportFailed(f"Nothing was imported from {path.name}: it is not in a layout ReferralNet understands "
                        f"({why}).", [*warnings, f"ReferralNet understands {LAYOUTS}."])


def detect_format(path: Path) -> str:
    """json, csv (HSDS 3.0 tabular), ohana (HSDS 1.x / Ohana API CSV) or airs211 (211 export CSV).
    Raises ImportFailed when the file or folder is in none of them."""
    from referralnet.directory.airs211 import airs_files

    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".csv":
            if airs_files(path):
                return "airs211"
            if path.stem.lower() in BY_CSV:
                return "csv"
            raise _unrecognized(path, "a CSV file that is neither an HSDS table nor a 211 export")
        if suffix == ".json":
            return "json"
        raise _unrecognized(path, f"a {suffix or 'suffix-less'} file; expected .json or .csv")
    names = {p.name.lower() for p in path.iterdir()}
    if names & {"regular_schedules.csv", "holiday_schedules.csv", "mail_addresses.csv"}:
        return "ohana"
    if airs_files(path):
        return "airs211"
    if any(n.removesuffix(".csv") in BY_CSV for n in names if n.endswith(".csv")):
        return "csv"
    if any(n.endswith(".json") for n in names):
        return "json"
    raise _unrecognized(path, "no HSDS JSON, HSDS CSV, Ohana or 211 files in the folder")


# --- readers ----------------------------------------------------------------------------------

def read_csv_package(path: Path, warnings: list[str]) -> list[Row]:
    """Read an HSDS 3.0 tabular package: one CSV per table, named as in the HSDS datapackage."""
    files = [path] if path.is_file() else sorted(path.glob("*.csv"))
    rows: list[Row] = []
    errors: list[str] = []
    for csv_path in files:
        stem = csv_path.stem.lower()
        if stem in IGNORED_TABLES:
            warnings.append(f"{csv_path.name}: {stem} is not kept by ReferralNet; file ignored")
            continue
        table = BY_CSV.get(stem)
        if table is None:
            warnings.append(f"{csv_path.name}: not an HSDS table name; file ignored")
            continue
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c.key for c in table.columns if c.key == "id" and c.key not in header]
            if missing:
                errors.append(f"{csv_path.name}: missing required column 'id'")
                continue
            unknown = [h for h in header if h not in table.field_names]
            if unknown:
                warnings.append(f"{csv_path.name}: unknown columns ignored: {', '.join(unknown)}")
            for line_no, record in enumerate(reader, start=2):
                if None in record:
                    errors.append(f"{csv_path.name} row {line_no}: more values than columns in the header")
                    continue
                values = {k: v for k, v in record.items() if k in table.field_names}
                rows.append(Row(table.name, values, f"{csv_path.name} row {line_no}"))
    if errors:
        raise ImportFailed("The CSV files are not valid HSDS 3.0 tabular data.", errors)
    return rows


def read_json_path(path: Path, warnings: list[str]) -> list[Row]:
    """Read one JSON file, or every .json file of a folder."""
    files = [path] if path.is_file() else sorted(p for p in path.glob("*.json") if p.name != "datapackage.json")
    rows: list[Row] = []
    errors: list[str] = []
    for json_path in files:
        try:
            data = json.loads(json_path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            errors.append(f"{json_path.name}: not valid JSON ({exc})")
            continue
        rows.extend(_read_json_document(data, json_path.name, warnings, errors))
    if errors:
        raise ImportFailed("The JSON input is not valid HSDS 3.0.", errors)
    return rows


def _read_json_document(data: Any, filename: str, warnings: list[str], errors: list[str]) -> list[Row]:
    rows: list[Row] = []
    # Tabular JSON: {"services.csv": [...], ...}
    if isinstance(data, dict) and data and all(str(k).endswith(".csv") for k in data):
        for key, records in data.items():
            stem = key.removesuffix(".csv").lower()
            if stem in IGNORED_TABLES:
                continue
            table = BY_CSV.get(stem)
            if table is None or not isinstance(records, list):
                warnings.append(f"{filename}: {key} is not an HSDS table; ignored")
                continue
            for i, record in enumerate(records):
                _walk(record, table, f"{filename} {key}[{i}]", None, rows, warnings, errors, top_level=True)
        return rows
    # An HSDS API page: {"total_items": .., "contents": [...]}
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        items, where = data["contents"], "contents"
    elif isinstance(data, list):
        items, where = data, ""
    elif isinstance(data, dict):
        items, where = [data], None
    else:
        errors.append(f"{filename}: expected an HSDS object, a list of them or a paged response")
        return rows
    for i, item in enumerate(items):
        source = f"{filename} $" + (f".{where}[{i}]" if where else (f"[{i}]" if where == "" else ""))
        table = guess_table(item, filename)
        if table is None:
            errors.append(f"{source}: cannot tell which HSDS object this is (name the file after it, "
                          f"for example services.json)")
            continue
        _walk(item, table, source, None, rows, warnings, errors, top_level=True)
    return rows


def guess_table(doc: Any, filename: str) -> Table | None:
    """Which HSDS object a top-level document is: from the file name first, then from its keys."""
    if not isinstance(doc, dict):
        return None
    stem = Path(filename).stem.lower()
    for table in sorted(TABLES, key=lambda t: -len(t.name)):  # service_at_location before service
        if stem.startswith(table.name) or stem.startswith(table.list_key):
            return table
    keys = set(doc)
    if "service_at_locations" in keys or ("status" in keys and "name" in keys):
        return BY_NAME["service"]
    if "location_type" in keys:
        return BY_NAME["location"]
    if "location" in keys and ("service" in keys or "service_id" in keys):
        return BY_NAME["service_at_location"]
    if keys & {"taxonomy_detail", "term_uri", "parent_id", "code"}:
        return BY_NAME["taxonomy_term"]
    if keys & {"organization_identifiers", "year_incorporated", "programs", "locations", "legal_status"}:
        return BY_NAME["organization"]
    if keys <= {"id", "name", "description", "uri", "version", "metadata"} and "name" in keys:
        return BY_NAME["taxonomy"]
    return None


def _walk(doc: Any, table: Table, source: str, parent: tuple[str, str] | None, rows: list[Row],
          warnings: list[str], errors: list[str], *, top_level: bool = False, index_key: str = "") -> str | None:
    """Flatten one nested HSDS document into rows; returns its id."""
    if not isinstance(doc, dict):
        errors.append(f"{source}: expected an object for {table.name}, got {type(doc).__name__}")
        return None
    values: dict[str, Any] = {}
    children: list[tuple[str, Any]] = []
    for key, val in doc.items():
        if key in table.field_names:
            values[key] = val
        elif key in BY_LIST_KEY and isinstance(val, list):
            children.append((key, val))
        elif key in NESTED_OBJECTS and isinstance(val, dict):
            children.append((key, val))
        elif val not in (None, [], {}):
            warnings.append(f"{source}: field '{key}' is not part of {table.name}; ignored")
    if parent is not None:
        parent_table, parent_id = parent
        if table.name == "attribute":
            values.setdefault("link_id", parent_id)
            values.setdefault("link_entity", parent_table)
            values.setdefault("link_type", None)
        elif table.name == "metadata":
            values.setdefault("resource_id", parent_id)
            values.setdefault("resource_type", parent_table)
        elif f"{parent_table}_id" in table.field_names and not values.get(f"{parent_table}_id"):
            values[f"{parent_table}_id"] = parent_id
        elif parent_table == "organization" and table.name == "organization":
            values.setdefault("parent_organization_id", parent_id)
    if not values.get("id"):
        if top_level or parent is None:
            errors.append(f"{source}, field 'id': is required")
            return None
        values["id"] = str(uuid.uuid5(ID_NAMESPACE, f"{parent[0]}:{parent[1]}:{table.name}:{index_key}"))
    doc_id = str(values["id"])
    values["id"] = doc_id
    row = Row(table.name, values, source)
    for key, val in children:
        if key in NESTED_OBJECTS and isinstance(val, dict):
            child_table, parent_col = NESTED_OBJECTS[key]
            child_id = _walk(val, BY_NAME[child_table], f"{source}.{key}", None, rows, warnings, errors,
                             top_level=True)
            if child_id and parent_col in table.field_names and not values.get(parent_col):
                values[parent_col] = child_id
        else:
            child_table = BY_LIST_KEY[key]
            for i, child in enumerate(val):
                _walk(child, child_table, f"{source}.{key}[{i}]", (table.name, doc_id), rows, warnings, errors,
                      index_key=f"{key}[{i}]")
    rows.append(row)
    return doc_id


# --- validation -------------------------------------------------------------------------------

def _coerce(table: Table, column, raw: Any) -> Any:
    """Turn a raw value into the column's Python type; raises ValueError with a readable message."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    col_type = column.type
    if isinstance(col_type, Integer):
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a whole number")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not a whole number") from None
        if number != int(number):
            raise ValueError(f"{raw!r} is not a whole number")
        return int(number)
    if isinstance(col_type, Float):
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a number")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"{raw!r} is not a number")
        return number
    if isinstance(col_type, UTCDateTime):
        return parse_datetime(str(raw))
    if isinstance(col_type, Date):
        return parse_date(str(raw))
    if isinstance(raw, (dict, list)):
        raise ValueError("expected text, got " + ("an object" if isinstance(raw, dict) else "a list"))
    text = str(raw).strip()
    if isinstance(col_type, String) and col_type.length and len(text) > col_type.length:
        raise ValueError(f"{text[:40]!r} is longer than {col_type.length} characters")
    return text


def parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def parse_datetime(text: str) -> datetime:
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time (expected ISO 8601)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _validate_row(row: Row, table: Table, errors: list[str], warnings: list[str]) -> dict[str, Any] | None:
    clean: dict[str, Any] = {}
    ok = True
    for column in table.columns:
        key = column.key
        try:
            value = _coerce(table, column, row.values.get(key))
        except ValueError as exc:
            errors.append(f"{row.source}, field '{key}': {exc}")
            ok = False
            continue
        if value is not None and (table.name, key) in ENUMS:
            allowed, normalize = ENUMS[(table.name, key)]
            if normalize(value) not in allowed:
                errors.append(f"{row.source}, field '{key}': {value!r} is not one of {', '.join(allowed)}")
                ok = False
                continue
            value = normalize(value)
        if value is None and (table.name, key) in DEFAULTS:
            value = DEFAULTS[(table.name, key)]
        if key in ("opens_at", "closes_at") and value is not None and not TIME_RE.match(value):
            errors.append(f"{row.source}, field '{key}': {value!r} is not a time of day (expected HH:MM)")
            ok = False
            continue
        if key in ("latitude", "longitude") and value is not None:
            limit = 90 if key == "latitude" else 180
            if not -limit <= value <= limit:
                # The official HSDS examples carry 100/101 as placeholders: keep the place, drop the point.
                warnings.append(f"{row.source}, field '{key}': {value:g} is outside -{limit}..{limit}; "
                                f"coordinates ignored")
                clean["latitude"] = clean["longitude"] = None
                row.values["latitude"] = row.values["longitude"] = None
                continue
        if value is None and not column.nullable and column.default is None and not column.primary_key:
            errors.append(f"{row.source}, field '{key}': is required")
            ok = False
            continue
        clean[key] = value
    for extra in (k for t, k in EXTRA_COLUMNS if t == table.name and k in row.values):
        clean[extra] = bool(row.values[extra])
    if table.name == "service" and ok:
        lo, hi = clean.get("minimum_age"), clean.get("maximum_age")
        for key in ("minimum_age", "maximum_age"):
            if clean.get(key) is not None and clean[key] < 0:
                errors.append(f"{row.source}, field '{key}': must not be negative")
                ok = False
        if lo is not None and hi is not None and hi < lo:
            errors.append(f"{row.source}, field 'maximum_age': {hi} is below minimum_age {lo}")
            ok = False
    return clean if ok else None


# --- the import itself ------------------------------------------------------------------------

def import_rows(rows: Iterable[Row], *, warnings: list[str] | None = None,
                progress: Progress | None = None) -> ImportReport:
    """Validate then upsert rows. Raises ImportFailed with every error found; writes nothing then."""
    report = ImportReport(warnings=list(warnings or []))
    errors: list[str] = []
    batch: dict[str, dict[str, tuple[dict[str, Any], str]]] = defaultdict(dict)
    for row in rows:
        table = BY_NAME[row.table]
        clean = _validate_row(row, table, errors, report.warnings)
        if clean is None:
            continue
        existing = batch[table.name].get(clean["id"])
        if existing is not None:
            merged = _merge_duplicate(existing, clean, row.source, errors)
            if merged is None:
                continue
            clean, row_source = merged
        else:
            row_source = row.source
        batch[table.name][clean["id"]] = (clean, row_source)
    if errors:
        shown = errors[:MAX_ERRORS]
        if len(errors) > MAX_ERRORS:
            shown.append(f"... and {len(errors) - MAX_ERRORS} more errors")
        raise ImportFailed(f"Import refused: {len(errors)} problem(s) found; nothing was changed.", shown)

    _drop_dangling(batch, report)
    _upsert(batch, report, progress)
    return report


def _merge_duplicate(existing, clean, source, errors):
    """The same record twice (e.g. one organization nested in many services): fine if they agree."""
    old, old_source = existing
    merged = dict(old)
    for key, value in clean.items():
        if value is None:
            continue
        if old.get(key) is not None and old[key] != value:
            errors.append(f"{source}, field '{key}': id {clean['id']} appears again ({old_source}) "
                          f"with a different value")
            return None
        merged[key] = value
    return merged, old_source


def _existing_ids(table: Table, ids: Iterable[str]) -> set[str]:
    ids = list(ids)
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update(db.session.scalars(select(table.model.id).where(table.model.id.in_(chunk))))
    return found


def _drop_dangling(batch, report: ImportReport) -> None:
    """Skip rows whose references lead nowhere, and rows that depend on skipped rows (reported)."""
    known: dict[str, set[str]] = {name: set(records) for name, records in batch.items()}
    wanted: dict[str, set[str]] = defaultdict(set)
    for table_name, records in batch.items():
        table = BY_NAME[table_name]
        fks = dict(table.foreign_keys)
        for values, _ in records.values():
            for col, target in fks.items():
                if values.get(col) and values[col] not in known.get(target, set()):
                    wanted[target].add(values[col])
            if table_name == "attribute" and values.get("link_entity") in BY_NAME and values.get("link_id"):
                wanted[values["link_entity"]].add(values["link_id"])
    for target, ids in wanted.items():
        known.setdefault(target, set()).update(_existing_ids(BY_NAME[target], ids))

    changed = True
    while changed:
        changed = False
        for table_name, records in batch.items():
            table = BY_NAME[table_name]
            fks = dict(table.foreign_keys)
            if table_name == "attribute":
                fks = {**fks, "link_id": None}
            for record_id in list(records):
                values, source = records[record_id]
                for col, target in fks.items():
                    if target is None:
                        target = values.get("link_entity")
                        if target not in BY_NAME:
                            continue
                    ref = values.get(col)
                    if ref and ref not in known.get(target, set()) and (table_name, col) in SOFT_REFERENCES:
                        report.warnings.append(
                            f"{source}, field '{col}': refers to {target} {ref!r}, which is neither in "
                            f"the import nor in the database; link cleared, row kept")
                        values[col] = None
                        continue
                    if ref and ref not in known.get(target, set()):
                        report.warnings.append(
                            f"{source}, field '{col}': refers to {target} {ref!r}, which is neither in "
                            f"the import nor in the database; row skipped")
                        report.skipped[table_name] += 1
                        del records[record_id]
                        known[table_name].discard(record_id)
                        changed = True
                        break


def _parents_first(records: dict[str, tuple[dict, str]], self_col: str | None) -> list[dict]:
    """Order rows so that a self-referencing parent is written before its children."""
    values = [v for v, _ in records.values()]
    if not self_col:
        return values
    by_id = {v["id"]: v for v in values}
    depth: dict[str, int] = {}

    def depth_of(v, seen=()):
        if v["id"] in depth:
            return depth[v["id"]]
        parent = by_id.get(v.get(self_col))
        d = 0 if parent is None or parent["id"] in seen else depth_of(parent, seen + (v["id"],)) + 1
        depth[v["id"]] = d
        return d

    return sorted(values, key=depth_of)


def _upsert(batch, report: ImportReport, progress: Progress | None) -> None:
    for table in TABLES:
        records = batch.get(table.name)
        if not records:
            continue
        self_col = next((c for c, t in table.foreign_keys.items() if t == table.name), None)
        ordered = _parents_first(records, self_col)
        existing: dict[str, Any] = {}
        ids = [v["id"] for v in ordered]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for obj in db.session.scalars(select(table.model).where(table.model.id.in_(chunk))):
                existing[obj.id] = obj
        new_rows: list[dict[str, Any]] = []
        for done, values in enumerate(ordered, start=1):
            obj = existing.get(values["id"])
            if obj is None:
                new_rows.append(values)
                report.created[table.name] += 1
            else:
                changed = False
                for key, value in values.items():
                    if _differs(getattr(obj, key), value):
                        setattr(obj, key, value)
                        changed = True
                if changed:
                    report.updated[table.name] += 1
                else:
                    report.unchanged[table.name] += 1
            if progress and (done % 1000 == 0 or done == len(ordered)):
                progress(table.name, done, len(ordered))
        # New rows go in as one executemany per chunk (parents first): an order of magnitude
        # faster than adding ORM objects one by one; Python-side defaults still apply. They go in
        # before the updates are flushed: an existing row may now point at a new one (a term
        # given a new parent term).
        with db.session.no_autoflush:
            for start in range(0, len(new_rows), 1000):
                db.session.execute(insert(table.model), new_rows[start:start + 1000])
        db.session.flush()


def _differs(current: Any, new: Any) -> bool:
    if isinstance(current, datetime) and isinstance(new, datetime):
        return current.astimezone(timezone.utc) != new.astimezone(timezone.utc)
    if isinstance(current, float) and isinstance(new, (int, float)):
        return abs(current - new) > 1e-9
    return current != new
