"""Validation against the official HSDS 3.0 JSON Schemas in ../shared/hsds/schema (offline)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "hsds" / "schema"


@lru_cache
def _registry() -> Registry:
    registry = Registry()
    for path in list(SCHEMA_DIR.glob("*.json")) + list(SCHEMA_DIR.glob("compiled/*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        registry = registry.with_resource(str(path.relative_to(SCHEMA_DIR)), resource)
    return registry


@lru_cache
def validator(schema_name: str) -> Draft202012Validator:
    """`schema_name` is a path relative to hsds/schema, e.g. 'service.json' or 'compiled/service_list.json'."""
    schema = json.loads((SCHEMA_DIR / schema_name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=_registry())


def schema_errors(document, schema_name: str) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(schema_name).iter_errors(document)]
