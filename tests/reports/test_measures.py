"""Every measure of the reports, worked out by hand on the small network of conftest.py.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL: the SQL (durations, business time,
weekly buckets, nearest-rank percentiles) must give the same numbers on both.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from referralnet.reports import services as rs
from referralnet.reports.services import build_report, parse_report_filters, report_scope


def tables(actor, organization=None, args=None, sections=None):
    scope = report_scope(actor, organization)
    report = build_report(scope, parse_report_filters(scope, args or {}), sections)
    return {tid: [[rs.export_value(c, report) for c in row] for row in t.rows] for tid, t in report.tables.items()}


def by_first(rows):
    return {row[0]: row[1:] for row in rows}


def test_network_measures_match_the_hand_count(network):
    t = tables(network.admin)
    assert by_first(t["funnel"]) == {"Sent": [7, 100.0], "Viewed": [5, 71.4], "Accepted": [4, 57.1],
                                     "Completed": [2, 28.6], "Loop closed": [1, 14.3]}
    assert by_first(t["volume-by-need"]) == {"Food Insecurity": [5, 71.4], "Housing Instability": [2, 28.6]}
    # Time to first view: 1, 1, 3, 5 h; to an answer: 2, 4, 6, 8, 72 h (R3's 72 h are 24 business hours).
    assert by_first(t["responsiveness"]) == {"First view": [4, 1.0, 5.0, 1.0, 5.0],
                                             "Accept or decline": [5, 6.0, 72.0, 6.0, 24.0]}
    assert by_first(t["service-level"]) == {"Answered within the service level": [4, 6, 66.7],
                                            "Overdue now": [1, 7, 14.3]}
    assert by_first(t["outcomes"]) == {"Accepted": [4, 57.1], "Declined": [1, 14.3], "Cancelled": [1, 14.3],
                                       "Completed": [2, 28.6], "Failed": [1, 14.3], "Still open": [2, 28.6]}
    reasons = {(row[0], row[1]): row[2:] for row in t["reasons"]}
    assert reasons[("Declined", "No capacity")] == [1, 100.0]
    assert reasons[("Declined", "Not eligible")] == [0, 0.0]
    assert reasons[("Cancelled", "Client asked to cancel")] == [1, 100.0]
    assert reasons[("Failed", "Could not contact the client")] == [1, 100.0]
    assert sum(row[2] for row in t["reasons"]) == 3
    assert by_first(t["verified-outcomes"]) == {"Got help": [1, 50.0], "Partly helped": [0, 0.0],
                                                "Did not get help": [1, 50.0],
                                                "Could not reach the client": [0, 0.0]}
    assert by_first(t["loop-closure"]) == {"Finished referrals": [5], "Loops closed": [2],
                                           "Loop-closure rate (%)": [40.0],
                                           "Median time to closure (hours)": [10.0],
                                           "90th percentile time to closure (hours)": [100.0]}
    assert by_first(t["patient-reports"]) == {"The agency contacted me": [1], "I got help": [1],
                                              "I have not heard back": [0], "I no longer need this": [0]}
    assert by_first(t["refer-elsewhere"]) == {"Follow-up referrals sent": [1], "Follow-ups finished": [1],
                                              "Follow-ups that succeeded": [1],
                                              "Success rate of finished follow-ups (%)": [100.0]}
    assert t["unmet-declines"] == [["Food Insecurity", 1, 0, 5, 20.0]]
    # Clinic B's client lives in Cupertino: no food or housing service of the network within 10 miles.
    assert sorted(t["unmet-distance"]) == [["Food Insecurity", "950", 1], ["Housing Instability", "950", 1]]
    assert "comparison" not in t


def test_weekly_volume_puts_every_referral_in_its_week(network):
    t = tables(network.admin)
    weeks = {row[0]: row[1:] for row in t["volume-by-week"]}
    # Sent, accepted, completed, then open / completed / failed / declined / cancelled now.
    monday = (network.wednesday - timedelta(days=2)).isoformat()
    assert weeks[monday] == [7, 4, 2, 2, 2, 1, 1, 1]
    assert sum(row[1] for row in t["volume-by-week"]) == 7
    assert len(t["volume-by-week"]) >= 13  # 90 days are 13 or 14 weeks (partial ones included)


def test_a_clinic_sees_what_it_sent(network):
    t = tables(network.admin, network.clinic_a)  # the office looks at clinic A: no suppression
    assert by_first(t["funnel"])["Sent"] == [5, 100.0]
    assert by_first(t["outcomes"])["Still open"] == [1, 20.0]  # R3
    assert by_first(t["responsiveness"])["Accept or decline"] == [5, 6.0, 72.0, 6.0, 24.0]
    assert t["unmet-distance"] == []
    b = tables(network.admin, network.clinic_b)
    assert by_first(b["funnel"]) == {"Sent": [2, 100.0], "Viewed": [0, 0.0], "Accepted": [0, 0.0],
                                     "Completed": [0, 0.0], "Loop closed": [0, 0.0]}
    assert by_first(b["service-level"])["Overdue now"] == [1, 2, 50.0]


def test_an_agency_sees_what_it_received_and_the_network_median(network):
    t = tables(network.admin, network.x.member)
    assert by_first(t["funnel"])["Sent"] == [3, 100.0]
    assert by_first(t["responsiveness"])["Accept or decline"] == [3, 4.0, 6.0, 4.0, 6.0]
    comparison = by_first(t["comparison"])
    # Acceptance: X 2/3, Y 1/2, Z 1/2 -> median 50. Median answer: X 4 h, Y 72 h, Z 8 h -> median 8.
    assert comparison["Acceptance rate (%)"] == [66.7, 50.0, 3]
    assert comparison["Median time to accept or decline (hours)"] == [4.0, 8.0, 3]
    assert comparison["Completion rate (%)"] == [33.3, 33.3, 3]  # X 1/3, Y 0/2, Z 1/2
    # X 2/3, Z 0/2, Y has finished nothing: two agencies, too few for a median that hides each one.
    assert comparison["Loop-closure rate (%)"] == [66.7, None, 2]
    assert comparison["Answered within the service level (%)"] == [100.0, 100.0, 3]  # Y: 0/2, Z: 1/1


def test_filters_narrow_every_measure(network):
    t = tables(network.admin, args={"category": "housing-instability"})
    assert by_first(t["funnel"])["Sent"] == [2, 100.0]
    t = tables(network.admin, args={"receiving_organization": "org-z", "sending_organization":
                                    str(network.clinic_a.id)})
    assert by_first(t["funnel"])["Sent"] == [1, 100.0]  # R7
    assert by_first(t["refer-elsewhere"])["Follow-up referrals sent"] == [1]
    t = tables(network.admin, args={"priority": "urgent"})
    assert by_first(t["funnel"])["Sent"] == [0, None]


def test_the_period_decides_what_counts(network):
    day_after = (network.wednesday + timedelta(days=3)).isoformat()
    t = tables(network.admin, args={"start": day_after, "end": network.today.isoformat()})
    assert by_first(t["funnel"])["Sent"] == [0, None]
    t = tables(network.admin, args={"start": network.wednesday.isoformat(), "end": network.wednesday.isoformat()})
    assert by_first(t["funnel"])["Sent"] == [6, 100.0]  # R3 was sent on Friday
    old = (network.wednesday - timedelta(days=200)).isoformat()
    t = tables(network.admin, args={"start": old, "end": old})
    assert by_first(t["funnel"])["Sent"] == [1, 100.0]  # R9


@pytest.mark.parametrize("args, field", [({"start": "2026-13-01"}, "start"), ({"end": "yesterday"}, "end"),
                                         ({"start": "2026-05-02", "end": "2026-05-01"}, "start"),
                                         ({"start": "2020-01-01", "end": "2026-01-01"}, "start"),
                                         ({"category": "pizza"}, "category"), ({"priority": "soon"}, "priority"),
                                         ({"sending_organization": "abc"}, "sending_organization")])
def test_bad_filters_name_the_field(network, args, field):
    from referralnet.errors import ValidationFailed

    scope = report_scope(network.admin)
    with pytest.raises(ValidationFailed) as exc:
        parse_report_filters(scope, args)
    assert field in exc.value.errors


def test_business_time_skips_the_weekend_across_daylight_saving(app):
    """Friday 10:00 to Monday 10:00 is 24 business hours, also over the November change of clocks
    (the reports read the durations referrals.timing stores)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from referralnet.referrals.timing import durations

    tz = ZoneInfo("America/Los_Angeles")
    friday = datetime(2026, 10, 30, 10, tzinfo=tz).astimezone(timezone.utc)  # clocks go back on Nov 1
    monday = datetime(2026, 11, 2, 10, tzinfo=tz).astimezone(timezone.utc)
    found = durations(friday, {"responded_at": monday}, tz)
    assert found["business_seconds_to_answer"] == 24 * 3600
    assert found["seconds_to_answer"] == 73 * 3600


def test_reports_tell_the_delivery_routes_apart(network, db):
    """Issue 15: a referral travels in the network, by secure link or tracked by the coordinator;
    every report filters by it (R6 by link, R5 tracked, the rest in the network)."""
    by_key = dict(zip(("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9"), network.referrals))
    by_key["R6"].delivery_route, by_key["R6"].agency_email = "link", "intake@agency-x.example.org"
    by_key["R5"].delivery_route = "tracked"
    db.session.commit()

    def funnel(route):
        return by_first(tables(network.admin, args={"delivery_route": route}, sections=["funnel"])["funnel"])

    assert funnel("network")["Sent"] == [5, 100.0] and funnel("network")["Completed"] == [2, 40.0]
    assert funnel("link") == {"Sent": [1, 100.0], "Viewed": [1, 100.0], "Accepted": [1, 100.0],
                              "Completed": [0, 0.0], "Loop closed": [0, 0.0]}
    assert funnel("tracked")["Sent"] == [1, 100.0] and funnel("tracked")["Accepted"] == [0, 0.0]
    scope = report_scope(network.admin)
    assert dict(rs.filter_choices(scope, parse_report_filters(scope, {}))["delivery_route"]) == {
        "network": "In the network", "link": "By secure link", "tracked": "Tracked by the coordinator"}
    with pytest.raises(rs.ValidationFailed) as refused:
        parse_report_filters(scope, {"delivery_route": "fax"})
    assert "delivery_route" in refused.value.errors


def test_medians_of_even_counts_take_the_lower_middle_value(network, db):
    """Nearest-rank: of 2, 4, 6 and 10 h the median is 4 h (not 5), in the agency's own table and in its
    comparison (where SQLite reads it from an index and PostgreSQL from percentile_disc); and a time of
    9 h 57 min is shown as 10.0 h on both databases."""
    from referralnet.referrals.models import Status
    from tests import factories as f

    r1 = network.referrals[0]
    extra = f.referral(db.session, Status.ACCEPTED, person=r1.client, to=network.x.service,
                       consent_row=f.consent(db.session, r1.client, network.x.org, network.coord_a),
                       sending_org=network.clinic_a, sender=network.coord_a)
    extra.requested_at, extra.response_due_at = r1.requested_at, r1.requested_at + timedelta(hours=48)
    extra.responded_at = r1.requested_at + timedelta(hours=9, minutes=57)
    db.session.commit()
    t = tables(network.admin, network.x.member)
    assert by_first(t["responsiveness"])["Accept or decline"] == [4, 4.0, 10.0, 4.0, 10.0]
    assert by_first(t["comparison"])["Median time to accept or decline (hours)"] == [4.0, 8.0, 3]


def test_the_period_ends_at_local_midnight(network, db):
    """A period is local dates: a referral sent at 23:59 local on its last day counts (in UTC that is the next
    day already), one sent at 00:00 local the day after does not; the same in every table and in the weekly
    buckets (migration 0015's sending day is the local one)."""
    from datetime import datetime, time, timezone

    from referralnet.config import network_timezone

    tz = network_timezone()
    by_key = dict(zip(("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9"), network.referrals))
    day = network.wednesday + timedelta(days=1)  # Thursday: no other referral of the network was sent on it
    by_key["R2"].requested_at = datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(timezone.utc)
    by_key["R4"].requested_at = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz).astimezone(
        timezone.utc)
    db.session.commit()
    assert by_key["R2"].requested_at.date() == day + timedelta(days=1)  # UTC has moved on

    thursday = tables(network.admin, args={"start": day.isoformat(), "end": day.isoformat()})
    friday = tables(network.admin, args={"start": (day + timedelta(days=1)).isoformat(),
                                         "end": (day + timedelta(days=1)).isoformat()})
    assert by_first(thursday["funnel"])["Sent"] == [1, 100.0]
    assert sum(row[1] for row in thursday["volume-by-week"]) == 1
    # R3 was sent on Friday too: R4 joins it there.
    assert by_first(friday["funnel"])["Sent"] == [2, 100.0]
    assert sum(row[1] for row in friday["volume-by-week"]) == 2
    week = tables(network.admin, args={"start": network.wednesday.isoformat(),
                                       "end": (day + timedelta(days=1)).isoformat()})
    assert by_first(week["funnel"])["Sent"] == [7, 100.0]
