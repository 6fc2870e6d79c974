"""Referral services, without HTTP: clients, consent, sending, status wrappers, views, closing, messages, audit."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from referralnet.errors import Conflict, InvalidTransition, NotPermitted, ValidationFailed
from referralnet.referrals import services as sv
from referralnet.audit.models import AuditLog
from referralnet.referrals.models import Client, Closure, Consent, Referral, ReferralEvent, ReferralMessage

PACIFIC = ZoneInfo("America/Los_Angeles")
FRIDAY_10AM = datetime(2026, 3, 13, 10, 0, tzinfo=PACIFIC)


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def row_counts(db) -> dict:
    return {m.__name__: count(db, m) for m in (Client, Consent, Referral, ReferralEvent, Closure,
                                               ReferralMessage, AuditLog)}


def new_client(world, **overrides) -> Client:
    fields = dict(given_name="Ana", family_name="Lopez", date_of_birth=date(1985, 6, 1), phone="415-555-0101")
    fields.update(overrides)
    return sv.create_client(world.coordinator, **fields)


@pytest.fixture()
def consented_client(world):
    client = new_client(world)
    sv.record_consent(world.coordinator, client, world.eastside.id, "verbal")
    return client


def send(world, client, service=None, **kw):
    kw.setdefault("category", "food-insecurity")
    return sv.send_referral(world.coordinator, client, (service or world.pantry).id, **kw)


# --- clients -------------------------------------------------------------------------------------

def test_create_client(db, world):
    client = new_client(world, email=" Ana@Example.ORG ", zip_code="94110", preferred_language="ES-mx",
                        address="1 Main St")
    assert client.id and client.organization_id == world.clinic.id and client.created_by_id == world.coordinator.id
    assert (client.email, client.preferred_language, client.contact_preference) == \
        ("ana@example.org", "es-mx", "phone")
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "client.create")).one()
    assert row.details == {"fields": ["address", "contact_preference", "date_of_birth", "email", "family_name",
                                      "given_name", "phone", "preferred_language", "zip_code"]}


@pytest.mark.parametrize("fields,bad", [
    ({"given_name": "  "}, "given_name"),
    ({"family_name": None}, "family_name"),
    ({"given_name": "x" * 101}, "given_name"),
    ({"date_of_birth": None}, "date_of_birth"),
    ({"date_of_birth": "not a date"}, "date_of_birth"),
    ({"date_of_birth": date.today() + timedelta(days=2)}, "date_of_birth"),
    ({"date_of_birth": date(1850, 1, 1)}, "date_of_birth"),
    ({"phone": "555-0101"}, "phone"),
    ({"phone": "call me maybe"}, "phone"),
    ({"email": "ana.example.org"}, "email"),
    ({"contact_preference": "pigeon"}, "contact_preference"),
    ({"contact_preference": "email"}, "email"),          # email preferred but none given
    ({"phone": None, "contact_preference": "sms"}, "phone"),
    ({"preferred_language": "Spanish"}, "preferred_language"),
    ({"zip_code": "9411"}, "zip_code"),
])
def test_create_client_validation(db, world, fields, bad):
    with pytest.raises(ValidationFailed) as caught:
        new_client(world, **fields)
    assert bad in caught.value.errors
    assert count(db, Client) == 0 and count(db, AuditLog) == 0


def test_contact_preference_defaults_to_what_the_client_gave(world):
    assert new_client(world, phone=None, email="a@example.org").contact_preference == "email"
    assert new_client(world, given_name="B", phone=None).contact_preference == "do-not-contact"


def test_only_coordinators_create_clients(world):
    for actor in (world.partner, world.admin):
        with pytest.raises(NotPermitted):
            sv.create_client(actor, given_name="A", family_name="B", date_of_birth=date(1990, 1, 1))


def test_unknown_client_field_is_a_programming_error(world):
    with pytest.raises(TypeError):
        new_client(world, shoe_size=42)


def test_update_client(db, world):
    client = new_client(world)
    sv.update_client(world.coordinator, client, phone="(415) 555-0199", zip_code="94110")
    assert (client.phone, client.zip_code) == ("(415) 555-0199", "94110")
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "client.update")).one()
    assert row.details == {"fields": ["phone", "zip_code"]}
    with pytest.raises(ValidationFailed):
        sv.update_client(world.coordinator, client, email="nope")
    assert client.email is None
    for actor in (world.partner, world.other_coordinator, world.admin):
        with pytest.raises(NotPermitted):
            sv.update_client(actor, client, zip_code="94111")


def test_find_possible_duplicates(db, world, make_client):
    mine = new_client(world, given_name="José", family_name="Núñez")
    new_client(world, given_name="José", family_name="Núñez", date_of_birth=date(1985, 6, 2))  # other DOB
    make_client(world.other_clinic, given_name="José", family_name="Núñez", date_of_birth=date(1985, 6, 1))
    found = sv.find_possible_duplicates(world.coordinator, " josé ", "NÚÑEZ", date(1985, 6, 1))
    assert found == [mine]
    assert sv.find_possible_duplicates(world.coordinator, "josé", "núñez", "1985-06-01") == [mine]
    assert sv.find_possible_duplicates(world.coordinator, "josé", "núñez", "garbage") == []
    assert sv.find_possible_duplicates(world.other_coordinator, "josé", "núñez", date(1985, 6, 1))[0] != mine
    assert sv.find_possible_duplicates(world.partner, "josé", "núñez", date(1985, 6, 1)) == []


# --- consent -------------------------------------------------------------------------------------

def test_consent_record_and_revoke(db, world):
    client = new_client(world)
    assert not sv.has_consent(client, world.eastside.id)
    consent = sv.record_consent(world.coordinator, client, world.eastside.id, "written", note="Signed form")
    assert sv.has_consent(client, world.eastside.id) and not sv.has_consent(client, world.westside.id)
    assert consent.recorded_by_id == world.coordinator.id
    sv.revoke_consent(world.coordinator, consent)
    assert consent.revoked_at is not None and not sv.has_consent(client, world.eastside.id)


def test_consent_validation_and_permissions(world):
    client = new_client(world)
    with pytest.raises(ValidationFailed) as caught:
        sv.record_consent(world.coordinator, client, "no-such-org", "telepathy")
    assert set(caught.value.errors) == {"receiving_organization_id", "method"}
    for actor in (world.partner, world.other_coordinator, world.admin):
        with pytest.raises(NotPermitted):
            sv.record_consent(actor, client, world.eastside.id, "verbal")


# --- sending -------------------------------------------------------------------------------------

def test_send_referral(db, world, consented_client):
    referral = send(world, consented_client, location_id=world.site.id, priority="urgent",
                    note_to_partner="Needs a halal box", client_availability="Weekday mornings",
                    now=FRIDAY_10AM)
    assert referral.status == "requested" and referral.version == 1
    assert referral.receiving_organization_id == world.eastside.id
    assert (referral.sending_organization_id, referral.sender_id) == (world.clinic.id, world.coordinator.id)
    assert referral.consent_id == sv.current_consent(consented_client, world.eastside.id).id
    assert referral.requested_at == FRIDAY_10AM
    assert referral.response_due_at == datetime(2026, 3, 17, 10, 0, tzinfo=PACIFIC)  # Tuesday
    [event] = referral.events
    assert (event.kind, event.from_status, event.to_status, event.actor_kind, event.patient_visible) == \
        ("status", None, "requested", "coordinator", True)
    audit_row = db.session.scalars(select(AuditLog).where(AuditLog.action == "referral.send")).one()
    assert audit_row.object_id == str(referral.id)


def test_response_days_are_a_setting(app, world, consented_client):
    app.config["REFERRAL_RESPONSE_BUSINESS_DAYS"] = 5
    try:
        referral = send(world, consented_client, now=FRIDAY_10AM)
    finally:
        del app.config["REFERRAL_RESPONSE_BUSINESS_DAYS"]
    assert referral.response_due_at == datetime(2026, 3, 20, 10, 0, tzinfo=PACIFIC)


def test_send_without_consent_is_refused_and_writes_nothing(db, world):
    client = new_client(world)
    before = row_counts(db)
    with pytest.raises(ValidationFailed) as caught:
        send(world, client)
    assert caught.value.message == "Record the client's consent to share with Eastside Food Bank first."
    assert "consent" in caught.value.errors
    assert row_counts(db) == before
    # Consent for another organization does not count, nor does a revoked one.
    sv.record_consent(world.coordinator, client, world.westside.id, "verbal")
    consent = sv.record_consent(world.coordinator, client, world.eastside.id, "verbal")
    sv.revoke_consent(world.coordinator, consent)
    with pytest.raises(ValidationFailed, match="consent"):
        send(world, client)


@pytest.mark.parametrize("service_attr,message", [
    ("closed", "inactive in the directory"),
    ("full", "not accepting referrals"),
])
def test_services_that_cannot_receive_are_refused(db, world, consented_client, service_attr, message):
    sv.record_consent(world.coordinator, consented_client, world.unlisted.id, "verbal")
    before = row_counts(db)
    with pytest.raises(ValidationFailed, match=message) as caught:
        send(world, consented_client, getattr(world, service_attr))
    assert "service_id" in caught.value.errors
    assert row_counts(db) == before


def test_other_bad_input_is_refused(db, world, consented_client):
    with pytest.raises(ValidationFailed) as caught:
        sv.send_referral(world.coordinator, consented_client, "svc-nope", category="food-insecurity")
    assert "service_id" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        send(world, consented_client, category="boredom", priority="whenever", location_id="loc-nope",
             note_to_partner="x" * 4001)
    assert set(caught.value.errors) == {"category", "priority", "location_id", "note_to_partner"}
    assert count(db, Referral) == 0


def test_only_coordinators_of_the_clients_organization_send(db, world, consented_client):
    for actor in (world.other_coordinator, world.partner, world.admin):
        with pytest.raises(NotPermitted):
            sv.send_referral(actor, consented_client, world.pantry.id, category="food-insecurity")
    assert count(db, Referral) == 0


def test_an_open_referral_to_the_same_service_is_not_sent_twice(world, consented_client):
    first = send(world, consented_client)
    with pytest.raises(Conflict) as caught:
        send(world, consented_client)
    assert caught.value.errors == {"referral_id": first.id}
    sv.change_status(first, "rejected", world.partner, reason="no-capacity")
    assert send(world, consented_client).id != first.id  # once closed, a new one may go


def test_send_to_several_services_at_once(db, world, consented_client):
    sv.record_consent(world.coordinator, consented_client, world.westside.id, "verbal")
    referrals = sv.send_referrals(world.coordinator, consented_client,
                                  [world.pantry.id, world.meals.id, world.housing.id, world.pantry.id],
                                  category="food-insecurity", now=FRIDAY_10AM)
    assert [r.service_id for r in referrals] == [world.pantry.id, world.meals.id, world.housing.id]
    assert {r.receiving_organization_id for r in referrals} == {world.eastside.id, world.westside.id}
    assert all(r.status == "requested" and len(r.events) == 1 for r in referrals)


def test_send_with_consent_records_what_is_missing_then_sends(db, world, consented_client):
    """The send page's service: consent to Westside is taken now (Eastside's is on file)."""
    referrals = sv.send_referrals_with_consent(
        world.coordinator, consented_client, [world.pantry.id, world.housing.id],
        consent_organization_ids=[world.eastside.id, world.westside.id], consent_method="verbal",
        category="food-insecurity")
    assert [r.service_id for r in referrals] == [world.pantry.id, world.housing.id]
    consents = db.session.scalars(select(Consent).where(Consent.client_id == consented_client.id)).all()
    assert sorted(c.receiving_organization_id for c in consents) == [world.eastside.id, world.westside.id]


def test_send_with_consent_refuses_a_service_without_any_and_writes_nothing(db, world, consented_client):
    before = row_counts(db)
    with pytest.raises(ValidationFailed) as caught:
        sv.send_referrals_with_consent(world.coordinator, consented_client, [world.pantry.id, world.housing.id],
                                       consent_organization_ids=[], consent_method="verbal",
                                       category="food-insecurity")
    assert list(caught.value.errors) == ["consent_org_ids"]
    assert "Westside Housing" in caught.value.message and "Eastside" not in caught.value.message
    assert row_counts(db) == before


def test_send_to_several_is_all_or_nothing(db, world, consented_client):
    before = row_counts(db)
    with pytest.raises(ValidationFailed) as caught:
        sv.send_referrals(world.coordinator, consented_client, [world.pantry.id, world.closed.id, world.housing.id],
                          category="food-insecurity")
    assert set(caught.value.errors) == {world.closed.id, world.housing.id}  # inactive; no consent for Westside
    assert row_counts(db) == before
    with pytest.raises(ValidationFailed):
        sv.send_referrals(world.coordinator, consented_client, [], category="food-insecurity")


def test_refer_elsewhere_links_the_new_referral(db, world, consented_client):
    sv.record_consent(world.coordinator, consented_client, world.westside.id, "verbal")
    first = send(world, consented_client, priority="urgent")
    sv.change_status(first, "rejected", world.partner, reason="out-of-service-area")
    second = sv.refer_elsewhere(world.coordinator, first, world.housing.id)
    assert second.previous_referral_id == first.id and second.previous_referral is first
    assert (second.category, second.priority, second.status) == ("food-insecurity", "urgent", "requested")
    assert second.receiving_organization_id == world.westside.id


def test_refer_elsewhere_only_after_rejected_failed_or_cancelled(world, consented_client, make_referral):
    open_one = send(world, consented_client)
    with pytest.raises(InvalidTransition, match="Requested"):
        sv.refer_elsewhere(world.coordinator, open_one, world.meals.id)
    completed = make_referral("completed", client=consented_client, service=world.meals)
    with pytest.raises(InvalidTransition, match="Completed"):
        sv.refer_elsewhere(world.coordinator, completed, world.pantry.id)
    sv.change_status(open_one, "cancelled", world.coordinator, reason="referred-elsewhere")
    for actor in (world.partner, world.other_coordinator, world.admin):
        with pytest.raises(NotPermitted):
            sv.refer_elsewhere(actor, open_one, world.meals.id)
    assert sv.refer_elsewhere(world.coordinator, open_one, world.meals.id).previous_referral_id == open_one.id


# --- status wrappers -----------------------------------------------------------------------------

def test_a_referral_lifecycle_through_the_wrappers(db, world, consented_client):
    referral = send(world, consented_client)
    sv.change_status(referral, "accepted", world.partner, expected_version=1)
    sv.change_status(referral, "in-progress", world.partner, expected_version=2)
    sv.change_status(referral, "on-hold", world.partner, reason="waiting-on-documents", expected_version=3)
    sv.change_status(referral, "in-progress", world.partner)
    sv.change_status(referral, "completed", world.partner, outcome="partly", note="Got two weeks of groceries")
    assert (referral.status, referral.outcome, referral.version) == ("completed", "partly", 6)
    assert [e.to_status for e in referral.events] == ["requested", "accepted", "in-progress", "on-hold",
                                                      "in-progress", "completed"]
    audit_rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "referral.transition")
                                    .order_by(AuditLog.id)).all()
    assert [(r.details["from_status"], r.details["to_status"]) for r in audit_rows][2] == ("in-progress", "on-hold")
    assert audit_rows[2].details["reason"] == "waiting-on-documents"


def test_fail_cancel_and_entered_in_error_wrappers(world, make_referral):
    failed = make_referral("in-progress")
    sv.change_status(failed, "failed", world.partner, reason="could-not-contact", outcome="did-not-get-help")
    assert (failed.status, failed.status_reason_code, failed.outcome) == \
        ("failed", "could-not-contact", "did-not-get-help")
    cancelled = make_referral("on-hold")
    sv.change_status(cancelled, "cancelled", world.coordinator, reason="other", reason_text="Moved away")
    assert (cancelled.status, cancelled.status_reason_text) == ("cancelled", "Moved away")
    wrong = make_referral("requested")
    sv.change_status(wrong, "entered-in-error", world.coordinator, reason_text="Wrong client")
    assert wrong.status == "entered-in-error"
    with pytest.raises(ValidationFailed):
        sv.change_status(make_referral("accepted"), "failed", world.partner, reason="no-capacity")  # no outcome


def test_wrappers_refuse_without_writing_an_audit_row(db, world, make_referral):
    referral = make_referral()
    with pytest.raises(NotPermitted):
        sv.change_status(referral, "accepted", world.coordinator)
    assert count(db, AuditLog) == 0


# --- viewing -------------------------------------------------------------------------------------

def test_mark_viewed_records_the_first_partner_view_once(db, world, make_referral):
    referral = make_referral()
    version = referral.version
    assert sv.mark_viewed(world.coordinator, referral) is False  # the sender looking is not "viewed"
    assert referral.first_viewed_at is None
    seen_at = datetime(2026, 3, 16, 17, 0, tzinfo=timezone.utc)
    assert sv.mark_viewed(world.partner, referral, now=seen_at) is True
    assert sv.mark_viewed(world.partner, referral) is False
    assert referral.first_viewed_at == seen_at
    viewed = db.session.scalars(select(ReferralEvent).where(ReferralEvent.kind == "viewed")).all()
    assert len(viewed) == 1 and viewed[0].actor_id == world.partner.id and viewed[0].to_status is None
    assert referral.version == version  # a view does not make anyone's open page stale
    assert referral.status == "requested"
    assert count(db, AuditLog, AuditLog.action == "referral.view") == 3  # every view is audited


def test_mark_viewed_by_another_partner_records_nothing(db, world, make_referral):
    referral = make_referral()
    assert sv.mark_viewed(world.other_partner, referral) is False
    assert referral.first_viewed_at is None and count(db, ReferralEvent) == 0


# --- closing the loop ----------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["completed", "failed", "rejected", "cancelled"])
def test_close_loop(db, world, make_referral, status):
    referral = make_referral(status)
    closure = sv.close_loop(world.coordinator, referral, "got-help", note="Client confirmed by phone")
    assert closure.referral_id == referral.id and closure.closed_by_id == world.coordinator.id
    assert referral.loop_closed_at == closure.closed_at
    [event] = db.session.scalars(select(ReferralEvent).where(ReferralEvent.kind == "closed")).all()
    assert event.patient_visible is False and event.to_status is None
    assert referral.status == status  # closing the loop is not a status change
    with pytest.raises(Conflict, match="already closed"):
        sv.close_loop(world.coordinator, referral, "partly")
    assert count(db, Closure) == 1


@pytest.mark.parametrize("status", ["requested", "accepted", "in-progress", "on-hold", "entered-in-error"])
def test_close_loop_needs_a_finished_referral(db, world, make_referral, status):
    with pytest.raises(InvalidTransition, match="once the referral is finished"):
        sv.close_loop(world.coordinator, make_referral(status), "got-help")
    assert count(db, Closure) == 0


def test_close_loop_rules(db, world, make_referral):
    referral = make_referral("completed")
    for actor in (world.partner, world.other_coordinator, world.other_partner, world.admin):
        with pytest.raises(NotPermitted):
            sv.close_loop(actor, referral, "got-help")
    with pytest.raises(ValidationFailed) as caught:
        sv.close_loop(world.coordinator, referral, "thrilled")
    assert "verified_outcome" in caught.value.errors
    assert referral.loop_closed_at is None and count(db, Closure) == 0
    sv.close_loop(world.coordinator, referral, "could-not-reach")  # the coordinator's own outcome


def test_a_closed_referral_stays_closed(world, make_referral):
    from referralnet.referrals.states import transition

    referral = make_referral("completed")
    sv.close_loop(world.coordinator, referral, "got-help")
    with pytest.raises(InvalidTransition):
        transition(referral, "entered-in-error", world.coordinator)


# --- messages ------------------------------------------------------------------------------------

def test_post_message(db, world, make_referral):
    referral = make_referral()
    first = sv.post_message(world.coordinator, referral, "  Client prefers afternoons.  ")
    second = sv.post_message(world.partner, referral, "x" * 4000)
    assert first.body == "Client prefers afternoons." and second.author_id == world.partner.id
    events = db.session.scalars(select(ReferralEvent).where(ReferralEvent.kind == "message")
                                .order_by(ReferralEvent.id)).all()
    assert [(e.actor_kind, e.patient_visible, e.note) for e in events] == \
        [("coordinator", False, None), ("partner", False, None)]
    assert [m.id for m in referral.messages] == [first.id, second.id]
    assert referral.version == 1  # messages are not changes to the referral itself


def test_post_message_rules(db, world, make_referral):
    referral = make_referral()
    for body in ("", "   ", None, "x" * 4001):
        with pytest.raises(ValidationFailed) as caught:
            sv.post_message(world.partner, referral, body)
        assert "body" in caught.value.errors
    for actor in (world.other_partner, world.other_coordinator, world.admin):
        with pytest.raises(NotPermitted):
            sv.post_message(actor, referral, "Hello")
    assert count(db, ReferralMessage) == 0 and count(db, ReferralEvent) == 0


# --- service levels ------------------------------------------------------------------------------

def test_is_overdue(db, world, make_referral):
    referral = make_referral()
    due = referral.response_due_at
    assert not sv.is_overdue(referral, due)
    assert sv.is_overdue(referral, due + timedelta(seconds=1))
    overdue_ids = set(db.session.scalars(select(Referral.id).where(sv.overdue_clause(due + timedelta(minutes=1)))))
    assert overdue_ids == {referral.id}
    sv.change_status(referral, "accepted", world.partner)
    assert not sv.is_overdue(referral, due + timedelta(days=5))
    assert not db.session.scalars(select(Referral.id).where(sv.overdue_clause(due + timedelta(days=5)))).all()


# --- audit ---------------------------------------------------------------------------------------

def test_audit_rows_hold_no_patient_data(db, world):
    """Run every service that writes audit rows with recognizable patient data; none of it is in the log."""
    secrets = {"given_name": "Zephyrine", "family_name": "Quixotic-Bramblewood", "phone": "(415) 555-0177",
               "email": "zephyrine@example.org", "zip_code": "94124", "address": "77 Hidden Lane"}
    dob = date(1984, 2, 29)
    client = sv.create_client(world.coordinator, date_of_birth=dob, **secrets)
    sv.update_client(world.coordinator, client, address="78 Hidden Lane")
    sv.record_client_view(world.coordinator, client)
    consent = sv.record_consent(world.coordinator, client, world.eastside.id, "verbal", note="Zephyrine agreed")
    referral = send(world, client, note_to_partner="Zephyrine has a toddler", client_availability="After 3pm")
    sv.mark_viewed(world.partner, referral)
    sv.post_message(world.partner, referral, "Zephyrine called us back")
    sv.change_status(referral, "accepted", world.partner, note="Zephyrine starts Monday")
    sv.change_status(referral, "failed", world.partner, reason="other", reason_text="Zephyrine moved to Oakland",
                     outcome="did-not-get-help")
    sv.close_loop(world.coordinator, referral, "could-not-reach", note="Zephyrine unreachable")
    sv.revoke_consent(world.coordinator, consent)

    rows = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert {r.action for r in rows} == {"client.create", "client.update", "client.view", "consent.record",
                                        "referral.send", "referral.view", "referral.message", "referral.transition",
                                        "referral.close", "consent.revoke"}
    dump = json.dumps([{"action": r.action, "object": [r.object_type, r.object_id], "details": r.details}
                       for r in rows]).lower()
    for value in [*secrets.values(), "78 hidden lane", "zephyrine", "quixotic", "1984-02-29", "1984", "toddler",
                  "oakland", "after 3pm", "555"]:
        assert value.lower() not in dump, value
    assert all(r.user_id and r.organization_id for r in rows)


def test_worklist_views_follow_the_time_given_each_call(db, world, make_referral):
    """The views' SQL is built once per process with the time as a parameter: each call's time counts."""
    from referralnet.referrals import worklists

    referral = make_referral()
    due = referral.response_due_at
    for _ in range(2):  # the second round runs on the conditions the first one built
        before = worklists.counts(world.partner, worklists.INBOX, worklists.Filters(), due - timedelta(minutes=1))
        after = worklists.counts(world.partner, worklists.INBOX, worklists.Filters(), due + timedelta(minutes=1))
        assert (before["overdue"], before["new"]) == (0, 1)
        assert (after["overdue"], after["new"]) == (1, 0)
        coordinator_after = worklists.counts(world.coordinator, worklists.WORKLIST, worklists.Filters(),
                                             due + timedelta(minutes=1))
        assert (coordinator_after["overdue"], coordinator_after["waiting"]) == (1, 0)
        listed = worklists.listing(world.partner, worklists.INBOX, "overdue", worklists.Filters(),
                                   now=due - timedelta(minutes=1))
        assert listed.referrals == [] and listed.total == 0
        listed = worklists.listing(world.partner, worklists.INBOX, "overdue", worklists.Filters(),
                                   now=due + timedelta(minutes=1))
        assert [r.id for r in listed.referrals] == [referral.id]
