"""Withdrawing a client's consent to share with an agency, on a referral in each status, seen from
the agency's side: its portal page, the REST API and FHIR.

- requested (never accepted): cancelled, reason "consent withdrawn", the agency told; its client
  details gone at once;
- rejected, cancelled or in error before the agency accepted: unchanged, details gone;
- accepted, in progress, on hold: unchanged, the agency keeps the details to finish serving;
- finished after acceptance (completed, failed, cancelled): details kept for
  WITHDRAWN_CONSENT_ACCESS_DAYS after the finish, gone after.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from referralnet.api.tokens import create_api_token
from referralnet.db import utcnow
from referralnet.errors import InvalidTransition, ValidationFailed
from referralnet.notifications.models import Notification
from referralnet.referrals import services as sv
from referralnet.referrals import states
from referralnet.referrals.access import client_details_shared, visible_clients
from referralnet.referrals.models import Referral, ReferralEvent, Status
from tests.conftest import PASSWORD, csrf_token_from
from tests.referrals.conftest import signed_in

FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
DAYS = 30
PHONE, EMAIL, AVAILABILITY = "(415) 555-0177", "zora@example.org", "Weekday mornings only"

# Each case: the moves the agency (and coordinator) make before the withdrawal, how long ago the last
# one happened, and what the withdrawal leads to: (status after, agency still sees the details).
CASES = {
    "requested": ([], 0, Status.CANCELLED, False),
    "accepted": ([("partner", "accepted", {})], 0, Status.ACCEPTED, True),
    "in-progress": ([("partner", "accepted", {}), ("partner", "in-progress", {})], 0, Status.IN_PROGRESS, True),
    "on-hold": ([("partner", "accepted", {}), ("partner", "on-hold", {"reason": "waitlist"})], 0,
                Status.ON_HOLD, True),
    "completed recently": ([("partner", "accepted", {}), ("partner", "completed", {"outcome": "got-help"})],
                           DAYS - 1, Status.COMPLETED, True),
    "completed long ago": ([("partner", "accepted", {}), ("partner", "completed", {"outcome": "got-help"})],
                           DAYS + 1, Status.COMPLETED, False),
    "failed long ago": ([("partner", "accepted", {}),
                         ("partner", "failed", {"reason": "could-not-contact", "outcome": "did-not-get-help"})],
                        DAYS + 1, Status.FAILED, False),
    "cancelled after acceptance, recently": ([("partner", "accepted", {}),
                                              ("coordinator", "cancelled", {"reason": "client-request"})],
                                             2, Status.CANCELLED, True),
    "rejected": ([("partner", "rejected", {"reason": "no-capacity"})], 0, Status.REJECTED, False),
    "cancelled before acceptance": ([("coordinator", "cancelled", {"reason": "duplicate"})], 0,
                                    Status.CANCELLED, False),
    "entered in error": ([("coordinator", "entered-in-error", {})], 0, Status.ENTERED_IN_ERROR, False),
}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture()
def scene(app, db, world, make_client, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")
    monkeypatch.setitem(app.config, "WITHDRAWN_CONSENT_ACCESS_DAYS", DAYS)
    world.partner.password_hash = world.coordinator.password_hash = FAST_HASH
    world.zora = make_client(given_name="Zora", family_name="Quill", phone=PHONE, email=EMAIL, zip_code="94110",
                             address="12 Hidden Lane")
    world.consent = sv.record_consent(world.coordinator, world.zora, world.eastside.id, "verbal")
    sv.record_consent(world.coordinator, world.zora, world.westside.id, "verbal")
    _, world.agency_token = create_api_token(world.admin, world.partner_org, name="agency system",
                                             scopes=["referrals:read", "referrals:write"])
    db.session.commit()
    return world


def _play(world, referral: Referral, moves, days_ago: int) -> None:
    at = utcnow() - timedelta(days=days_ago, minutes=len(moves))
    for n, (who, to, details) in enumerate(moves):
        actor = world.partner if who == "partner" else world.coordinator
        sv.change_status(referral, to, actor, now=at + timedelta(minutes=n), **details)


@pytest.mark.parametrize("case", list(CASES))
def test_withdrawing_consent_on_each_status_as_the_agency_sees_it(app, db, scene, case):
    moves, days_ago, status_after, agency_sees = CASES[case]
    referral = sv.send_referral(scene.coordinator, scene.zora, "svc-pantry", category="food-insecurity",
                                client_availability=AVAILABILITY,
                                now=utcnow() - timedelta(days=days_ago, minutes=30))
    _play(scene, referral, moves, days_ago)
    status_before, version_before = referral.status, referral.version
    db.session.commit()

    withdrawal = sv.revoke_consent(scene.coordinator, scene.consent)
    db.session.commit()
    db.session.refresh(referral)
    assert referral.status == status_after.value
    if status_before == Status.REQUESTED.value:
        assert [r.id for r in withdrawal.cancelled] == [referral.id]
        assert referral.status_reason_code == "consent-withdrawn"
        event = referral.events[-1]
        assert (event.kind, event.to_status, event.reason_code, event.actor_id) == \
            ("status", "cancelled", "consent-withdrawn", scene.coordinator.id)
        told = db.session.scalars(select(Notification).where(Notification.referral_id == referral.id,
                                                             Notification.recipient_user_id == scene.partner.id,
                                                             Notification.channel == "app",
                                                             Notification.event == "referral.cancelled")).all()
        assert len(told) == 1 and "withdrew their consent" in told[0].body
    else:
        assert withdrawal.cancelled == [] and referral.version == version_before

    # The portal page.
    page = text(signed_in(app, scene.partner).get(f"/referrals/{referral.id}"))
    assert "Zora Quill" in page  # the name stays: the agency matches its own records
    for detail in (PHONE, EMAIL, "12 Hidden Lane", "94110", AVAILABILITY):
        assert (detail in page) is agency_sees, (case, detail)
    assert ('id="consent-withdrawn"' in page) is not agency_sees

    # REST.
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {scene.agency_token}"}
    rest_referral = api.get(f"/api/v1/referrals/{referral.id}", headers=bearer)
    assert rest_referral.status_code == 200
    assert rest_referral.get_json()["client_availability"] == (AVAILABILITY if agency_sees else None)
    rest_client = api.get(f"/api/v1/clients/{scene.zora.id}", headers=bearer)
    assert rest_client.status_code == (200 if agency_sees else 404)
    listed = [c["id"] for c in api.get("/api/v1/clients", headers=bearer).get_json()["items"]]
    assert (scene.zora.id in listed) is agency_sees

    # FHIR.
    patient = api.get(f"/fhir/Patient/{scene.zora.id}", headers=bearer)
    assert patient.status_code == (200 if agency_sees else 404)
    if agency_sees:
        assert PHONE in patient.get_data(as_text=True)
    request = api.get(f"/fhir/ServiceRequest/{referral.id}", headers=bearer).get_json()
    notes = " ".join(n["text"] for n in request.get("note") or [])
    assert (AVAILABILITY in notes) is agency_sees
    prohibited = [c["code"] for d in request.get("orderDetail") or [] for c in d["coding"]]
    assert ("contacting-subject-prohibited" in prohibited) is not agency_sees
    included = api.get(f"/fhir/Task?_id={referral.id}&_include=Task:focus", headers=bearer).get_json()
    assert (AVAILABILITY in str(included)) is agency_sees

    # The sending coordinator always sees their own client.
    own = text(signed_in(app, scene.coordinator).get(f"/referrals/{referral.id}"))
    assert PHONE in own and AVAILABILITY in own


def test_the_setting_moves_the_cut_off(app, db, scene, monkeypatch):
    referral = sv.send_referral(scene.coordinator, scene.zora, "svc-pantry", category="food-insecurity",
                                now=utcnow() - timedelta(days=12))
    _play(scene, referral, CASES["completed recently"][0], 10)
    sv.revoke_consent(scene.coordinator, scene.consent)
    db.session.commit()
    assert client_details_shared(scene.partner, referral)
    monkeypatch.setitem(app.config, "WITHDRAWN_CONSENT_ACCESS_DAYS", 7)
    assert not client_details_shared(scene.partner, referral)


def test_other_agencies_and_other_consents_are_untouched(db, scene):
    pantry = sv.send_referral(scene.coordinator, scene.zora, "svc-pantry", category="food-insecurity")
    housing = sv.send_referral(scene.coordinator, scene.zora, "svc-housing", category="housing-instability")
    # A second consent to the same agency still stands after one is withdrawn: nothing is cancelled.
    second = sv.record_consent(scene.coordinator, scene.zora, scene.eastside.id, "written")
    assert sv.revoke_consent(scene.coordinator, scene.consent).cancelled == []
    assert pantry.status == Status.REQUESTED.value and client_details_shared(scene.partner, pantry)
    withdrawal = sv.revoke_consent(scene.coordinator, second)
    assert [r.id for r in withdrawal.cancelled] == [pantry.id]
    assert housing.status == Status.REQUESTED.value
    assert client_details_shared(scene.other_partner, housing)
    assert scene.zora.id in [c.id for c in db.session.scalars(visible_clients(scene.other_partner))]
    assert scene.zora.id not in [c.id for c in db.session.scalars(visible_clients(scene.partner))]
    # Withdrawing again changes nothing more; consenting again shares again (for new referrals too).
    assert sv.revoke_consent(scene.coordinator, second).cancelled == []
    sv.record_consent(scene.coordinator, scene.zora, scene.eastside.id, "verbal")
    assert client_details_shared(scene.partner, pantry)


def test_only_the_system_gives_the_consent_withdrawn_reason(db, scene):
    referral = sv.send_referral(scene.coordinator, scene.zora, "svc-pantry", category="food-insecurity")
    with pytest.raises(ValidationFailed):
        sv.change_status(referral, "cancelled", scene.coordinator, reason="consent-withdrawn")
    with pytest.raises(ValidationFailed):
        sv.change_status(referral, "rejected", scene.partner, reason="consent-withdrawn")
    sv.change_status(referral, "accepted", scene.partner)
    with pytest.raises(InvalidTransition):
        states.cancel_for_withdrawn_consent(referral, scene.coordinator)
    assert referral.status == Status.ACCEPTED.value


def test_the_coordinator_withdraws_consent_on_the_client_page(app, db, scene):
    referral = sv.send_referral(scene.coordinator, scene.zora, "svc-pantry", category="food-insecurity")
    db.session.commit()
    browser = signed_in(app, scene.coordinator)
    page = text(browser.get(f"/clients/{scene.zora.id}"))
    response = browser.post(f"/clients/{scene.zora.id}/consents/{scene.consent.id}/revoke",
                            data={"csrf_token": csrf_token_from(page)}, follow_redirects=True)
    assert response.status_code == 200
    assert "1 referral it had not accepted yet was cancelled; the agency was told." in text(response)
    db.session.rollback()
    assert db.session.get(Referral, referral.id).status == Status.CANCELLED.value


def test_the_rest_api_withdrawal_cancels_too_and_the_other_side_cannot_do_it(app, db, scene):
    referral = sv.send_referral(scene.coordinator, scene.zora, "svc-pantry", category="food-insecurity")
    _, clinic_token = create_api_token(scene.admin, scene.clinic, name="clinic system",
                                       scopes=["referrals:read", "referrals:write"])
    db.session.commit()
    api = app.test_client()
    path = f"/api/v1/clients/{scene.zora.id}/consents/{scene.consent.id}/revoke"
    refused = api.post(path, headers={"Authorization": f"Bearer {scene.agency_token}"})
    assert refused.status_code in (403, 404)
    db.session.rollback()
    assert db.session.get(Referral, referral.id).status == Status.REQUESTED.value
    done = api.post(path, headers={"Authorization": f"Bearer {clinic_token}"})
    assert done.status_code == 200 and done.get_json()["active"] is False
    db.session.rollback()
    moved = db.session.get(Referral, referral.id)
    assert (moved.status, moved.status_reason_code) == ("cancelled", "consent-withdrawn")
    assert db.session.scalar(select(ReferralEvent.reason_code).where(ReferralEvent.referral_id == referral.id,
                                                                     ReferralEvent.to_status == "cancelled")) \
        == "consent-withdrawn"
