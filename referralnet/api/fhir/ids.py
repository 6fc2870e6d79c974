"""Our ids as FHIR ids, and back.

FHIR ids are `[A-Za-z0-9\\-\\.]{1,64}`. Referrals, clients and consents have integer ids, which fit.
Directory rows keep their HSDS ids (usually UUIDs, which fit as they are). An HSDS id that does
not fit (other characters, longer than 64) or that starts with one of our reserved prefixes is
published as `h.` + the first 40 hex digits of its sha256; reading such an id scans that table's
ids (rare: imports normally use UUIDs). Member organizations of the network (the referring
clinics, which are not directory organizations) are `Organization/rn.<id>`.
"""
from __future__ import annotations

import hashlib
import re
from typing import Optional

from sqlalchemy import select

from referralnet.extensions import db

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
HASHED = "h."
NETWORK = "rn."
_RESERVED = (HASHED, NETWORK)


def fhir_id(hsds_id: str) -> str:
    """The FHIR id of a directory row."""
    if FHIR_ID.match(hsds_id) and not hsds_id.startswith(_RESERVED):
        return hsds_id
    return HASHED + hashlib.sha256(hsds_id.encode("utf-8")).hexdigest()[:40]


def hsds_id(model, value: str) -> Optional[str]:
    """The HSDS id of the `model` row published as FHIR id `value`, or None if there is none."""
    if not value or not FHIR_ID.match(value):
        return None
    if value.startswith(HASHED):
        for (candidate,) in db.session.execute(select(model.id)):
            if fhir_id(candidate) == value:
                return candidate
        return None
    if value.startswith(NETWORK):
        return None
    return value if db.session.get(model, value) is not None else None


def network_fhir_id(network_organization_id: int) -> str:
    return f"{NETWORK}{network_organization_id}"


def network_id(value: str) -> Optional[int]:
    """The member organization id in `rn.<id>`, or None."""
    if value and value.startswith(NETWORK) and value[len(NETWORK):].isdigit():
        number = int(value[len(NETWORK):])
        return number if 0 < number <= 2**31 - 1 else None
    return None
