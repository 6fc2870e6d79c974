"""Lay language to service vocabulary: 'food stamps' also finds SNAP, CalFresh and EBT.

The list lives in seed_data/synonyms.csv (phrase, means: alternatives separated by |).
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

SYNONYMS_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "synonyms.csv"


@lru_cache
def synonym_table() -> dict[str, list[str]]:
    with SYNONYMS_FILE.open(newline="", encoding="utf-8") as fh:
        table: dict[str, list[str]] = {}
        for row in csv.DictReader(fh):
            phrase = " ".join(row["phrase"].lower().split())
            table.setdefault(phrase, []).extend(m.strip().lower() for m in row["means"].split("|") if m.strip())
    return table


def expansions(text: str) -> list[tuple[str, list[str]]]:
    """The synonym phrases found in `text` (longest first, not overlapping) with what they mean."""
    lowered = " " + " ".join(re.sub(r"[^\w&'-]+", " ", text.lower()).split()) + " "
    found = []
    for phrase in sorted(synonym_table(), key=len, reverse=True):
        marker = f" {phrase} "
        if marker in lowered:
            found.append((phrase, synonym_table()[phrase]))
            lowered = lowered.replace(marker, " \x00 ")
    return found
