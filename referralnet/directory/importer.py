"""Import HSDS data: HSDS 3.0 JSON, HSDS 3.0 tabular CSV, the Ohana (HSDS 1.x) CSV layout and
the AIRS/211 CSV export.

Every reader turns its input into `Row`s (a table name, raw values and where the
row came from). `import_rows` then validates everything before writing anything:

1. each value is coerced to its column's type; a bad value is an error naming
   the file, the row and the field; line breaks inside text are normalized and
   mis-decoded text is repaired (`textfiles`), and the summary counts the repairs;
2. any error stops the import and nothing is written (`ImportFailed`);
3. rows whose foreign keys point at records neither in the input nor in the
   database are reported and skipped, as are rows that depend on them;
4. the rest is upserted by HSDS id, parents first, so re-importing the same data
   updates records instead of duplicating them.

Large inputs stream: JSON is parsed document by document (ijson) and CSV row by row;
validated rows wait in a temporary SQLite file (`_Stage`, where duplicates are merged),
not in memory; they are written table by table in batches (one lookup of existing rows
and one bulk INSERT / UPDATE per batch). All of it runs in the caller's transaction,
so a failed import changes nothing. The caller commits (the CLI command does, once).
"""
from __future__ import annotations

import codecs
import hashlib
import pickle
import re
import sqlite3
import tempfile
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import ijson
from sqlalchemy import Date, Float, Integer, String, insert, select, text, update
from sqlalchemy import inspect as sa_inspect

from referralnet.db import UTCDateTime
from referralnet.directory import models as m
from referralnet.directory.hsds import (
    BY_CSV, BY_LIST_KEY, BY_NAME, IGNORED_TABLES, NESTED_OBJECTS, TABLES, Table,
)
from referralnet.directory.textfiles import (
    Decoding, UnreadableFile, choose_encoding, csv_records, normalize_line_breaks, read_header, repair_text,
)
from referralnet.errors import ValidationFailed
from referralnet.extensions import db

# Stable ids for nested objects that arrive without one, so re-imports match them again.
ID_NAMESPACE = uuid.UUID("6f1d3c52-8a4e-4e47-9a57-2f0e0c7b8d11")
MAX_ERRORS = 200
MAX_WARNINGS = 500  # kept word for word; beyond that only counted (a 45,000-document file can repeat one)
BATCH = 1000  # rows per existing-row lookup and bulk write
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
    repaired: set[tuple[str, str, str]] = field(default_factory=set)  # (table, id, field) of repaired text
    repair_examples: list[str] = field(default_factory=list)
    warnings_dropped: int = 0

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
        else:
            self.warnings_dropped += 1

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
        if self.repaired:
            lines.append(f"Repaired mis-decoded text (mojibake) in {len(self.repaired)} value(s), for example:")
            lines.extend(f"  {example}" for example in self.repair_examples)
        return lines + self.notes


Progress = Callable[[str, int, int], None]


# --- entry point ------------------------------------------------------------------------------

def import_path(path: str | Path, *, fmt: str = "auto", progress: Progress | None = None,
                encoding: str | None = None) -> ImportReport:
    """Import a file or folder of directory data. Raises ImportFailed (nothing written) on invalid
    input, on a file that cannot be read as text in a known or detectable encoding (`encoding`
    overrides the detection), and when the input is in none of the layouts ReferralNet understands.

    `progress(step, done, total)` is called while reading (bytes) and writing (rows per table)."""
    path = Path(path)
    if not path.exists():
        raise ImportFailed(f"{path} does not exist.", [f"{path}: no such file or folder"])
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFailed(f"Unknown encoding {encoding!r}.",
                               [f"--encoding {encoding!r} is not a character encoding "
                                f"(try utf-8, cp1252, latin-1 or mac_roman)"]) from None
    files = TextFiles(encoding)
    try:
        return _import(path, fmt, progress, files)
    except UnreadableFile as exc:
        raise ImportFailed("Nothing was imported: a file cannot be read as text.", [str(exc)]) from None


def _import(path: Path, fmt: str, progress: Progress | None, files: "TextFiles") -> ImportReport:
    fmt = detect_format(path, files) if fmt == "auto" else fmt
    warnings: list[str] = []
    errors: list[str] = []
    if fmt == "airs211":
        from referralnet.directory.airs211 import airs_files, read_airs211

        if not airs_files(path, files):
            raise _unrecognized(path, "no CSV file with the 211 export's columns")
        reading = read_airs211(path, warnings, files)
        report = import_rows(reading.rows, warnings=warnings, progress=progress, notes=files.notes)
        report.skipped.update(reading.skipped)
        report.notes.extend(reading.notes)
        return report
    if fmt == "ohana":
        from referralnet.directory.ohana import read_ohana

        rows: Iterable[Row] = read_ohana(path, warnings, files)
    elif fmt == "csv":
        rows = read_csv_package(path, warnings, errors, files)
    elif fmt == "json":
        rows = read_json_path(path, warnings, errors, files, progress)
    else:
        raise ImportFailed(f"Unknown format {fmt!r}.",
                           [f"format must be auto, json, csv, ohana or airs211, not {fmt!r}"])
    return import_rows(rows, warnings=warnings, progress=progress, errors=errors, notes=files.notes,
                       if_empty=lambda: _unrecognized(path, "no records found", warnings))


def _unrecognized(path: Path, why: str, warnings: Iterable[str] = ()) -> ImportFailed:
    return ImportFailed(f"Nothing was imported from {path.name}: it is not in a layout ReferralNet understands "
                        f"({why}).", [*warnings, f"ReferralNet understands {LAYOUTS}."])


class TextFiles:
    """How this import reads text files: one encoding decision per file (detected, or the
    operator's `--encoding`), noted for the summary when a file was not plain UTF-8."""

    def __init__(self, encoding: str | None = None):
        self.encoding = encoding
        self.notes: list[str] = []
        self._decodings: dict[Path, Decoding] = {}

    def decoding(self, path: Path) -> Decoding:
        """Raises UnreadableFile when the file's encoding is neither given nor detectable."""
        if path not in self._decodings:
            decoding = self._decodings[path] = choose_encoding(path, self.encoding)
            if decoding.note:
                self.notes.append(decoding.note)
        return self._decodings[path]

    def header(self, path: Path) -> list[str]:
        return read_header(path, self.decoding(path))

    def records(self, path: Path, errors: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
        return csv_records(path, self.decoding(path), errors)


def detect_format(path: Path, files: TextFiles | None = None) -> str:
    """json, csv (HSDS 3.0 tabular), ohana (HSDS 1.x / Ohana API CSV) or airs211 (211 export CSV).
    Raises ImportFailed when the file or folder is in none of them."""
    from referralnet.directory.airs211 import airs_files

    files = files or TextFiles()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".csv":
            if airs_files(path, files):
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
    if airs_files(path, files):
        return "airs211"
    if any(n.removesuffix(".csv") in BY_CSV for n in names if n.endswith(".csv")):
        return "csv"
    if any(n.endswith(".json") for n in names):
        return "json"
    raise _unrecognized(path, "no HSDS JSON, HSDS CSV, Ohana or 211 files in the folder")


# --- readers ----------------------------------------------------------------------------------

def read_csv_package(path: Path, warnings: list[str], errors: list[str],
                     files: TextFiles | None = None) -> Iterator[Row]:
    """Read an HSDS 3.0 tabular package: one CSV per table, named as in the HSDS datapackage.
    Yields rows; problems go to `errors` (file, row) and stop the import before anything is written."""
    files = files or TextFiles()
    csv_files = [path] if path.is_file() else sorted(path.glob("*.csv"))
    for csv_path in csv_files:
        stem = csv_path.stem.lower()
        if stem in IGNORED_TABLES:
            warnings.append(f"{csv_path.name}: {stem} is not kept by ReferralNet; file ignored")
            continue
        table = BY_CSV.get(stem)
        if table is None:
            warnings.append(f"{csv_path.name}: not an HSDS table name; file ignored")
            continue
        try:
            header = files.header(csv_path)
        except UnreadableFile as exc:
            errors.append(str(exc))
            continue
        if "id" not in header:
            errors.append(f"{csv_path.name}: missing required column 'id'")
            continue
        unknown = [h for h in header if h not in table.field_names]
        if unknown:
            warnings.append(f"{csv_path.name}: unknown columns ignored: {', '.join(unknown)}")
        for line_no, record in files.records(csv_path, errors):
            values = {k: v for k, v in record.items() if k in table.field_names}
            yield Row(table.name, values, f"{csv_path.name} row {line_no}")


def read_json_path(path: Path, warnings: list[str], errors: list[str], files: TextFiles | None = None,
                   progress: Progress | None = None) -> Iterator[Row]:
    """Read one JSON file, or every .json file of a folder, document by document (streamed:
    memory does not grow with the file). Problems go to `errors` with file and JSON path."""
    files = files or TextFiles()
    json_files = [path] if path.is_file() else sorted(p for p in path.glob("*.json") if p.name != "datapackage.json")
    for json_path in json_files:
        total = json_path.stat().st_size
        with json_path.open("rb") as raw:
            fh = raw
            if files.encoding:  # the operator says the file is not UTF-8: re-encode it for the parser
                fh = codecs.EncodedFile(raw, "utf-8", files.encoding)
                files.notes.append(f"{json_path.name}: read as {codecs.lookup(files.encoding).name} (--encoding)")
            elif raw.read(3) != codecs.BOM_UTF8:
                raw.seek(0)
            try:
                for i, (where, item) in enumerate(_json_documents(fh, json_path.name, warnings, errors)):
                    yield from _document_rows(item, where, json_path.name, warnings, errors)
                    if progress and i % 1000 == 999:
                        progress(f"reading {json_path.name} (bytes)", raw.tell(), total)
            except ijson.JSONError as exc:
                errors.append(f"{json_path.name}: not valid JSON ({_json_problem(exc)})")
            except UnicodeDecodeError as exc:
                errors.append(f"{json_path.name}: cannot be read as {files.encoding} ({exc.reason}); "
                              f"check --encoding")
            if progress:
                progress(f"reading {json_path.name} (bytes)", total, total)


def _json_problem(exc: Exception) -> str:
    text = str(exc)
    if "utf8" in text.lower() or "utf-8" in text.lower():  # yajl: "invalid bytes in UTF8 string"
        return ("it is not UTF-8, as JSON must be; save it as UTF-8, or give its encoding with --encoding: "
                + text)
    return text


def _json_documents(fh, filename: str, warnings: list[str], errors: list[str]) -> Iterator[tuple[str, Any]]:
    """The top-level documents of a JSON file, one at a time, with where they are ("$[3]").

    A list (the common large case) is streamed item by item by ijson's C parser. A top-level
    object is an HSDS API page ({"contents": [...]}, whose items are streamed), tabular JSON
    ({"services.csv": [...], ...}, each table streamed) or one document."""
    first = fh.read(1)
    while first and first.isspace():
        first = fh.read(1)
    if not first:
        errors.append(f"{filename}: the file is empty")
        return
    rest = _Prepend(first, fh)
    if first == b"[":
        for i, item in enumerate(ijson.items(rest, "item", use_float=True)):
            yield f"$[{i}]", item
        return
    if first != b"{":
        next(ijson.items(rest, "", use_float=True))  # a syntax error is reported as such
        errors.append(f"{filename}: expected an HSDS object, a list of them or a paged response")
        return
    # A top-level object: build it from parser events, except the lists under "contents" and
    # "*.csv", whose items are handed out one by one.
    events = ijson.parse(rest, use_float=True)
    document: dict[str, Any] = {}
    for prefix, event, value in events:
        if prefix != "" or event != "map_key":
            continue
        key = value
        _, event, value = next(events)
        if event != "start_array" or not (key == "contents" or key.endswith(".csv")):
            document[key] = _one_value(events, event, value)
            continue
        document[key] = _STREAMED
        for i, (_, event, value) in enumerate(events):
            if event == "end_array":
                break
            yield (f"$.{key}[{i}]" if key == "contents" else f"{key}[{i}]"), _tag(key, _one_value(events, event, value))
    if any(v is _STREAMED for v in document.values()):
        ignored = [k for k, v in document.items() if v is not _STREAMED and k not in ("total_items", "total_pages",
                                                                                   "page_number", "size",
                                                                                   "first_page", "last_page",
                                                                                   "empty")]
        if ignored:
            warnings.append(f"{filename}: top-level field(s) {', '.join(ignored)} ignored")
        return
    yield "$", document


_STREAMED = object()


def _one_value(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """Build one JSON value from ijson's parser events, its first event already read."""
    builder = ijson.ObjectBuilder()
    depth = 0
    while True:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            return builder.value
        _, event, value = next(events)


class _Tagged(dict):
    """An item of a tabular JSON table ({"services.csv": [...]}): remembers its table."""

    table_key: str = ""


def _tag(key: str, value: Any) -> Any:
    if key.endswith(".csv") and isinstance(value, dict):
        value = _Tagged(value)
        value.table_key = key
    return value


class _Prepend:
    """A binary file whose first byte(s) were already read (to see what the document starts with)."""

    def __init__(self, head: bytes, fh):
        self.head, self.fh = head, fh

    def read(self, size: int = -1) -> bytes:
        if not self.head or size == 0:  # ijson asks for 0 bytes to tell text files from binary ones
            return self.fh.read(size)
        head, self.head = self.head, b""
        if size < 0:
            return head + self.fh.read()
        return head + self.fh.read(size - len(head)) if size > len(head) else head


def _document_rows(item: Any, where: str, filename: str, warnings: list[str], errors: list[str]) -> list[Row]:
    """The rows of one top-level JSON document."""
    rows: list[Row] = []
    if isinstance(item, _Tagged):
        key = item.table_key
        stem = key.removesuffix(".csv").lower()
        if stem in IGNORED_TABLES:
            return rows
        table = BY_CSV.get(stem)
        if table is None:
            if where.endswith("[0]"):
                warnings.append(f"{filename}: {key} is not an HSDS table; ignored")
            return rows
        _walk(dict(item), table, f"{filename} {where}", None, rows, warnings, errors, top_level=True)
        return rows
    source = f"{filename} {where}" if where != "$" else f"{filename} $"
    table = guess_table(item, filename)
    if table is None:
        errors.append(f"{source}: cannot tell which HSDS object this is (name the file after it, "
                      f"for example services.json)")
        return rows
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
    kind, length = _kind(column)
    if kind == "text":
        if isinstance(raw, (dict, list)):
            raise ValueError("expected text, got " + ("an object" if isinstance(raw, dict) else "a list"))
        text = normalize_line_breaks(raw if isinstance(raw, str) else str(raw)).strip()
        if length and len(text) > length:
            raise ValueError(f"{text[:40]!r} is longer than {length} characters")
        return text
    if kind in ("int", "float"):
        what = "a whole number" if kind == "int" else "a number"
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not {what}")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not {what}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"{raw!r} is not {what}")
        if kind == "float":
            return number
        if number != int(number):
            raise ValueError(f"{raw!r} is not a whole number")
        return int(number)
    if kind == "datetime":
        return parse_datetime(str(raw))
    return parse_date(str(raw))


@lru_cache(maxsize=None)
def _kind(column) -> tuple[str, int | None]:
    """What a column holds ("int", "float", "datetime", "date" or "text") and its length limit."""
    col_type = column.type
    if isinstance(col_type, Integer):
        return "int", None
    if isinstance(col_type, Float):
        return "float", None
    if isinstance(col_type, UTCDateTime):
        return "datetime", None
    if isinstance(col_type, Date):
        return "date", None
    return "text", (col_type.length if isinstance(col_type, String) else None)


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


def _excerpt(before: str, after: str, width: int = 24) -> str:
    """'...a Womanâ€™s Place...' -> '...a Woman’s Place...': the words around the first repair."""
    start = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b), 0)
    lo = max(0, start - width)
    return f"{'...' if lo else ''}{before[lo:start + width]!r} -> {'...' if lo else ''}{after[lo:start + width]!r}"


@lru_cache(maxsize=None)
def _column_specs(table_name: str) -> list[tuple[str, Any, Any, bool, int | None]]:
    """(key, column, default when empty, required, length limit of a plain text column or None)."""
    specs = []
    for c in BY_NAME[table_name].columns:
        kind, length = _kind(c)
        plain = kind == "text" and (table_name, c.key) not in ENUMS and c.key not in ("opens_at", "closes_at")
        specs.append((c.key, c, DEFAULTS.get((table_name, c.key)),
                      not c.nullable and c.default is None and not c.primary_key,
                      (length or 0) if plain else None))
    return specs


def _validate_row(row: Row, table: Table, errors: list[str], report: ImportReport) -> dict[str, Any] | None:
    clean: dict[str, Any] = {}
    ok = True
    values = row.values
    for key, column, default, required, plain_text in _column_specs(table.name):
        raw = values.get(key)
        if plain_text is not None and raw.__class__ is str:
            # The fast path for the most common value, plain text (as _coerce would do it).
            value = raw.strip()
            if "\r" in value:
                value = normalize_line_breaks(value).strip()
            if plain_text and len(value) > plain_text:
                errors.append(f"{row.source}, field '{key}': {value[:40]!r} is longer than {plain_text} characters")
                ok = False
                continue
            if value and value.isascii():
                clean[key] = value
                continue
            raw = value
        if raw is None or raw == "":  # most columns of most rows are empty
            if default is None and required:
                errors.append(f"{row.source}, field '{key}': is required")
                ok = False
            else:
                clean[key] = default
            continue
        try:
            value = _coerce(table, column, raw)
        except ValueError as exc:
            errors.append(f"{row.source}, field '{key}': {exc}")
            ok = False
            continue
        if isinstance(value, str) and not value.isascii():
            fixed = repair_text(value)
            if fixed != value:
                if len(report.repair_examples) < 3:
                    report.repair_examples.append(f"{row.source}, field '{key}': {_excerpt(value, fixed)}")
                report.repaired.add((table.name, str(row.values.get("id")), key))
                value = fixed
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
                report.warn(f"{row.source}, field '{key}': {value:g} is outside -{limit}..{limit}; "
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

def import_rows(rows: Iterable[Row], *, warnings: list[str] | None = None, progress: Progress | None = None,
                errors: list[str] | None = None, notes: list[str] | None = None,
                if_empty: Callable[[], ImportFailed] | None = None) -> ImportReport:
    """Validate then upsert rows. Raises ImportFailed with every error found (the reader's, in
    `errors`, and the validation's); writes nothing then. `rows` may be a generator: it is read once."""
    report = ImportReport()
    errors = errors if errors is not None else []
    with _Stage() as stage:
        for row in rows:
            table = BY_NAME[row.table]
            clean = _validate_row(row, table, errors, report)
            if clean is not None and not errors:  # after the first error only look for more errors
                stage.add(table.name, clean, row.source, errors)
        report.notes[:0] = notes or []
        # Warnings collected by the reader come first, as they were found first.
        found, report.warnings = report.warnings, []
        for message in [*(warnings or []), *found]:
            report.warn(message)
        if errors:
            shown = errors[:MAX_ERRORS]
            if len(errors) > MAX_ERRORS:
                shown.append(f"... and {len(errors) - MAX_ERRORS} more errors")
            raise ImportFailed(f"Import refused: {len(errors)} problem(s) found; nothing was changed.", shown)
        if if_empty is not None and not stage.count():
            raise if_empty()
        _write(stage, report, progress)
    if report.warnings_dropped:
        report.warnings.append(f"... and {report.warnings_dropped} more warnings")
    return report


class _Stage:
    """Validated rows between reading and writing, in a temporary SQLite file: memory stays flat
    however large the input. The same record met twice (one organization nested in every one of
    its services) is merged here; an exact repeat is recognized by a digest of its values without
    reading the first one back. Ids (and those digests) per table are kept in memory, for the
    reference checks."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="referralnet-import-")
        self.conn = sqlite3.connect(Path(self._dir.name) / "stage.db")
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -32768")  # 32 MB: the (table, id) index stays in memory
        self.conn.execute("CREATE TABLE staged (tbl TEXT NOT NULL, id TEXT NOT NULL, depth INTEGER NOT NULL "
                          "DEFAULT 0, source TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (tbl, id))")
        self.ids: dict[str, dict[str, bytes]] = defaultdict(dict)  # id -> digest of its staged values
        self._pending: dict[tuple[str, str], tuple[bytes, str]] = {}

    def __enter__(self) -> "_Stage":
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()
        self._dir.cleanup()

    def add(self, table: str, clean: dict[str, Any], source: str, errors: list[str]) -> None:
        record_id = clean["id"]
        data = pickle.dumps(clean, pickle.HIGHEST_PROTOCOL)
        digest = hashlib.blake2b(data, digest_size=16).digest()
        known = self.ids[table].get(record_id)
        if known == digest:
            return  # the same record again, value for value
        if known is not None:
            key = (table, record_id)
            existing = self._pending.get(key) or self._load(key)
            merged = _merge_duplicate((pickle.loads(existing[0]), existing[1]), clean, source, errors)
            if merged is None:
                return
            data = pickle.dumps(merged[0], pickle.HIGHEST_PROTOCOL)
            digest = hashlib.blake2b(data, digest_size=16).digest()
            source = merged[1]
        self.ids[table][record_id] = digest
        self._pending[(table, record_id)] = (data, source)
        if len(self._pending) >= BATCH:
            self.flush()

    def _load(self, key: tuple[str, str]) -> tuple[bytes, str]:
        data, source = self.conn.execute("SELECT data, source FROM staged WHERE tbl = ? AND id = ?", key).fetchone()
        return data, source

    def flush(self) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO staged (tbl, id, source, data) VALUES (?, ?, ?, ?)",
                              [(t, i, source, data) for (t, i), (data, source) in self._pending.items()])
        self._pending.clear()

    def count(self, table: str | None = None) -> int:
        return len(self.ids[table]) if table else sum(len(ids) for ids in self.ids.values())

    def order_by_parent(self, table: str, column: str) -> None:
        """Give each row its depth below the table's other rows (a term under its parent term),
        so that parents are written first."""
        self.flush()
        parent = {i: pickle.loads(d).get(column) for i, d in
                  self.conn.execute("SELECT id, data FROM staged WHERE tbl = ?", (table,))}
        depth: dict[str, int] = {}
        for start in parent:
            chain, current = [], start
            while current in parent and current not in depth and current not in chain:
                chain.append(current)
                current = parent[current]
            base = depth.get(current, -1) if current in depth else -1
            for i in reversed(chain):
                base += 1
                depth[i] = base
        self.conn.executemany("UPDATE staged SET depth = ? WHERE tbl = ? AND id = ?",
                              [(d, table, i) for i, d in depth.items() if d])

    def batches(self, table: str) -> Iterator[list[tuple[dict[str, Any], str]]]:
        self.flush()
        cursor = self.conn.execute("SELECT data, source FROM staged WHERE tbl = ? ORDER BY depth, rowid", (table,))
        while chunk := cursor.fetchmany(BATCH):
            yield [(pickle.loads(data), source) for data, source in chunk]


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


class _References:
    """Whether a referenced record exists: in this import (the stage's ids, minus skipped rows)
    or already in the database (asked once per id, a batch at a time)."""

    def __init__(self, stage: _Stage):
        self.stage = stage
        self.in_db: dict[str, dict[str, bool]] = defaultdict(dict)

    def prefetch(self, wanted: dict[str, set[str]]) -> None:
        for target, ids in wanted.items():
            ask = [i for i in ids if i not in self.stage.ids[target] and i not in self.in_db[target]]
            model = BY_NAME[target].model
            for start in range(0, len(ask), 500):
                chunk = ask[start:start + 500]
                found = set(db.session.scalars(select(model.id).where(model.id.in_(chunk))))
                self.in_db[target].update((i, i in found) for i in chunk)

    def exists(self, target: str, ref: str) -> bool:
        return ref in self.stage.ids[target] or self.in_db[target].get(ref, False)


def _links(table: Table, values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(column, target table, id) of each reference a row makes."""
    out = [(col, target, values[col]) for col, target in table.foreign_keys.items() if values.get(col)]
    if table.name == "attribute" and values.get("link_entity") in BY_NAME and values.get("link_id"):
        out.append(("link_id", values["link_entity"], values["link_id"]))
    return out


def _write(stage: _Stage, report: ImportReport, progress: Progress | None) -> None:
    """Write the staged rows table by table, parents first (every table refers only to tables
    before it, or to itself), in batches. A row whose reference leads nowhere is skipped (or the
    link cleared, for SOFT_REFERENCES) before its table is written, so its children, written
    later, see it missing too."""
    with _sqlite_cache(megabytes=128):
        _write_tables(stage, report, progress)


@contextmanager
def _sqlite_cache(megabytes: int):
    """A larger page cache on SQLite while writing: with SQLite's default 2 MB, inserts into the
    id indexes (random UUIDs) of tables past that size read pages back over and over, and the
    import slows down more than linearly. Restored afterwards (the connection goes back to the pool)."""
    if db.session.get_bind().dialect.name != "sqlite":
        yield
        return
    previous = db.session.execute(text("PRAGMA cache_size")).scalar()
    db.session.execute(text(f"PRAGMA cache_size = {-megabytes * 1024}"))
    try:
        yield
    finally:
        try:
            db.session.execute(text(f"PRAGMA cache_size = {int(previous)}"))
        except Exception:  # noqa: BLE001 - a failed write is on its way up; the connection is reset on rollback
            pass


def _write_tables(stage: _Stage, report: ImportReport, progress: Progress | None) -> None:
    refs = _References(stage)
    for table in TABLES:
        total = stage.count(table.name)
        if not total:
            continue
        self_col = next((c for c, t in table.foreign_keys.items() if t == table.name), None)
        if self_col:
            stage.order_by_parent(table.name, self_col)
        done = 0
        for chunk in stage.batches(table.name):
            wanted: dict[str, set[str]] = defaultdict(set)
            for values, _ in chunk:
                for _col, target, ref in _links(table, values):
                    if ref not in stage.ids[target]:
                        wanted[target].add(ref)
            refs.prefetch(wanted)
            kept = [values for values, source in chunk if _check_links(table, values, source, refs, stage, report)]
            _upsert_batch(table, kept, report)
            done += len(chunk)
            if progress:
                progress(f"writing {table.name}", done, total)


def _check_links(table: Table, values: dict[str, Any], source: str, refs: _References, stage: _Stage,
                 report: ImportReport) -> bool:
    for col, target, ref in _links(table, values):
        if refs.exists(target, ref):
            continue
        if (table.name, col) in SOFT_REFERENCES:
            report.warn(f"{source}, field '{col}': refers to {target} {ref!r}, which is neither in "
                        f"the import nor in the database; link cleared, row kept")
            values[col] = None
            continue
        report.warn(f"{source}, field '{col}': refers to {target} {ref!r}, which is neither in "
                    f"the import nor in the database; row skipped")
        report.skipped[table.name] += 1
        stage.ids[table.name].pop(values["id"], None)
        return False
    return True


def _upsert_batch(table: Table, rows: list[dict[str, Any]], report: ImportReport) -> None:
    """One batch of one table: look up the existing rows once, then one bulk INSERT of the new
    rows and one bulk UPDATE (by primary key) of the changed ones."""
    if not rows:
        return
    keys = sorted({k for values in rows for k in values})
    columns = [getattr(table.model, k) for k in keys]
    existing = {r.id: r for r in db.session.execute(
        select(*columns).where(table.model.id.in_([values["id"] for values in rows])))}
    new_rows, changed = [], []
    for values in rows:
        current = existing.get(values["id"])
        if current is None:
            new_rows.append(values)
            report.created[table.name] += 1
        elif any(_differs(getattr(current, k), v) for k, v in values.items()):
            changed.append(values)
            report.updated[table.name] += 1
        else:
            report.unchanged[table.name] += 1
    with db.session.no_autoflush:
        # New rows first: an existing row may now point at a new one (a term given a new parent term).
        # Core INSERT, one executemany per set of columns (Python-side defaults such as created_at
        # still apply); bound to the model's mapper so that the session's listeners (the search
        # index's) see which rows changed, as they do for the ORM's bulk UPDATE below.
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for values in new_rows:
            by_columns[tuple(values)].append(values)
        for group in by_columns.values():
            db.session.execute(insert(table.model.__table__), group, bind_arguments={"mapper": sa_inspect(table.model)})
        if changed:
            db.session.execute(update(table.model), changed)


def _differs(current: Any, new: Any) -> bool:
    if isinstance(current, datetime) and isinstance(new, datetime):
        return current.astimezone(timezone.utc) != new.astimezone(timezone.utc)
    if isinstance(current, float) and isinstance(new, (int, float)):
        return abs(current - new) > 1e-9
    return current != new
