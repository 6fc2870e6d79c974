"""Recording the audit log: `audit()` appends a row of ids and codes, never patient data.

Every package that changes something (or shows a client's details) calls `audit()`,
except accounts: the audit pages read accounts (users and organizations), so accounts
tells of its changes through `accounts.signals.account_changed`, which this module
records (connected by `connect_signals()`, at app creation).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from referralnet.audit.models import AuditLog
from referralnet.db import utcnow
from referralnet.extensions import db

if TYPE_CHECKING:
    from referralnet.accounts.models import User

log = logging.getLogger(__name__)

# Keys that name patient data. They are dropped from audit details (and a warning logged,
# naming the key only) because the audit log is read by admins, who may not see clients.
PATIENT_DATA_KEYS = frozenset({
    "given_name", "family_name", "name", "full_name", "date_of_birth", "dob", "birth_date", "phone", "email",
    "address", "zip_code", "postal_code", "note", "body", "message", "note_to_partner", "client_availability",
    "reason_text", "text",
})
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")  # codes, statuses, field names
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,249}$")  # ids (HSDS ids are free-form strings)


def audit(actor: Optional[User], action: str, object_type: str, object_id, *, now: Optional[datetime] = None,
          **details) -> AuditLog:
    """Append an audit row: who (`actor`, None for the system) did `action` on which object, when.

    `details` may hold only ids, numbers, booleans, codes and field names (or lists of them).
    Keys that name patient data (PATIENT_DATA_KEYS) are dropped; any other value that looks
    like free text raises ValueError, a programming error: the caller must pass an id or a
    code instead. Flushes.
    """
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if key in PATIENT_DATA_KEYS:
            log.warning("audit %s: dropped detail %r (patient data is never audited)", action, key)
            continue
        _check_audit_value(key, value)
        clean[key] = value
    row = AuditLog(at=now or utcnow(), user_id=actor.id if actor else None, action=action,
                   object_type=object_type, object_id=str(object_id),
                   organization_id=actor.organization_id if actor else None, details=clean)
    db.session.add(row)
    db.session.flush()
    return row


def _check_audit_value(key: str, value) -> None:
    if value is None or isinstance(value, (bool, int, float)):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_audit_value(key, item)
        return
    pattern = _IDENT if key == "id" or key.endswith(("_id", "_ids")) else _CODE
    if isinstance(value, str) and pattern.match(value):
        return
    raise ValueError(f"audit detail {key!r} must be an id, a number, a code or field names, not free text")
