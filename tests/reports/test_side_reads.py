"""A report's large passes read side by side on PostgreSQL (reports.sql.SideReads), in one snapshot.

The hand-counted measures of test_measures run through this path on PostgreSQL already (the network
fixture commits); these tests check that it is taken, that it gives the same report as one pass after
the other, that it is not taken when it would miss the transaction's own writes, that every pass sees
the snapshot of the request's transaction, and that a failing pass leaves no connection behind.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from referralnet.extensions import db
from referralnet.referrals.models import Referral, Status
from referralnet.reports import sql
from referralnet.reports.services import build_report, parse_report_filters, report_scope, export_value
from tests import factories as f


@pytest.fixture()
def postgresql_only(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("side reads are PostgreSQL's (SQLite reads one pass after the other)")


@pytest.fixture()
def side_reads(monkeypatch):
    """The names of the passes read on connections of their own, as they are read."""
    read: list[str] = []
    started = sql.SideReads.start

    def start(self, statements):
        started(self, statements)
        read.extend(self._started)

    monkeypatch.setattr(sql.SideReads, "start", start)
    return read


def values(actor, organization=None, sections=None) -> dict:
    scope = report_scope(actor, organization)
    report = build_report(scope, parse_report_filters(scope, {}), sections)
    return {tid: [[export_value(c, report) for c in row] for row in t.rows] for tid, t in report.tables.items()}


def test_the_network_report_reads_its_passes_side_by_side_with_the_same_numbers(network, postgresql_only,
                                                                                 side_reads, monkeypatch):
    together = values(network.admin)
    assert sorted(side_reads) == ["counts", "durations", "zips"]
    monkeypatch.setattr(sql.SideReads, "start", lambda self, statements: None)
    assert values(network.admin) == together


def test_an_agency_report_reads_its_comparison_side_by_side_too(network, postgresql_only, side_reads, monkeypatch):
    together = values(network.x.partner)
    assert sorted(side_reads) == ["agencies", "counts", "durations", "medians", "zips"]
    monkeypatch.setattr(sql.SideReads, "start", lambda self, statements: None)
    assert values(network.x.partner) == together


def test_one_table_reads_in_the_request_transaction(network, postgresql_only, side_reads):
    assert values(network.admin, sections=["funnel"])["funnel"][0] == ["Sent", 7, 100.0]
    assert side_reads == []


def test_a_transaction_that_wrote_reads_its_own_writes(network, postgresql_only, side_reads):
    """Another connection would not see what this transaction has written and not committed."""
    extra = network.referrals[3]
    client = f.client(db.session, network.clinic_b, network.coord_b, 3, zip_code="95014")
    row = f.referral(db.session, Status.REQUESTED, person=client, to=network.y.service,
                     consent_row=f.consent(db.session, client, network.y.org, network.coord_b),
                     sending_org=network.clinic_b, sender=network.coord_b)
    row.category, row.requested_at, row.response_due_at = extra.category, extra.requested_at, extra.response_due_at
    db.session.flush()
    assert values(network.admin)["funnel"][0] == ["Sent", 8, 100.0]
    assert side_reads == []
    db.session.rollback()


def test_a_side_read_sees_the_snapshot_of_the_request_transaction(network, postgresql_only):
    """What another transaction commits after the report began is in none of its passes."""
    counted = select(func.count()).select_from(Referral)
    snapshot = db.session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    before = db.session.execute(counted).scalar_one()
    with db.engine.connect() as other:
        other.execute(text("UPDATE referral SET category = 'housing-instability' WHERE category = 'food-insecurity'"))
        other.execute(text("DELETE FROM referral_event"))
        other.commit()
    engine = db.session.get_bind()
    assert sql._read_in_snapshot(engine, snapshot, counted) == [(before,)]
    food = select(func.count()).select_from(Referral).where(Referral.category == "food-insecurity")
    assert sql._read_in_snapshot(engine, snapshot, food)[0][0] > 0
    db.session.rollback()
    assert db.session.execute(food).scalar_one() == 0  # a new transaction sees the commit


def test_a_failing_pass_fails_the_report_and_leaves_no_connection_behind(network, postgresql_only, monkeypatch):
    from referralnet.reports import services as rs

    engine = db.session.get_bind()
    before = engine.pool.checkedout()
    monkeypatch.setattr(rs._Context, "_zips_statement", lambda self: text("SELECT * FROM no_such_table"))
    with pytest.raises(Exception, match="no_such_table"):
        values(network.admin)
    db.session.rollback()
    assert engine.pool.checkedout() <= before
    monkeypatch.undo()
    assert values(network.admin)["funnel"][0] == ["Sent", 7, 100.0]


def test_sqlite_reads_one_pass_after_the_other(network, side_reads):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's path")
    assert values(network.admin)["funnel"][0] == ["Sent", 7, 100.0]
    assert side_reads == []
