"""The demo referrals that `flask demo load` adds: every status, the interesting cases, scoped access.

Loading the demo imports the San Mateo directory, so this module loads it once, in one test,
and checks everything about the result there.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from referralnet.accounts.models import NetworkOrganization, User
from referralnet.db import utcnow
from referralnet.demo import load_demo_data
from referralnet.demo_referrals import DEMO_CLIENTS, load_demo_referrals
from referralnet.referrals.access import visible_referrals
from referralnet.audit.models import AuditLog
from referralnet.referrals.models import (CLOSABLE_STATUSES, VERIFIED_OUTCOMES, Client, Closure, Referral,
                                          ReferralEvent, ReferralMessage, Status)
from referralnet.referrals.services import is_overdue


def test_demo_referrals_cover_every_case_and_respect_access(db):
    assert load_demo_data(echo=lambda *_: None) is True
    db.session.commit()
    now = utcnow()
    referrals = list(db.session.scalars(select(Referral)))

    # Every status, and the cases the worklists and the status page need.
    assert 25 <= len(referrals) <= 120  # 30 of every kind, and three months of history for the reports
    assert {r.status for r in referrals} == {s.value for s in Status}
    assert any(is_overdue(r, now) for r in referrals)
    assert any(r.status == Status.REQUESTED.value and not is_overdue(r, now) for r in referrals)
    assert {c.verified_outcome for c in db.session.scalars(select(Closure))} == set(VERIFIED_OUTCOMES)
    assert all(r.loop_closed_at is not None for r in referrals if r.closure is not None)
    assert any(Status(r.status) in CLOSABLE_STATUSES and r.loop_closed_at is None for r in referrals)
    assert db.session.scalar(select(func.count()).select_from(ReferralMessage)) >= 3
    chained = [r for r in referrals if r.previous_referral_id is not None]
    assert chained and chained[0].previous_referral.status == Status.REJECTED.value
    assert chained[0].client_id == chained[0].previous_referral.client_id
    assert any(r.first_viewed_at is not None for r in referrals)

    # Ages from today to about six weeks, and nothing in the future.
    ages = sorted(now - r.requested_at for r in referrals)
    assert ages[0] < timedelta(days=1) and timedelta(days=35) <= ages[-1] <= timedelta(days=90)  # reports: 3 months
    assert db.session.scalar(select(func.max(ReferralEvent.at))) <= now

    # The clients: fictional, several languages and contact preferences, all sent by the two clinics.
    clients = list(db.session.scalars(select(Client)))
    assert len(clients) == len(DEMO_CLIENTS) >= 10
    assert Counter(c.preferred_language for c in clients)["es"] >= 3
    assert {c.contact_preference for c in clients} == {"sms", "email", "phone", "do-not-contact"}
    clinics = {o.id: o.name for o in db.session.scalars(select(NetworkOrganization))}
    assert {clinics[r.sending_organization_id] for r in referrals} == \
        {"Bayside Community Health Center", "Coastside Family Medicine"}

    # Each partner sees exactly the referrals sent to its agency; each clinic only its own.
    users = {u.email: u for u in db.session.scalars(select(User))}
    receiving = Counter(r.receiving_organization_id for r in referrals)
    for email in ("partner@referralnet.test", "partner2@referralnet.test"):
        partner = users[email]
        agency = partner.organization.directory_organization_id
        seen = list(db.session.scalars(visible_referrals(partner)))
        assert seen and {r.receiving_organization_id for r in seen} == {agency}
        assert len(seen) == receiving[agency] < len(referrals)
    for email in ("coordinator@referralnet.test", "coordinator2@referralnet.test"):
        coordinator = users[email]
        seen = list(db.session.scalars(visible_referrals(coordinator)))
        assert seen and {r.sending_organization_id for r in seen} == {coordinator.organization_id}
    assert list(db.session.scalars(visible_referrals(users["admin@referralnet.test"]))) == []

    # Written through the services: audited, and the audit log holds no client's name.
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"client.create", "consent.record", "referral.send", "referral.transition", "referral.close",
            "referral.message", "referral.view"} <= actions
    details = json.dumps([row.details for row in db.session.scalars(select(AuditLog))], ensure_ascii=False)
    assert not any(c.family_name in details or c.given_name in details for c in clients)

    # Loading again adds nothing.
    assert load_demo_referrals(echo=lambda *_: None) == 0
    assert db.session.scalar(select(func.count()).select_from(Referral)) == len(referrals)


def test_demo_data_has_services_and_referrals_on_every_route(db):
    """Services on each route (members, agencies with an email, agencies with none), and referrals
    on each, the link route's worked through the agency's link and the tracked ones by the coordinator."""
    from referralnet.accounts.routes import expected_routes
    from referralnet.directory.models import Service

    assert load_demo_data(echo=lambda *_: None) is True
    db.session.commit()
    active = db.session.scalars(select(Service.id).where(Service.status == "active")).all()
    routes = Counter(route.value for route in expected_routes(active).values())
    assert routes["network"] >= 5 and routes["link"] >= 20 and routes["tracked"] >= 3, routes

    referrals = list(db.session.scalars(select(Referral)))
    by_route = Counter(r.delivery_route for r in referrals)
    assert by_route["link"] >= 3 and by_route["tracked"] >= 2, by_route
    through_link = db.session.scalars(select(ReferralEvent).where(ReferralEvent.agency_link_id.is_not(None))).all()
    assert {e.kind for e in through_link} >= {"viewed", "status", "message"}
    for_agency = db.session.scalars(select(ReferralEvent).where(ReferralEvent.on_behalf_of == "agency")).all()
    assert for_agency and all(e.actor.role == "coordinator" for e in for_agency)
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent)
                             .where(ReferralEvent.on_behalf_of == "patient")) >= 1
    assert any(r.delivery_route == "tracked" and is_overdue(r) for r in referrals)  # on the follow-up list
