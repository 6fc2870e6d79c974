"""A small network whose every report measure is worked out by hand in test_measures.py.

Seven referrals count (R1..R7), all sent in the same week, the week of a Wednesday at least two
weeks ago (10:00 network time); R3 is sent on that Friday and answered on Monday (72 calendar
hours, 24 business hours). R8 is entered in error and R9 was sent long before the period: they
count nowhere.

| ref | from | to | need | status now | sent | viewed | answered | loop closed | notes |
| R1 | A | X | food | completed got-help | Wed | +1 h | +2 h | +100 h got-help | patient said got-help twice |
| R2 | A | X | food | rejected no-capacity | Wed | +3 h | +4 h | +10 h did-not-get-help | |
| R3 | A | Y | housing | in-progress | Fri | +1 h | +72 h (Mon) | | patient said contacted; late |
| R4 | B | Y | housing | requested, overdue | Wed | | | | client in 95014 |
| R5 | B | Z | food | cancelled client-request | Wed | | | | client in 95014 |
| R6 | A | X | food | failed could-not-contact | Wed | +5 h | +6 h | | |
| R7 | A | Z | food | completed partly | Wed | | +8 h | | follows R2 |

Agencies X, Y and Z are linked partner agencies with a food (X, Z) or housing (Y) service in San
Mateo; clinic A's client lives in 94401 (San Mateo), clinic B's in 95014 (Cupertino, 20+ miles).
The response is due 48 hours after sending.
"""
from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from referralnet.directory.importer import import_path
from referralnet.directory.models import Attribute, ServiceAtLocation
from referralnet.directory.sdoh import DOMAINS_FILE, sdoh_terms
from referralnet.referrals.models import Closure, ReferralEvent, Status
from tests import factories as f
from tests.conftest import PASSWORD

TZ = ZoneInfo("America/Los_Angeles")


def report_wednesday(today: date) -> date:
    """A Wednesday 14 to 20 days before `today`: inside the default 90-day period, a whole week in it."""
    day = today - timedelta(days=14)
    return day - timedelta(days=(day.weekday() - 2) % 7)


@pytest.fixture()
def network(db):
    s = db.session
    import_path(DOMAINS_FILE)
    n = itertools.count(1)
    today = datetime.now(timezone.utc).astimezone(TZ).date()
    wednesday = report_wednesday(today)
    wed = datetime.combine(wednesday, time(10, 0), tzinfo=TZ).astimezone(timezone.utc)
    fri = datetime.combine(wednesday + timedelta(days=2), time(10, 0), tzinfo=TZ).astimezone(timezone.utc)

    def agency(key: str, domain: str):
        org = f.directory_org(s, f"org-{key}", f"Agency {key.upper()}")
        svc = f.service(s, f"svc-{key}", org, f"Service {key.upper()}")
        loc = f.place(s, f"loc-{key}", org, f"Agency {key.upper()} site", postal_code="94401",
                      latitude=37.5630, longitude=-122.3255)
        s.add(ServiceAtLocation(id=f"sal-{key}", service=svc, location=loc))
        s.add(Attribute(id=f"attr-{key}", link_entity="service", link_id=svc.id, link_type="sdoh_domain",
                        taxonomy_term_id=sdoh_terms()[domain]["id"]))
        member = f.network_org(s, f"Agency {key.upper()} (network)", "partner", org)
        return SimpleNamespace(org=org, service=svc, member=member, partner=f.user(s, "partner", member, next(n)))

    x, y, z = agency("x", "food-insecurity"), agency("y", "housing-instability"), agency("z", "food-insecurity")
    clinic_a = f.network_org(s, "Clinic A", "referrer")
    clinic_b = f.network_org(s, "Clinic B", "referrer")
    office = f.network_org(s, "Network Office", "network")
    coord_a, coord_b = f.user(s, "coordinator", clinic_a, next(n)), f.user(s, "coordinator", clinic_b, next(n))
    admin = f.user(s, "admin", office, next(n))
    s.flush()
    client_a = f.client(s, clinic_a, coord_a, 1, zip_code="94401")
    client_b = f.client(s, clinic_b, coord_b, 2, zip_code="95014")
    H = timedelta(hours=1)

    def referral(key, status, *, clinic, coordinator, client, to, category, sent=wed, viewed=None, answered=None,
                 closed=None, verified=None, reason=None, outcome=None, previous=None):
        row = f.referral(s, status, person=client, to=to.service, consent_row=f.consent(s, client, to.org, coordinator),
                         sending_org=clinic, sender=coordinator)
        row.category = category
        row.requested_at, row.response_due_at = sent, sent + 48 * H
        row.first_viewed_at = sent + viewed * H if viewed is not None else None
        row.responded_at = sent + answered * H if answered is not None else None
        row.status_reason_code = reason
        row.outcome = outcome
        row.previous_referral = previous
        if closed is not None:
            row.loop_closed_at = sent + closed * H
            s.add(Closure(referral=row, verified_outcome=verified, closed_by_id=coordinator.id,
                          closed_at=row.loop_closed_at))
        s.flush()
        return row

    A = dict(clinic=clinic_a, coordinator=coord_a, client=client_a)
    B = dict(clinic=clinic_b, coordinator=coord_b, client=client_b)
    food, housing = "food-insecurity", "housing-instability"
    r1 = referral("R1", Status.COMPLETED, **A, to=x, category=food, viewed=1, answered=2, closed=100,
                  verified="got-help", outcome="got-help")
    r2 = referral("R2", Status.REJECTED, **A, to=x, category=food, viewed=3, answered=4, closed=10,
                  verified="did-not-get-help", reason="no-capacity")
    r3 = referral("R3", Status.IN_PROGRESS, **A, to=y, category=housing, sent=fri, viewed=1, answered=72)
    r4 = referral("R4", Status.REQUESTED, **B, to=y, category=housing)
    r5 = referral("R5", Status.CANCELLED, **B, to=z, category=food, reason="client-request")
    r6 = referral("R6", Status.FAILED, **A, to=x, category=food, viewed=5, answered=6, reason="could-not-contact",
                  outcome="did-not-get-help")
    r7 = referral("R7", Status.COMPLETED, **A, to=z, category=food, answered=8, outcome="partly", previous=r2)
    r8 = referral("R8", Status.ENTERED_IN_ERROR, **A, to=x, category=food, viewed=1, answered=1)
    r9 = referral("R9", Status.COMPLETED, **A, to=x, category=food, sent=wed - timedelta(days=200), viewed=1,
                  answered=1, outcome="got-help")
    for row, code, hours in ((r1, "got-help", 50), (r1, "got-help", 60), (r3, "contacted", 80)):
        s.add(ReferralEvent(referral=row, at=row.requested_at + hours * H, actor_kind="patient", kind="report",
                            report_code=code, patient_visible=True))
    for person in (admin, coord_a, coord_b, x.partner, y.partner, z.partner):
        person.set_password(PASSWORD)
    s.commit()
    return SimpleNamespace(x=x, y=y, z=z, clinic_a=clinic_a, clinic_b=clinic_b, office=office, coord_a=coord_a,
                           coord_b=coord_b, admin=admin, wednesday=wednesday, today=today,
                           referrals=[r1, r2, r3, r4, r5, r6, r7, r8, r9])


@pytest.fixture()
def cell_size(app):
    """Set REPORT_MIN_CELL_SIZE for one test."""
    before = app.config.get("REPORT_MIN_CELL_SIZE")

    def set_size(value: int) -> None:
        app.config["REPORT_MIN_CELL_SIZE"] = value

    yield set_size
    if before is None:
        app.config.pop("REPORT_MIN_CELL_SIZE", None)
    else:
        app.config["REPORT_MIN_CELL_SIZE"] = before
