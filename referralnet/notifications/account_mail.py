"""Account emails: a one-time link to set a password (forgot password, an admin's reset link) or to
accept an invitation.

Accounts send `accounts.passwords.account_email_wanted` (they import nothing above them); this
module writes the email's outbox row, in the request's transaction, holding no link: ACCOUNT_LINK
is replaced when the message is rendered for sending (`account_link`), which issues the one-time
token then. So a usable token is never stored (only its hash), and a message that is retried gets a
fresh link that retires the one before. Delivered like every notification: `flask notifications
deliver` (cron), through the configured transport (SMTP in production).
"""
from __future__ import annotations

import secrets

from flask import current_app, url_for

from referralnet.accounts.models import User
from referralnet.accounts.passwords import INVITE, RESET, account_email_wanted, issue_account_token
from referralnet.extensions import db
from referralnet.notifications.models import Notification

ACCOUNT_LINK = "[[account_link]]"  # replaced by a fresh one-time link at delivery
EVENTS = {RESET: "account.password_reset", INVITE: "account.invitation"}
PURPOSE_OF_EVENT = {event: purpose for purpose, event in EVENTS.items()}


def enqueue_account_email(user: User, purpose: str) -> Notification:
    """The outbox row of an account email to `user` (flushed, not committed)."""
    hours = current_app.config.get("RESET_LINK_HOURS", 1)
    days = current_app.config.get("INVITE_LINK_DAYS", 7)
    if purpose == INVITE:
        subject = "You are invited to ReferralNet"
        body = "\n\n".join([
            f"Hello {user.name},",
            f"An administrator of ReferralNet made you an account ({user.email}, {user.organization.name}). "
            "Choose your password here to start:",
            ACCOUNT_LINK,
            f"The link works once and for {days} days. If you did not expect this, ignore this email.",
        ])
    else:
        subject = "Set a new ReferralNet password"
        body = "\n\n".join([
            f"Hello {user.name},",
            "Someone (you, or an administrator for you) asked to set a new password for your ReferralNet "
            f"account ({user.email}). Choose it here:",
            ACCOUNT_LINK,
            f"The link works once and for {hours:g} hour(s). If you did not ask for this, ignore this email: "
            "your password stays as it is.",
        ])
    row = Notification(event=EVENTS[purpose], channel="email", recipient_user_id=user.id, address=user.email,
                       language="en", subject=subject, body=body,
                       dedupe_key=f"account:{purpose}:{user.id}:{secrets.token_hex(8)}")
    db.session.add(row)
    db.session.flush()
    return row


def account_link(row: Notification, in_request) -> str:
    """A fresh one-time link for the account email `row` (issued now; earlier ones of its kind retire)."""
    token = issue_account_token(row.recipient_user, PURPOSE_OF_EVENT[row.event])
    return in_request(lambda t: _absolute(url_for("accounts.set_password", token=t)), token)


def _absolute(path: str) -> str:
    from referralnet.config import public_base_url

    return public_base_url() + path


@account_email_wanted.connect
def _on_account_email_wanted(user: User, purpose: str = RESET, **_) -> None:
    enqueue_account_email(user, purpose)
