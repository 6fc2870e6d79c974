"""The Gravity SDOH domains (the directory's category taxonomy) and the crosswalk onto them.

Both live in `seed_data/`: `sdoh_domains.json` (HSDS taxonomy + terms with
stable ids) and `sdoh_crosswalk.csv` (Open Eligibility codes and keywords
mapped to SDOH domain codes).
"""
from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parents[2] / "seed_data"
DOMAINS_FILE = SEED_DIR / "sdoh_domains.json"
CROSSWALK_FILE = SEED_DIR / "sdoh_crosswalk.csv"


@lru_cache
def sdoh_document() -> dict:
    """The SDOH taxonomy in HSDS tabular JSON form ({"taxonomies.csv": [...], "taxonomy_terms.csv": [...]})."""
    return json.loads(DOMAINS_FILE.read_text(encoding="utf-8"))


@lru_cache
def sdoh_terms() -> dict[str, dict]:
    """SDOH domain code -> HSDS taxonomy_term record."""
    return {t["code"]: t for t in sdoh_document()["taxonomy_terms.csv"]}


@lru_cache
def _crosswalk() -> list[tuple[str, str, str]]:
    with CROSSWALK_FILE.open(newline="", encoding="utf-8") as fh:
        rows = [(r["scheme"], r["match"].lower(), r["sdoh_code"]) for r in csv.DictReader(fh)]
    unknown = {code for _, _, code in rows} - set(sdoh_terms())
    if unknown:
        raise RuntimeError(f"{CROSSWALK_FILE.name} names unknown SDOH codes: {', '.join(sorted(unknown))}")
    # Longest code prefixes first, so 103-01 (shelter) wins over 103 (housing).
    return sorted(rows, key=lambda r: -len(r[1]))


def classify(*, open_eligibility_codes: list[str] = (), keywords: str = "") -> list[str]:
    """SDOH domain codes for a service, from its Open Eligibility codes and free-text keywords."""
    found: list[str] = []
    codes = [c.strip() for c in open_eligibility_codes if c.strip()]
    for code in codes:
        for scheme, match, sdoh in _crosswalk():
            if scheme == "open-eligibility" and (code == match or code.startswith(match + "-")):
                if sdoh not in found:
                    found.append(sdoh)
                break
    text = keywords.lower()
    for scheme, match, sdoh in _crosswalk():
        if scheme == "keyword" and match in text and sdoh not in found:
            found.append(sdoh)
    return found
