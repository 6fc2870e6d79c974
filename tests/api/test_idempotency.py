"""`Idempotency-Key` on `POST /api/v1/referrals`: one referral per (token, key), even when the same
request arrives twice at the same moment (threads; CI runs this on PostgreSQL too)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from referralnet.api.models import IdempotencyKey
from referralnet.referrals.models import Referral
from tests.api.test_v1_flow import api  # noqa: F401  (fixture)
from tests.referrals.conftest import world  # noqa: F401  (fixture)


def _count(db, model) -> int:
    db.session.rollback()  # read what the requests committed, not an older snapshot
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def referral_body(api, db):
    call = api.call
    client = call("clinic", "POST", "/api/v1/clients",
                  json={"given_name": "Rosa", "family_name": "Diaz", "date_of_birth": "1975-06-01"})
    assert client.status_code == 201, client.get_json()
    client_id = client.get_json()["id"]
    consent = call("clinic", "POST", f"/api/v1/clients/{client_id}/consents",
                   json={"receiving_organization_id": "org-eastside", "method": "verbal"})
    assert consent.status_code == 201, consent.get_json()
    return {"client_id": client_id, "service_id": "svc-pantry", "category": "food-insecurity"}


def test_the_same_request_twice_at_once_creates_one_referral(api, db, referral_body):
    start = threading.Barrier(2)
    responses: list = [None, None]
    errors: list = []

    def send(i: int) -> None:
        try:
            start.wait(timeout=10)
            responses[i] = api.call("clinic", "POST", "/api/v1/referrals", json=referral_body,
                                    headers={"Idempotency-Key": "twice-at-once"})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    db.session.rollback()
    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert [r.status_code for r in responses] == [201, 201], [r.get_json() for r in responses]
    assert responses[0].get_json() == responses[1].get_json()
    assert sorted(r.headers["Idempotent-Replayed"] for r in responses) == ["false", "true"]
    assert _count(db, Referral) == 1
    assert _count(db, IdempotencyKey) == 1


def test_a_repeat_gets_the_stored_answer_not_the_referral_as_it_is_now(api, db, referral_body):
    call = api.call
    first = call("clinic", "POST", "/api/v1/referrals", json=referral_body, headers={"Idempotency-Key": "k"})
    assert first.status_code == 201
    rid = first.get_json()["id"]
    assert call("partner", "POST", f"/api/v1/referrals/{rid}/transitions", json={"to": "accepted"}).status_code == 200
    again = call("clinic", "POST", "/api/v1/referrals", json=referral_body, headers={"Idempotency-Key": "k"})
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.get_json()["status"] == "requested"


def test_keys_are_per_token(api, db, world, referral_body):
    from referralnet.api.tokens import create_api_token

    _, second = create_api_token(world.admin, world.clinic, name="second system", scopes=["referrals:write"])
    db.session.commit()
    api.tokens["second"] = second
    first = api.call("clinic", "POST", "/api/v1/referrals", json=referral_body, headers={"Idempotency-Key": "k"})
    assert first.status_code == 201
    # The same key from another token is a new request: refused as a duplicate referral, not replayed.
    other = api.call("second", "POST", "/api/v1/referrals", json=referral_body, headers={"Idempotency-Key": "k"})
    assert other.status_code == 409, other.get_json()


def test_the_database_refuses_a_second_row_for_a_token_and_key(api, db, referral_body):
    first = api.call("clinic", "POST", "/api/v1/referrals", json=referral_body, headers={"Idempotency-Key": "k"})
    assert first.status_code == 201
    db.session.rollback()
    row = db.session.scalar(select(IdempotencyKey))
    db.session.add(IdempotencyKey(token_id=row.token_id, key_hash=row.key_hash, request_hash="0" * 64))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
