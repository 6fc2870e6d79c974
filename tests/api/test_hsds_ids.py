"""The HSDS API learns which service_at_location a search match is from the match itself, not by
parsing the search index's document ids."""
from __future__ import annotations

from pathlib import Path

import referralnet
from referralnet.search.service import Match


def test_a_match_says_which_service_at_location_it_is():
    assert Match("sal-1", "svc-1", "org-1").service_at_location_id == "sal-1"
    assert Match("service:svc-1", "svc-1", "org-1").service_at_location_id is None


def test_the_hsds_api_does_not_know_the_index_document_ids():
    source = (Path(referralnet.__file__).parent / "api" / "hsds.py").read_text(encoding="utf-8")
    assert '"service:' not in source and 'f"service:' not in source and ".doc_id" not in source
