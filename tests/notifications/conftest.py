"""Fixtures for the notification tests: the referral world, a real SMTP server, a local SMS gateway."""
from __future__ import annotations

import json
import socket
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from referralnet.notifications.models import Notification
from referralnet.referrals import patient_links
from referralnet.referrals import services as sv
from tests.referrals.conftest import consent_for, make_client, make_referral, world  # noqa: F401


@pytest.fixture(autouse=True)
def status_page_link(app, monkeypatch):
    """The patient's status link. Uses the real status page when the app has one; until it is
    registered, a stand-in with the same contract (None when revoked)."""
    if "status.status_page" not in app.view_functions:
        def fake_status_url(referral):
            token = patient_links.token_for(referral)
            return None if token is None else f"{app.config['PUBLIC_BASE_URL'] or 'http://127.0.0.1:5000'}/s/{token}"

        monkeypatch.setattr(patient_links, "status_url", fake_status_url)


@pytest.fixture()
def send(db, world):
    """Send a referral (through the real service) for a new client of Mission Clinic with `fields`."""
    names = iter(["Ximena", "Yusuf", "Zoltan", "Wilhelmina", "Valentina", "Ulrich"])

    def do(service=None, **fields):
        service = service or world.pantry
        values = dict(given_name=next(names), family_name="Quetzalcoatl", date_of_birth=date(1971, 9, 17),
                      phone="415-555-0199", email="patient@example.net", contact_preference="sms")
        values.update(fields)
        client = sv.create_client(world.coordinator, **values)
        sv.record_consent(world.coordinator, client, service.organization_id, "verbal")
        return sv.send_referral(world.coordinator, client, service.id, category="food-insecurity")

    return do


def rows(db, **where) -> list[Notification]:
    query = select(Notification).order_by(Notification.id)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return list(db.session.scalars(query))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(SimpleNamespace(rcpt_tos=list(envelope.rcpt_tos), mail_from=envelope.mail_from,
                                             message=message_from_bytes(envelope.content, policy=default)))
        return "250 Message accepted for delivery"


@pytest.fixture()
def smtp_server(app, monkeypatch):
    """A real SMTP server (aiosmtpd) on 127.0.0.1; the app is pointed at it. `.messages` are received."""
    from aiosmtpd.controller import Controller

    collector = _Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "NOTIFICATION_TRANSPORT", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    monkeypatch.setitem(app.config, "MAIL_FROM", "ReferralNet <noreply@referralnet.test>")
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 5)
    try:
        yield collector
    finally:
        controller.stop()


@pytest.fixture()
def sms_gateway(app, monkeypatch):
    """A local HTTP SMS gateway in a thread. Set `.statuses` to the answers to give (default 200s)."""
    state = SimpleNamespace(requests=[], statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            state.requests.append(SimpleNamespace(path=self.path, headers=dict(self.headers),
                                                  json=json.loads(self.rfile.read(length))))
            status = state.statuses.pop(0) if state.statuses else 200
            body = json.dumps({"ok": 200 <= status < 300}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", f"http://127.0.0.1:{server.server_address[1]}/messages")
    monkeypatch.setitem(app.config, "SMS_GATEWAY_TOKEN", "gateway-token")
    monkeypatch.setitem(app.config, "SMS_FROM", "+14155550000")
    monkeypatch.setitem(app.config, "SMS_TIMEOUT", 5)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
