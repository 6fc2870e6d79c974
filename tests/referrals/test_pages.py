"""The referral pages over HTTP: clients, consent and sending, the shared referral page
(actions, messages, closing the loop), the worklist and the inbox — and the same pages
tried from the attacker's side."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from referralnet.db import utcnow
from referralnet.audit.models import AuditLog
from referralnet.referrals.models import Client, Consent, Referral, ReferralEvent, ReferralMessage, Status
from tests.conftest import PASSWORD, csrf_token_from, counted_queries
from tests.referrals.conftest import signed_in

FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def text(response) -> str:
    return response.get_data(as_text=True)


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture()
def web(app, db, world, make_client, make_referral, client):
    """The referral `world`, committed, with users who can sign in; `as_(user)` signs in through the form."""
    for user in world.actors.values():
        user.password_hash = FAST_HASH
    world.alice = make_client(given_name="Alice", family_name="Nguyen", zip_code="94110", preferred_language="es")
    db.session.commit()

    world.as_ = lambda user: signed_in(app, user)  # a browser of its own, signed in as `user`
    world.http = client
    return world


def token(client, url) -> str:
    return csrf_token_from(text(client.get(url)))


def prefixed_token(html: str, prefix: str) -> str:
    import re

    match = re.search(rf'id="{prefix}-csrf_token" name="{prefix}-csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"no {prefix} form on the page"
    return match.group(1)


def act(client, referral_id, to: str, version=None, page: str | None = None, **fields):
    """Post one status action the way the referral page's form (`page`, default: as it is now) does."""
    page = page or text(client.get(f"/referrals/{referral_id}"))
    data = {f"{to}-csrf_token": prefixed_token(page, to)}
    if version is not None:
        data[f"{to}-version"] = str(version)
    data.update({f"{to}-{k}": v for k, v in fields.items()})
    return client.post(f"/referrals/{referral_id}/status/{to}", data=data)


# --- clients ---------------------------------------------------------------------------------------

def test_coordinator_adds_a_client_and_a_duplicate_is_offered_instead(web, db):
    http = web.as_(web.coordinator)
    form = {"given_name": "Maria", "family_name": "López", "date_of_birth": "1975-06-02", "phone": "(650) 555-0101",
            "preferred_language": "es", "contact_preference": "sms", "zip_code": "94063"}
    response = http.post("/clients/new", data={**form, "csrf_token": token(http, "/clients/new")})
    assert response.status_code == 302
    maria = db.session.scalar(select(Client).where(Client.family_name == "López"))
    assert maria.organization_id == web.clinic.id and maria.contact_preference == "sms"

    again = http.post("/clients/new", data={**form, "given_name": "MARIA", "csrf_token": token(http, "/clients/new")})
    page = text(again)
    assert again.status_code == 200 and "may already be on record" in page
    assert f"/clients/{maria.id}" in page
    assert count(db, Client, Client.family_name == "López") == 1

    anyway = http.post("/clients/new", data={**form, "create_anyway": "y", "csrf_token": token(http, "/clients/new")})
    assert anyway.status_code == 302
    assert count(db, Client, Client.family_name == "López") == 2


def test_bad_client_details_name_the_field_and_save_nothing(web, db):
    http = web.as_(web.coordinator)
    before = count(db, Client)
    response = http.post("/clients/new", data={
        "given_name": "Sam", "family_name": "Reyes", "date_of_birth": "next tuesday", "contact_preference": "sms",
        "csrf_token": token(http, "/clients/new")})
    page = text(response)
    assert response.status_code == 400
    assert "Enter the date of birth as month/day/year" in page and "Enter a phone number to contact the client by text" in page
    assert count(db, Client) == before


def test_client_page_shows_referrals_with_timelines_and_audits_the_view(web, db, make_referral):
    referral = make_referral(client=web.alice)
    db.session.add(ReferralEvent(referral=referral, actor_kind="coordinator", kind="status", to_status="requested"))
    db.session.commit()
    http = web.as_(web.coordinator)
    page = text(http.get(f"/clients/{web.alice.id}"))
    assert "Alice Nguyen" in page and "Eastside Pantry" in page and "Timeline" in page
    assert count(db, AuditLog, AuditLog.action == "client.view", AuditLog.object_id == str(web.alice.id)) == 1


def test_client_page_reads_consents_and_timelines_with_their_rows(web, db, make_referral):
    """The consents come with the client's row, the timelines with the referrals' (each was one more round
    trip), and a referral is still listed once however many events its timeline has."""
    first, second = make_referral(client=web.alice), make_referral(client=web.alice, service=web.meals)
    for referral in (first, second):
        for status in ("requested", "accepted"):
            db.session.add(ReferralEvent(referral=referral, actor_kind="partner", kind="status", to_status=status))
    db.session.add(Consent(client=web.alice, receiving_organization_id="org-westside", method="verbal",
                           recorded_by_id=web.coordinator.id, recorded_at=utcnow()))
    db.session.commit()
    http = web.as_(web.coordinator)
    with counted_queries(db.engine) as statements:
        page = text(http.get(f"/clients/{web.alice.id}"))
    assert "Eastside Pantry" in page and "Eastside Hot Meals" in page
    assert not [s for s in statements if s.startswith(("SELECT consent.", "SELECT referral_event."))]
    for name in ("Eastside Pantry", "Eastside Hot Meals"):  # each referral listed once, however many events it has
        assert page.count(f'<span class="visually-hidden">of the referral to {name}</span>') == 1


# --- sending ---------------------------------------------------------------------------------------

def test_send_to_two_services_needs_consent_then_sends_one_referral_each(web, db):
    http = web.as_(web.coordinator)
    url = f"/clients/{web.alice.id}/refer?service=svc-pantry&service=svc-meals"
    page = text(http.get(url))
    assert "Eastside Pantry" in page and "Eastside Hot Meals" in page
    data = {"service_ids": ["svc-pantry", "svc-meals"], "category": "food-insecurity", "priority": "urgent",
            "note_to_partner": "Prefers afternoons", "consent_method": "verbal", "csrf_token": csrf_token_from(page)}

    refused = http.post(url, data=data)
    assert refused.status_code == 400 and "consent to share with Eastside Food Bank (tick the box" in text(refused)
    assert count(db, Referral) == 0 and count(db, Consent) == 0

    sent = http.post(url, data={**data, "consent_org_ids": ["org-eastside"]})
    assert sent.status_code == 302
    referrals = db.session.scalars(select(Referral).order_by(Referral.service_id)).all()
    assert [r.service_id for r in referrals] == ["svc-meals", "svc-pantry"]
    assert {r.status for r in referrals} == {"requested"} and {r.priority for r in referrals} == {"urgent"}
    consent = db.session.scalar(select(Consent))
    assert consent.receiving_organization_id == "org-eastside" and consent.recorded_by_id == web.coordinator.id


def test_a_refused_send_keeps_no_consent_either(web, db):
    http = web.as_(web.coordinator)
    url = f"/clients/{web.alice.id}/refer?service=svc-full"
    data = {"service_ids": ["svc-full"], "category": "food-insecurity", "priority": "routine",
            "consent_method": "verbal", "consent_org_ids": ["org-eastside"], "csrf_token": token(http, url)}
    response = http.post(url, data=data)
    assert response.status_code == 400 and "not accepting referrals" in text(response)
    assert count(db, Consent) == 0 and count(db, Referral) == 0


def test_service_page_and_search_offer_referring_the_client(web, db):
    http = web.as_(web.coordinator)
    page = text(http.get(f"/services/svc-pantry?client={web.alice.id}"))
    assert f"/clients/{web.alice.id}/refer?service=svc-pantry" in page
    search = http.get(f"/search?client={web.alice.id}")
    assert search.status_code == 200
    body = text(search)
    assert "Find services for Alice Nguyen" in body
    assert 'value="94110"' in body  # starts near the client's ZIP
    assert '<option selected value="es">' in body  # in their language


def test_refer_elsewhere_prefills_and_links_the_new_referral(web, db, make_referral):
    rejected = make_referral(Status.REJECTED, client=web.alice)
    db.session.add(Consent(client=web.alice, receiving_organization_id="org-westside", method="verbal",
                           recorded_by_id=web.coordinator.id, recorded_at=utcnow()))
    db.session.commit()
    http = web.as_(web.coordinator)
    assert "Refer elsewhere" in text(http.get(f"/referrals/{rejected.id}"))
    url = f"/clients/{web.alice.id}/refer?service=svc-housing&previous={rejected.id}"
    page = text(http.get(url))
    assert '<option selected value="food-insecurity">' in page
    response = http.post(url, data={"service_ids": ["svc-housing"], "category": "food-insecurity",
                                    "priority": "routine", "previous": str(rejected.id),
                                    "consent_method": "verbal", "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    new = db.session.scalar(select(Referral).where(Referral.service_id == "svc-housing"))
    assert new.previous_referral_id == rejected.id
    followed = text(http.get(f"/referrals/{rejected.id}"))
    assert "Referred elsewhere" in followed and f'href="/referrals/{new.id}"' in followed


# --- the referral page: partner actions, messages, closing the loop ---------------------------------

def test_partner_accepts_and_completes_then_coordinator_closes_the_loop(web, db, make_referral):
    referral = make_referral(client=web.alice)
    db.session.commit()
    partner = web.as_(web.partner)
    page = text(partner.get(f"/referrals/{referral.id}"))
    assert "Alice Nguyen" in page and "Accept" in page and "Decline" in page
    assert act(partner, referral.id, "accepted", version=referral.version).status_code == 302
    done = act(partner, referral.id, "completed", outcome="got-help", note="Enrolled in weekly pantry")
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "completed"

    coordinator = web.as_(web.coordinator)
    page = text(coordinator.get(f"/referrals/{referral.id}"))
    assert "Close the loop" in page and "Enrolled in weekly pantry" in page
    response = coordinator.post(f"/referrals/{referral.id}/close", data={
        "close-verified_outcome": "got-help", "close-csrf_token": prefixed_token(page, "close")})
    assert response.status_code == 302
    db.session.expire_all()
    closed = db.session.get(Referral, referral.id)
    assert closed.loop_closed_at is not None and closed.closure.verified_outcome == "got-help"
    assert "Loop closed" in text(coordinator.get(f"/referrals/{referral.id}"))


def test_declining_without_a_reason_is_refused_and_changes_nothing(web, db, make_referral):
    referral = make_referral()
    db.session.commit()
    partner = web.as_(web.partner)
    response = act(partner, referral.id, "rejected")
    # Refused: back to the referral page (its address again), with the form's error shown there.
    assert response.status_code == 303 and response.headers["Location"] == f"/referrals/{referral.id}"
    page = text(partner.get(response.headers["Location"]))
    assert "Choose a reason." in page and "nothing was saved" in page
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "requested"
    assert count(db, ReferralEvent, ReferralEvent.referral_id == referral.id, ReferralEvent.kind == "status") == 0


def test_two_conflicting_updates_one_wins_the_other_is_told(web, db, make_referral):
    """Two partner staff open the same referral; one accepts, the other then declines from the stale page."""
    from referralnet.accounts.models import User

    colleague = User(email="colleague@example.org", name="Colleague", role="partner", organization=web.partner_org,
                     password_hash=FAST_HASH, active=True)
    db.session.add(colleague)
    referral = make_referral()
    db.session.commit()
    version = referral.version
    first_browser, second_browser = web.as_(web.partner), web.as_(colleague)
    first_page = text(first_browser.get(f"/referrals/{referral.id}"))
    second_page = text(second_browser.get(f"/referrals/{referral.id}"))
    first = act(first_browser, referral.id, "accepted", version=version, page=first_page)
    assert first.status_code == 302
    second = act(second_browser, referral.id, "rejected", version=version, page=second_page, reason="no-capacity")
    assert second.status_code == 303 and second.headers["Location"] == f"/referrals/{referral.id}"
    page = text(second_browser.get(second.headers["Location"]))
    assert "changed" in page and "It is now Accepted" in page and "nothing you entered was saved" in page
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "accepted"


def test_messages_between_the_two_sides(web, db, make_referral):
    referral = make_referral()
    db.session.commit()
    partner = web.as_(web.partner)
    page = text(partner.get(f"/referrals/{referral.id}"))
    empty = partner.post(f"/referrals/{referral.id}/messages",
                         data={"message-body": "  ", "message-csrf_token": prefixed_token(page, "message")})
    assert empty.status_code == 400 and "Write a message first." in text(empty)
    sent = partner.post(f"/referrals/{referral.id}/messages",
                        data={"message-body": "Can she come Thursday?",
                              "message-csrf_token": prefixed_token(page, "message")})
    assert sent.status_code == 302
    coordinator = web.as_(web.coordinator)
    assert "Can she come Thursday?" in text(coordinator.get(f"/referrals/{referral.id}"))
    assert count(db, ReferralMessage) == 1


def test_partner_first_view_is_on_the_timeline(web, db, make_referral):
    referral = make_referral()
    db.session.commit()
    web.as_(web.partner).get(f"/referrals/{referral.id}")
    assert count(db, ReferralEvent, ReferralEvent.referral_id == referral.id, ReferralEvent.kind == "viewed") == 1


# --- worklist and inbox ----------------------------------------------------------------------------

def test_worklist_puts_what_needs_attention_first_with_counts(web, db, make_referral):
    rejected = make_referral(Status.REJECTED)
    overdue = make_referral()
    overdue.response_due_at = utcnow() - timedelta(hours=3)
    completed = make_referral(Status.COMPLETED)
    waiting = make_referral(Status.ACCEPTED)
    reported = make_referral(Status.IN_PROGRESS)
    db.session.add(ReferralEvent(referral=reported, actor_kind="patient", kind="report", report_code="not-heard-back",
                                 patient_visible=True, at=utcnow()))
    contacted = make_referral(Status.ACCEPTED)  # good news needs no action
    db.session.add(ReferralEvent(referral=contacted, actor_kind="patient", kind="report", report_code="contacted",
                                 patient_visible=True, at=utcnow()))
    other_clinics = make_referral(Status.REJECTED, sending_org=web.other_clinic, sender=web.other_coordinator)
    db.session.commit()
    http = web.as_(web.coordinator)

    page = text(http.get("/worklist"))
    assert "Rejected or failed <span class=\"count\">(1)</span>" in page
    assert "Overdue for a response <span class=\"count\">(1)</span>" in page
    assert "Finished, loop not closed <span class=\"count\">(1)</span>" in page
    assert "Patient reported a problem <span class=\"count\">(1)</span>" in page
    assert f"/referrals/{rejected.id}\"" in page  # the first view with rows is shown
    assert f"/referrals/{other_clinics.id}\"" not in page
    for view, referral in (("overdue", overdue), ("to-close", completed), ("waiting", waiting),
                           ("patient-reported", reported), ("waiting", contacted)):
        listed = text(http.get(f"/worklist?view={view}"))
        assert f"/referrals/{referral.id}\"" in listed, view
    filtered = text(http.get("/worklist?view=refer-elsewhere&category=housing-instability"))
    assert f"/referrals/{rejected.id}\"" not in filtered


def test_inbox_lists_only_referrals_sent_to_the_partners_agency(web, db, make_referral):
    ours = make_referral()
    late = make_referral()
    late.response_due_at = utcnow() - timedelta(days=1)
    to_westside = make_referral(service=web.housing)
    db.session.commit()
    http = web.as_(web.partner)
    page = text(http.get("/inbox"))
    assert f"/referrals/{late.id}\"" in page  # overdue comes first
    new = text(http.get("/inbox?view=new"))
    assert f"/referrals/{ours.id}\"" in new and f"/referrals/{to_westside.id}\"" not in new
    west = web.as_(web.other_partner)
    assert f"/referrals/{to_westside.id}\"" in text(west.get("/inbox?view=new"))
    assert f"/referrals/{ours.id}\"" not in text(west.get("/inbox?view=new"))


def test_worklist_and_inbox_are_for_their_role(web):
    assert web.as_(web.partner).get("/worklist").status_code == 403
    assert web.as_(web.coordinator).get("/inbox").status_code == 403
    assert web.as_(web.admin).get("/inbox").status_code == 403


# --- from the attacker's side ----------------------------------------------------------------------

@pytest.mark.parametrize("attacker", ["other_partner", "other_coordinator", "admin"])
def test_others_cannot_read_or_change_a_referral_or_client(web, db, make_referral, attacker):
    referral = make_referral(client=web.alice)
    consent = referral.consent
    db.session.commit()
    http = web.as_(getattr(web, attacker))
    own_token = token(http, "/")
    for url in (f"/referrals/{referral.id}", f"/clients/{web.alice.id}", f"/clients/{web.alice.id}/edit",
                f"/clients/{web.alice.id}/refer?service=svc-pantry"):
        response = http.get(url)
        assert response.status_code in (403, 404), url
        assert "Nguyen" not in text(response), url
    # A coordinator guessing another clinic's client id in the search gets 404; others search without it.
    for url in (f"/search?client={web.alice.id}", f"/services/svc-pantry?client={web.alice.id}"):
        response = http.get(url)
        assert response.status_code == (404 if attacker == "other_coordinator" else 200), url
        assert "Nguyen" not in text(response) and "94110" not in text(response), url
    posts = {
        f"/referrals/{referral.id}/status/accepted": {"accepted-csrf_token": own_token},
        f"/referrals/{referral.id}/status/cancelled": {"cancelled-reason": "duplicate"},
        f"/referrals/{referral.id}/messages": {"message-body": "hello"},
        f"/referrals/{referral.id}/close": {"close-verified_outcome": "got-help"},
        f"/clients/{web.alice.id}/edit": {"given_name": "Mallory", "family_name": "X", "date_of_birth": "1990-01-01"},
        f"/clients/{web.alice.id}/consents/{consent.id}/revoke": {},
        f"/clients/{web.alice.id}/refer": {"service_ids": "svc-meals", "category": "food-insecurity"},
    }
    for url, data in posts.items():
        response = http.post(url, data={"csrf_token": own_token, **data})
        assert response.status_code in (403, 404), url
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "requested"
    assert db.session.get(Client, web.alice.id).given_name == "Alice"
    assert db.session.get(Consent, consent.id).revoked_at is None
    assert count(db, ReferralMessage) == 0 and count(db, Referral) == 1
    for listing in ("/clients?q=Alice", "/worklist?view=waiting", "/inbox?view=new"):
        assert "Nguyen" not in text(http.get(listing)), listing


def test_a_guessed_id_is_not_found(web):
    http = web.as_(web.coordinator)
    for url in ("/referrals/999999", "/referrals/abc", "/referrals/99999999999999", "/clients/999999"):
        assert http.get(url).status_code == 404, url


def test_logged_out_users_are_sent_to_sign_in_and_change_nothing(web, db, make_referral):
    referral = make_referral()
    db.session.commit()
    http = web.http
    for url in (f"/referrals/{referral.id}", f"/clients/{referral.client_id}", "/worklist", "/inbox", "/clients"):
        response = http.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    response = http.post(f"/referrals/{referral.id}/status/accepted", data={})
    # CSRF protection runs before the sign-in check: a post without a token is a bad request.
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "requested"


def test_partner_cannot_take_coordinator_moves_even_by_posting_them(web, db, make_referral):
    referral = make_referral()
    db.session.commit()
    http = web.as_(web.partner)
    page = text(http.get(f"/referrals/{referral.id}"))
    assert "Entered in error" not in page
    response = http.post(f"/referrals/{referral.id}/status/entered-in-error",
                         data={"entered-in-error-csrf_token": prefixed_token(page, "accepted"),
                               "entered-in-error-version": str(referral.version)})
    # The form is valid (the session's CSRF token, the current version): the state machine refuses.
    assert response.status_code == 303 and response.headers["Location"] == f"/referrals/{referral.id}"
    assert "Only a coordinator of the sending organization" in text(http.get(response.headers["Location"]))
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "requested"


def test_refer_from_a_service_page_without_a_client_picks_or_adds_one(web, db):
    http = web.as_(web.coordinator)
    page = text(http.get("/services/svc-pantry"))
    assert "/referrals/new?service=svc-pantry" in page
    chooser = http.get("/referrals/new?service=svc-pantry")
    assert chooser.status_code == 302 and "/clients?service=svc-pantry" in chooser.headers["Location"]
    listing = text(http.get("/clients?service=svc-pantry"))
    assert f"/clients/{web.alice.id}/refer?service=svc-pantry" in listing
    new = http.post("/clients/new?service=svc-pantry", data={
        "given_name": "Ben", "family_name": "Okafor", "date_of_birth": "1990-09-09", "service": "svc-pantry",
        "csrf_token": token(http, "/clients/new?service=svc-pantry")})
    ben = db.session.scalar(select(Client).where(Client.family_name == "Okafor"))
    assert new.status_code == 302 and new.headers["Location"].endswith(f"/clients/{ben.id}/refer?service=svc-pantry")
