"""The staff notifications page: one's own notifications only, read state, the nav count."""
from __future__ import annotations

from datetime import timedelta

from referralnet.db import utcnow
from referralnet.notifications.models import Notification
from tests.conftest import form_token


def notify(db, user, n: int = 1, *, read: bool = False, subject: str = "Referral accepted", **kw):
    made = []
    now = utcnow()
    for i in range(n):
        row = Notification(event="referral.accepted", channel="app", recipient_user_id=user.id, state="sent",
                           subject=f"{subject} {i}" if n > 1 else subject, body="Eastside updated a referral.",
                           created_at=now + timedelta(seconds=i), read_at=now if read else None, **kw)
        db.session.add(row)
        made.append(row)
    db.session.commit()
    return made


def test_page_needs_login(client):
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_shows_own_notifications_newest_first_with_unread_count(client, db, login_as, make_user):
    me = login_as("coordinator")
    other = make_user("coordinator")
    notify(db, me, subject="Older one", read=True)
    notify(db, me, subject="Newer one")
    notify(db, other, subject="Someone else's secret")
    db.session.add(Notification(event="referral.accepted", channel="email", recipient_user_id=me.id,
                                address=me.email, subject="The email twin", body="x"))
    db.session.commit()

    html = client.get("/notifications").get_data(as_text=True)
    assert "<h1>Notifications</h1>" in html
    assert html.index("Newer one") < html.index("Older one")
    assert "Someone else" not in html and "The email twin" not in html
    assert "1 unread" in html
    assert '<span class="badge badge-warn">1<span class="visually-hidden"> unread</span></span>' in html  # nav
    assert html.count(">New</span>") == 1
    assert '<button type="submit" class="button">Mark all as read</button>' in html


def test_opening_marks_read_and_goes_to_the_referral(client, db, login_as, make_user):
    me = login_as("partner")
    [row] = notify(db, me)
    response = client.get(f"/notifications/{row.id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, row.id).read_at is not None


def test_another_users_notification_cannot_be_opened_or_marked(client, db, login_as, make_user):
    login_as("coordinator")
    victim = make_user("partner")
    [theirs] = notify(db, victim)
    assert client.get(f"/notifications/{theirs.id}").status_code == 404
    token = form_token(client, "/notifications")
    assert client.post("/notifications/read", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, theirs.id).read_at is None


def test_mark_all_read_needs_csrf_and_marks_only_own(client, db, login_as, make_user):
    me = login_as("coordinator")
    other = make_user("coordinator")
    mine = notify(db, me, 3)
    [theirs] = notify(db, other)
    assert client.post("/notifications/read").status_code == 400
    token = form_token(client, "/notifications")
    response = client.post("/notifications/read", data={"csrf_token": token}, follow_redirects=True)
    assert "Marked 3 notifications as read." in response.get_data(as_text=True)
    db.session.expire_all()
    assert all(db.session.get(Notification, r.id).read_at is not None for r in mine)
    assert db.session.get(Notification, theirs.id).read_at is None
    assert "0 unread" in client.get("/notifications").get_data(as_text=True)


def test_paginated(client, db, login_as):
    me = login_as("partner")
    notify(db, me, 30, subject="Item")
    first = client.get("/notifications").get_data(as_text=True)
    assert "Item 29" in first and "Item 4<" not in first and "Page 1 of 2" in first
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert "Item 4<" in second and "Item 29" not in second


def test_unread_json_counts_only_ones_own(client, db, login_as, make_user):
    from referralnet.notifications.models import Notification

    me = login_as("partner")
    other = make_user("partner")
    db.session.add_all([
        Notification(event="referral.sent", channel="app", recipient_user_id=me.id, body="x", subject="New referral",
                     state="sent"),
        Notification(event="referral.sent", channel="app", recipient_user_id=other.id, body="y", subject="Theirs",
                     state="sent"),
        Notification(event="referral.sent", channel="email", recipient_user_id=me.id, body="z", subject="Mail",
                     state="pending"),
    ])
    db.session.commit()
    data = client.get("/notifications/unread.json").get_json()
    assert data["unread"] == 1 and [n["subject"] for n in data["latest"]] == ["New referral"]
