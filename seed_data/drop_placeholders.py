"""Drop the Ohana sample's placeholder records from the converted San Mateo directory.

Code for America's San Mateo sample carries test records its API's own tests use ("Example Agency",
"Admin Test Org", "Fake Org" and the "Example Service Name" service): in a demo directory they read as
real agencies a coordinator could refer to. `make seed-san-mateo` runs this after the export; run it
alone with `python seed_data/drop_placeholders.py [seed_data/san-mateo-hsds]`. It prints what it
dropped and is idempotent.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

PLACEHOLDER_ORGANIZATIONS = frozenset({"Example Agency", "Admin Test Org", "Fake Org"})
PLACEHOLDER_SERVICES = frozenset({"Example Service Name"})


def drop_placeholders(folder: Path) -> tuple[list[str], list[str]]:
    """Rewrite organizations.json and services.json in `folder` without the placeholders; returns the
    names of the organizations and services dropped."""
    org_file, service_file = folder / "organizations.json", folder / "services.json"
    organizations = json.loads(org_file.read_text(encoding="utf-8"))
    services = json.loads(service_file.read_text(encoding="utf-8"))
    dropped_ids = {o["id"] for o in organizations if o.get("name") in PLACEHOLDER_ORGANIZATIONS}
    kept_orgs = [o for o in organizations if o["id"] not in dropped_ids]
    kept_services = [s for s in services if s.get("name") not in PLACEHOLDER_SERVICES
                     and s.get("organization_id") not in dropped_ids]
    dropped_orgs = [o["name"] for o in organizations if o["id"] in dropped_ids]
    dropped_services = [s.get("name", s["id"]) for s in services if s not in kept_services]
    for path, rows in ((org_file, kept_orgs), (service_file, kept_services)):
        path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return dropped_orgs, dropped_services


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "san-mateo-hsds"
    orgs, services = drop_placeholders(target)
    print(f"Dropped {len(orgs)} placeholder organizations ({', '.join(orgs) or 'none'}) and "
          f"{len(services)} placeholder services ({', '.join(services) or 'none'}).")
