"""Passwords people manage themselves: change your own, reset a forgotten one, accept an invitation.

One-time links ("reset": forgot password or sent by an admin; "invite": a new account's first
password) carry 256 bits of randomness; only the token's sha256 is stored (`AccountToken`), so a copy
of the database opens no account. A link is good once, expires (RESET_LINK_HOURS, INVITE_LINK_DAYS),
and issuing a new one for the same person and purpose retires the earlier ones.

The email itself is the notifications outbox's: `account_email_wanted` is sent (accounts import
no package above them), the outbox writes an email row holding no link, and the link is issued only
when the message is rendered for sending (`issue_account_token`), so no usable token ever sits in
the outbox either.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Optional

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import select, update

from referralnet.accounts.models import AccountToken, NetworkOrganization, OrgKind, Role, User, normalize_email
from referralnet.audit.services import audit
from referralnet.db import utcnow
from referralnet.errors import NotFound, ValidationFailed
from referralnet.extensions import db

RESET = "reset"
INVITE = "invite"
PURPOSES = (RESET, INVITE)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
TOKEN_BYTES = 32  # 256 bits; 43 characters in base64url
MAX_TOKEN_LENGTH = 64

_signals = Namespace()
# sent with (user, purpose): the outbox emails `user` a one-time link for `purpose`.
account_email_wanted = _signals.signal("account-email-wanted")


def password_problems(password: Optional[str], user: Optional[User] = None) -> list[str]:
    """What is wrong with `password` as a new password (empty: nothing). The rules for every way a
    password is set: at least MIN_PASSWORD_LENGTH characters, not the person's email or name."""
    password = password or ""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    elif len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Keep the password under {MAX_PASSWORD_LENGTH} characters.")
    elif user is not None and password.strip().lower() in {(user.email or "").lower(), (user.name or "").lower()}:
        problems.append("Choose a password that is not your email address or name.")
    return problems


def change_password(user: User, current: str, new: str, confirm: Optional[str] = None) -> User:
    """The signed-in user changes their own password; the current one is required.

    Raises ValidationFailed naming the field: a wrong current password, a weak new one, a
    confirmation that differs, or the same password again. Retires their open reset links. Flushes.
    """
    errors: dict[str, list[str]] = {}
    if not user.check_password(current or ""):
        errors["current_password"] = ["That is not your current password."]
    problems = password_problems(new, user)
    if problems:
        errors["new_password"] = problems
    elif confirm is not None and confirm != new:
        errors["confirm_password"] = ["The two new passwords are not the same."]
    elif not errors and user.check_password(new):
        errors["new_password"] = ["Choose a password different from the current one."]
    if errors:
        raise ValidationFailed("The password was not changed.", errors)
    user.set_password(new)
    _retire_tokens(user, PURPOSES)
    db.session.flush()
    audit(user, "user.password_change", "user", user.id)
    return user


def request_password_reset(email: str) -> Optional[User]:
    """Someone asks for a reset link for `email` ("forgot password"). An active account gets an email
    with a one-time link (through `account_email_wanted`); returns it, or None for an unknown or
    deactivated address. The caller answers the same either way (no account enumeration)."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email or "")))
    if user is None or not user.is_active:
        return None
    audit(None, "user.password_reset_request", "user", user.id, via="forgot-password")
    account_email_wanted.send(user, purpose=RESET)
    return user


def send_reset_link(actor: User, user: User) -> User:
    """An admin sends `user` a reset link instead of setting their password. Raises ValidationFailed
    for a deactivated account (the link could not be used)."""
    if not user.is_active:
        raise ValidationFailed(f"{user.email} is deactivated: reactivate the account first.")
    audit(actor, "user.password_reset_request", "user", user.id, via="admin")
    account_email_wanted.send(user, purpose=RESET)
    return user


def invite_user(*, email: str, name: str, role: str, organization_id: int, actor: User,
                phone: str | None = None) -> User:
    """Add a user without a password and email them an invitation link to set one. Raises what
    accounts.services.create_user raises."""
    from referralnet.accounts.services import create_user

    user = create_user(email=email, name=name, password=None, role=role, organization_id=organization_id,
                       actor=actor, phone=phone)
    audit(actor, "user.invite", "user", user.id)
    account_email_wanted.send(user, purpose=INVITE)
    return user


def update_user(actor: User, user: User, *, name: str, role: str, organization_id: int) -> User:
    """An admin corrects a user's name, role and organization. Raises ValidationFailed naming the field
    (an empty name, an unknown role or organization, a role that does not fit the organization, an
    admin taking away their own admin role). Flushes; audited with the fields that changed."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Enter the person's name."]
    elif len(name) > 200:
        errors["name"] = ["Keep the name under 200 characters."]
    org = db.session.get(NetworkOrganization, organization_id) if organization_id else None
    errors.update(role_problems(role, org))
    if user.id == actor.id and role != user.role:
        errors["role"] = ["You cannot change your own role; ask another admin."]
    if errors:
        raise ValidationFailed("The user was not changed.", errors)
    changed = [field for field, value in (("name", name), ("role", role), ("organization_id", org.id))
               if getattr(user, field) != value]
    user.name, user.role, user.organization = name, role, org
    db.session.flush()
    if changed:
        audit(actor, "user.update", "user", user.id, fields=changed, role=role, organization_id=org.id)
    return user


def role_problems(role: str, org: Optional[NetworkOrganization]) -> dict[str, list[str]]:
    """The field errors of a user with `role` in `org` (empty: none): the rules of creating and editing."""
    if role not in {r.value for r in Role}:
        return {"role": [f"Role must be one of: {', '.join(r.value for r in Role)}."]}
    if org is None:
        return {"organization_id": ["Choose an existing organization."]}
    if role == Role.PARTNER.value and org.kind != OrgKind.PARTNER.value:
        return {"organization_id": ["Partner staff must belong to a partner agency."]}
    if role == Role.COORDINATOR.value and org.kind == OrgKind.PARTNER.value:
        return {"organization_id": ["Care coordinators belong to a referring organization, not a partner agency."]}
    return {}


def record_session_timeout(user: User) -> None:
    """A staff session ended after IDLE_TIMEOUT_MINUTES without a request (the audit log says so)."""
    audit(user, "user.session_timeout", "user", user.id)


# --- the one-time links -------------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_account_token(user: User, purpose: str, *, actor: Optional[User] = None) -> str:
    """A new one-time link token for `user` (returned once; only its hash is kept). Earlier unused links
    of the same purpose stop working. Flushes."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    _retire_tokens(user, (purpose,))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    db.session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=hash_token(token), created_at=now,
                                expires_at=now + _lifetime(purpose), created_by_id=actor.id if actor else None))
    db.session.flush()
    return token


def find_account_token(token: str) -> Optional[AccountToken]:
    """The open link `token` names (unused, unexpired, of an active account), or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.session.scalar(select(AccountToken).where(AccountToken.token_hash == hash_token(token)))
    if row is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
        return None
    if row.used_at is not None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row


def set_password_with_token(token: str, new: str, confirm: Optional[str] = None) -> User:
    """Set the password through a one-time link; the link (and every other open one of the person's) is
    then used up. Raises NotFound for a used, expired, unknown or guessed link, ValidationFailed for a
    weak password or a confirmation that differs. Flushes."""
    row = find_account_token(token)
    if row is None:
        raise NotFound("This link does not work any more: it was used, it expired, or it is not complete. "
                       "Ask for a new one.")
    user = row.user
    problems = password_problems(new, user)
    if problems:
        raise ValidationFailed("The password was not set.", {"new_password": problems})
    if confirm is not None and confirm != new:
        raise ValidationFailed("The password was not set.",
                               {"confirm_password": ["The two passwords are not the same."]})
    user.set_password(new)
    row.used_at = utcnow()
    _retire_tokens(user, PURPOSES)
    db.session.flush()
    audit(None, "user.password_reset", "user", user.id, purpose=row.purpose)
    return user


def _retire_tokens(user: User, purposes) -> None:
    db.session.execute(update(AccountToken).where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None),
                                                  AccountToken.purpose.in_(list(purposes)))
                       .values(used_at=utcnow()).execution_options(synchronize_session=False))


def _lifetime(purpose: str) -> timedelta:
    config = current_app.config if has_app_context() else {}
    if purpose == INVITE:
        return timedelta(days=int(config.get("INVITE_LINK_DAYS", 7)))
    return timedelta(hours=float(config.get("RESET_LINK_HOURS", 1)))
