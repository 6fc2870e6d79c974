"""Recording the audit log: ids and codes only, append-only."""
from __future__ import annotations

import pytest

from referralnet.audit.services import audit
from referralnet.db import utcnow


@pytest.fixture()
def coordinator(make_user):
    return make_user("coordinator")


def test_audit_drops_patient_fields_and_refuses_free_text(db, coordinator):
    row = audit(coordinator, "client.view", "client", 1, given_name="Ana", fields=["given_name"],
                service_id="Some_HSDS-id:42", count=3, flagged=True)
    assert row.details == {"fields": ["given_name"], "service_id": "Some_HSDS-id:42", "count": 3, "flagged": True}
    with pytest.raises(ValueError):
        audit(coordinator, "client.view", "client", 1, comment="Ana Lopez, born 1985")
    with pytest.raises(ValueError):
        audit(coordinator, "client.view", "client", 1, service_id="has spaces in it")
    system = audit(None, "referral.remind", "referral", 7, now=utcnow())
    assert system.user_id is None and system.organization_id is None


def test_audit_log_is_append_only(db, coordinator):
    row = audit(coordinator, "client.view", "client", 1)
    row.action = "client.edit"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
