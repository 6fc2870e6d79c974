"""Turning an outbox row into the message that goes on the wire, at delivery time.

Two things are decided only now, because they may have changed since the row was written:

- the patient's status link (never stored: bodies hold `outbox.STATUS_LINK`), and the
  agency's secure link (`outbox.AGENCY_LINK`, sent to the referral's current agency address).
  A link revoked since means the message is not sent (the row becomes "skipped");
- whether the recipient may still be reached this way: a patient who has since asked not to
  be contacted, or switched channel, gets nothing; a deactivated staff user gets nothing.
  A patient's current phone number or email address is used, not the one at enqueue time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from flask import current_app, has_request_context

from referralnet.config import public_base_url
from referralnet.extensions import db
from referralnet.notifications.account_mail import ACCOUNT_LINK, account_link
from referralnet.notifications.models import Notification
from referralnet.notifications.outbox import AGENCY_LINK, STATUS_LINK, patient_channel
from referralnet.referrals import agency_links, patient_links
from referralnet.referrals.models import Client, Referral


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to hand to a transport. `repr` names the id and channel only (no content)."""

    notification_id: int
    channel: str
    to: str
    subject: Optional[str]
    body: str
    language: str

    def __repr__(self) -> str:
        return f"OutgoingMessage(notification_id={self.notification_id}, channel={self.channel!r})"

    @property
    def idempotency_key(self) -> str:
        return f"notification-{self.notification_id}"


class Skip(Exception):
    """This notification must not be sent any more; the message says why (no personal data)."""


def render(row: Notification) -> OutgoingMessage:
    """The message for `row`, or raise Skip."""
    to = row.address
    if row.recipient_client_id is not None:
        client = db.session.get(Client, row.recipient_client_id)
        if client is None or patient_channel(client) != row.channel:
            raise Skip("patient contact preference changed")
        to = client.phone if row.channel == "sms" else client.email
    elif row.recipient_user is not None and not row.recipient_user.is_active:
        raise Skip("recipient deactivated")
    agency_link = None
    if AGENCY_LINK in row.body:
        referral = db.session.get(Referral, row.referral_id) if row.referral_id is not None else None
        link = agency_links.current_link(referral) if referral is not None else None
        agency_link = _in_request(agency_links.link_url, link) if link is not None else None
        if agency_link is None:
            raise Skip("agency link revoked")
        to = referral.agency_email
    if not to:
        raise Skip("no address")
    body = row.body
    if STATUS_LINK in body:
        referral = db.session.get(Referral, row.referral_id) if row.referral_id is not None else None
        link = _status_link(referral) if referral is not None else None
        if link is None:
            raise Skip("status link revoked")
        body = body.replace(STATUS_LINK, link)
    if agency_link is not None:
        body = body.replace(AGENCY_LINK, agency_link)
    if ACCOUNT_LINK in body:
        body = body.replace(ACCOUNT_LINK, account_link(row, _in_request))
    return OutgoingMessage(notification_id=row.id, channel=row.channel, to=to, subject=row.subject, body=body,
                           language=row.language)


def _status_link(referral: Referral) -> Optional[str]:
    return _in_request(patient_links.status_url, referral)


def _in_request(build, item) -> Optional[str]:
    if has_request_context():
        return build(item)
    # Delivery runs from cron, outside any request; url_for needs one to build the path.
    with current_app.test_request_context(base_url=public_base_url()):
        return build(item)
