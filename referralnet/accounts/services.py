"""Account operations: plain functions that take the acting user explicitly and flush, never commit.

Every change is recorded in the audit log (`actor` None: the system, e.g. a CLI command).
"""
from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from referralnet.accounts.models import NetworkOrganization, OrgKind, User, normalize_email
from referralnet.accounts.passwords import MIN_PASSWORD_LENGTH, password_problems, role_problems  # noqa: F401
from referralnet.audit.services import audit
from referralnet.db import get_or_404, utcnow
from referralnet.directory.models import Organization
from referralnet.errors import ValidationFailed
from referralnet.extensions import db

_PHONE = re.compile(r"\+?[0-9 ().-]{7,24}( ?(ext\.?|x) ?[0-9]{1,6})?", re.IGNORECASE)
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None.

    A wrong password, an unknown email and a deactivated account all give None,
    so the caller cannot tell them apart (no account enumeration).
    """
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        # Spend the same time as a real check so timing does not reveal unknown emails.
        User(password_hash=_DUMMY_HASH).check_password(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    user.last_login_at = utcnow()
    return user


def create_organization(*, name: str, kind: str, directory_organization_id: str | None = None,
                        phone: str | None = None, actor: User | None = None) -> NetworkOrganization:
    """Add a member organization (`phone`: the number its patients call, shown on their status pages).
    Raises ValidationFailed for a duplicate name, unknown kind or listing, or a phone that is not one."""
    name = (name or "").strip()
    errors = {}
    phone = (phone or "").strip() or None
    if phone is not None and not _PHONE.fullmatch(phone):
        errors["phone"] = ["Enter a phone number (digits, spaces, + ( ) - . and “ext.”), like (650) 555-0100."]
    if not name:
        errors["name"] = ["Enter the organization's name."]
    elif db.session.scalar(select(NetworkOrganization).where(func.lower(NetworkOrganization.name) == name.lower())):
        errors["name"] = [f"An organization named “{name}” already exists."]
    if kind not in {k.value for k in OrgKind}:
        errors["kind"] = [f"Kind must be one of: {', '.join(k.value for k in OrgKind)}."]
    if directory_organization_id and db.session.get(Organization, directory_organization_id) is None:
        errors["directory_organization_id"] = ["No directory organization has this id."]
    if errors:
        raise ValidationFailed("The organization could not be created.", errors)
    org = NetworkOrganization(name=name, kind=kind, directory_organization_id=directory_organization_id or None,
                              phone=phone)
    db.session.add(org)
    db.session.flush()
    audit(actor, "organization.create", "network_organization", org.id, kind=kind,
          directory_organization_id=org.directory_organization_id)
    return org


_PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ().\-]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)


def check_work_phone(phone: str | None) -> tuple[str | None, str | None]:
    """A staff member's work phone as typed, cleaned: (number or None, None), or (None, why it is refused).
    Digits with the usual separators, a leading +, an extension ("x123", "ext. 123"); 7 to 15 digits."""
    phone = " ".join((phone or "").split())
    if not phone:
        return None, None
    digits = sum(ch.isdigit() for ch in re.split(r"x|ext", phone, maxsplit=1, flags=re.IGNORECASE)[0])
    if len(phone) > 32 or not _PHONE_CHARACTERS.match(phone) or not 7 <= digits <= 15:
        return None, (f"“{phone[:40]}” is not a phone number: use digits, spaces, dashes or brackets, "
                      "with 7 to 15 digits (an extension as “x123”).")
    return phone, None


def create_user(*, email: str, name: str, password: str | None, role: str, organization_id: int,
                actor: User | None = None, phone: str | None = None) -> User:
    """Add a user (`phone`: an optional work number); `password` None for an invitation
    (accounts.passwords.invite_user). Raises ValidationFailed naming each bad field; nothing is
    written then."""
    email = normalize_email(email or "")
    errors: dict[str, list[str]] = {}
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        errors["email"] = ["Enter a valid email address."]
    elif db.session.scalar(select(User).where(User.email == email)):
        errors["email"] = [f"A user with the email {email} already exists."]
    if not (name or "").strip():
        errors["name"] = ["Enter the person's name."]
    if password is not None and (problems := password_problems(password)):
        errors["password"] = problems
    org = db.session.get(NetworkOrganization, organization_id) if organization_id else None
    errors.update(role_problems(role, org))
    phone, phone_error = check_work_phone(phone)
    if phone_error:
        errors["phone"] = [phone_error]
    if errors:
        raise ValidationFailed("The user could not be created.", errors)
    user = User(email=email, name=name.strip(), role=role, organization=org, active=True, phone=phone)
    # Without a password (an invitation): a random one nobody knows, until they set theirs from the link.
    user.set_password(password if password is not None else secrets.token_urlsafe(32))
    db.session.add(user)
    db.session.flush()
    audit(actor, "user.create", "user", user.id, role=role, organization_id=org.id)
    return user


def set_user_active(user: User, active: bool, *, actor: User) -> User:
    """Activate or deactivate a user. An admin cannot deactivate themselves (they would lock the door)."""
    if not active and user.id == actor.id:
        raise ValidationFailed("You cannot deactivate your own account.")
    if user.active != active:
        user.active = active
        db.session.flush()
        audit(actor, "user.activate" if active else "user.deactivate", "user", user.id,
              organization_id=user.organization_id)
    return user


def set_organization_active(org: NetworkOrganization, active: bool, *, actor: User) -> NetworkOrganization:
    """Activate or deactivate an organization; its users cannot log in while it is inactive."""
    if not active and actor.organization_id == org.id:
        raise ValidationFailed("You cannot deactivate your own organization.")
    if org.active != active:
        org.active = active
        db.session.flush()
        audit(actor, "organization.activate" if active else "organization.deactivate", "network_organization",
              org.id)
    return org


def get_user(user_id: int) -> User:
    return get_or_404(User, user_id, "No such user.")


def get_organization(org_id: int) -> NetworkOrganization:
    return get_or_404(NetworkOrganization, org_id, "No such organization.")

