"""Export the directory as HSDS 3.0: nested JSON documents or the tabular CSV package.

JSON: a folder with `organizations.json`, `services.json`, `taxonomies.json`,
`taxonomy_terms.json`, and a file for each table that has rows no document
could hold (for example `locations.json` for locations without an
organization). Every row appears exactly once, nested under its most specific
parent, with its foreign keys kept explicit, so importing the export rebuilds
the same database. Output is sorted by id, so two exports of the same data are
byte-identical.

CSV: one file per table with the HSDS columns in HSDS order, plus a datapackage.json.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from referralnet.directory.hsds import BY_NAME, DOCUMENT_CHILDREN, TABLES, Table
from referralnet.extensions import db

# For each nested table, the foreign keys that can hold it, most specific first.
PARENT_PRIORITY: dict[str, list[tuple[str, str]]] = {
    "program": [("organization_id", "organization")],
    "location": [("organization_id", "organization")],
    "service_at_location": [("service_id", "service")],
    "address": [("location_id", "location")],
    "contact": [("service_at_location_id", "service_at_location"), ("service_id", "service"),
                ("location_id", "location"), ("organization_id", "organization")],
    "phone": [("contact_id", "contact"), ("service_at_location_id", "service_at_location"),
              ("service_id", "service"), ("location_id", "location"), ("organization_id", "organization")],
    "schedule": [("service_at_location_id", "service_at_location"), ("service_id", "service"),
                 ("location_id", "location")],
    "funding": [("service_id", "service"), ("organization_id", "organization")],
    "service_area": [("service_id", "service")],
    "required_document": [("service_id", "service")],
    "cost_option": [("service_id", "service")],
    "service_capacity": [("service_id", "service")],
    "language": [("phone_id", "phone"), ("service_id", "service"), ("location_id", "location")],
    "accessibility": [("location_id", "location")],
    "organization_identifier": [("organization_id", "organization")],
}
TOP_LEVEL = ["organization", "service", "taxonomy", "taxonomy_term"]
NESTABLE_ATTRIBUTE_PARENTS = set(DOCUMENT_CHILDREN) | {"address", "schedule", "funding", "service_area",
                                                         "required_document", "language", "accessibility",
                                                         "cost_option", "organization_identifier"}


def hsds_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def record_dict(table: Table, obj) -> dict[str, Any]:
    """The HSDS fields of a row; empty fields are left out (HSDS types are not nullable)."""
    out = {}
    for name in table.field_names:
        value = getattr(obj, name)
        if value is not None:
            out[name] = hsds_value(value)
    return out


# What a confidential place (e.g. a domestic-violence shelter) never exports: where it is.
CONFIDENTIAL_LOCATION_FIELDS = ("latitude", "longitude", "transportation", "external_identifier",
                                "external_identifier_type")


def _load_all() -> dict[str, list[dict[str, Any]]]:
    from referralnet.directory.models import Address, Location

    confidential = set(db.session.scalars(select(Location.id).where(Location.address_confidential.is_(True))))
    data: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        objs = db.session.scalars(select(table.model).order_by(table.model.id))
        if table.model is Address and confidential:
            objs = [o for o in objs if o.location_id not in confidential]
        rows = [record_dict(table, o) for o in objs]
        if table.model is Location and confidential:
            for row in rows:
                if row["id"] in confidential:
                    for key in CONFIDENTIAL_LOCATION_FIELDS:
                        row.pop(key, None)
        data[table.name] = rows
    return data


def build_documents(data: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """Nest every row under its most specific parent. Returns {file stem: [documents]}."""
    data = data or _load_all()
    docs: dict[str, dict[str, dict]] = {name: {r["id"]: dict(r) for r in rows} for name, rows in data.items()}
    placed_children: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    leftovers: dict[str, list[dict]] = defaultdict(list)

    for table_name, priorities in PARENT_PRIORITY.items():
        list_key = BY_NAME[table_name].list_key
        for record in docs[table_name].values():
            for col, parent_table in priorities:
                parent_id = record.get(col)
                if parent_id and parent_id in docs[parent_table]:
                    placed_children[(parent_table, parent_id)][list_key].append(record)
                    break
            else:
                leftovers[table_name].append(record)
    for record in docs["attribute"].values():
        entity, link_id = record.get("link_entity"), record.get("link_id")
        if entity in NESTABLE_ATTRIBUTE_PARENTS and link_id in docs.get(entity, {}):
            placed_children[(entity, link_id)]["attributes"].append(record)
        else:
            leftovers["attribute"].append(record)
    for record in docs["metadata"].values():
        leftovers["metadata"].append(record)

    # Attach children (lists already sorted by id because rows were loaded in id order).
    for (parent_table, parent_id), lists in placed_children.items():
        parent = docs[parent_table][parent_id]
        for key, children in lists.items():
            parent[key] = children

    files: dict[str, list[dict]] = {}
    for name in TOP_LEVEL:
        rows = list(docs[name].values())
        if rows:
            files[BY_NAME[name].list_key] = rows
    for name, rows in leftovers.items():
        if rows:
            files[BY_NAME[name].list_key] = rows
    return files


def export_json(path: str | Path) -> dict[str, int]:
    """Write the nested JSON export into folder `path`. Returns documents written per file."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for stem, documents in build_documents().items():
        (out / f"{stem}.json").write_text(json.dumps(documents, indent=2, ensure_ascii=False, sort_keys=False)
                                          + "\n", encoding="utf-8")
        counts[f"{stem}.json"] = len(documents)
    return counts


def export_csv(path: str | Path) -> dict[str, int]:
    """Write the HSDS tabular package (one CSV per table, HSDS column order) into folder `path`."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    data = _load_all()
    counts = {}
    resources = []
    for table in TABLES:
        rows = data[table.name]
        with (out / table.csv_file).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=table.field_names, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_value(v) for k, v in row.items()})
        counts[table.csv_file] = len(rows)
        resources.append({
            "name": table.csv_file.removesuffix(".csv"),
            "path": table.csv_file,
            "profile": "tabular-data-resource",
            "schema": {"fields": [{"name": c.key, "type": _frictionless_type(c)} for c in table.columns],
                       "primaryKey": "id"},
        })
    package = {"name": "referralnet-hsds-export", "profile": "tabular-data-package",
               "resources": resources}
    (out / "datapackage.json").write_text(json.dumps(package, indent=2) + "\n", encoding="utf-8")
    return counts


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return repr(value)  # keep "50.0" so a round trip reads a float back as a float
    return value


def _frictionless_type(column) -> str:
    from sqlalchemy import Date, Float, Integer

    from referralnet.db import UTCDateTime

    if isinstance(column.type, Integer):
        return "integer"
    if isinstance(column.type, Float):
        return "number"
    if isinstance(column.type, UTCDateTime):
        return "datetime"
    if isinstance(column.type, Date):
        return "date"
    return "string"
