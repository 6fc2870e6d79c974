"""News the search package sends upward (blinker): a staff search that found nothing.

`announce_search()` is called by the staff search page after a search. When nothing matched it
sends `search_found_nothing` with what may be counted about it, and nothing else: the needs the
words were understood as (need-lexicon concept ids and their SDOH domains, a fixed vocabulary),
the domains filtered on, and the first three digits of the ZIP code searched near. Never the
words typed, never who was searched for. Reports subscribe and count them in aggregate.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from blinker import Namespace

from referralnet.geo import ZIP_RE
from referralnet.search.service import SearchResults

_signals = Namespace()

#: Sent with the search package's name as sender and `gaps` (a list of EmptySearch) and
#: `organization_id` (the searching staff member's organization) as keyword arguments.
search_found_nothing = _signals.signal("search-found-nothing")


class EmptySearch(NamedTuple):
    need: str  # a need concept id, or "" when the words matched no need the lexicon knows
    domain: str  # an SDOH domain code, or ""
    zip3: str  # the first three digits of the ZIP code searched near, or ""


def empty_search_gaps(results: SearchResults) -> list[EmptySearch]:
    """What may be counted about a search that found nothing: one row per need (or per domain filtered on)."""
    q = results.query
    match = ZIP_RE.search(q.near or "")
    zip3 = match.group(1)[:3] if match else ""
    rows: list[EmptySearch] = []
    needs = [need for _, need in results.plan.needs] if results.plan is not None else []
    for need in dict.fromkeys(needs):
        domains = [d for d in need.domains if not q.domains or d in q.domains] or list(q.domains[:1]) or [""]
        rows.append(EmptySearch(need.id, domains[0], zip3))
    if not rows:
        rows = [EmptySearch("", domain, zip3) for domain in (q.domains or [""])]
    return list(dict.fromkeys(rows))


def announce_search(results: SearchResults, *, organization_id: Optional[int]) -> None:
    """Tell subscribers about a first page of results that is empty (sends search_found_nothing)."""
    if results.total or results.page != 1:
        return
    search_found_nothing.send("search", gaps=empty_search_gaps(results), organization_id=organization_id)
