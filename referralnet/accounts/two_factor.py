"""Two-factor sign-in for staff: TOTP codes from an authenticator app, and one-time recovery codes.

- Required for network admins always, and for everyone when REQUIRE_TWO_FACTOR=1. Others may
  turn it on from their account page.
- Enrolment: a new secret is shown as a QR code (segno) and as text; it is saved only when a code
  from the app checks out, so a half-finished enrolment leaves nothing behind. Ten recovery codes
  are then shown once; only their sha256 is kept (they are 50 random bits each, so a fast hash is
  enough), and each works once.
- A TOTP code is good in its 30-second step or the one either side (clock drift), and only once:
  the last accepted step is stored, and a code of that step or an earlier one is refused.
- A lost device: an admin resets the user's second factor (audited); the user enrols again at
  their next sign-in (or from their account page, if it is not required for them).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Optional

import pyotp
import segno
from flask import current_app

from referralnet.accounts.models import RecoveryCode, Role, User
from referralnet.audit.services import audit
from referralnet.db import utcnow
from referralnet.errors import NotPermitted, ValidationFailed
from referralnet.extensions import db

ISSUER = "ReferralNet"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read off paper


def two_factor_required(user: User) -> bool:
    """Whether `user` must use a second factor to sign in (admins always; everyone with REQUIRE_TWO_FACTOR)."""
    return user.has_role(Role.ADMIN) or bool(current_app.config.get("REQUIRE_TWO_FACTOR"))


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, with a title for screen readers."""
    return segno.make(uri, error="m").svg_inline(scale=4, title="QR code to add ReferralNet to an authenticator app")


def _hash(code: str) -> str:
    return hashlib.sha256(_normalize(code).encode()).hexdigest()


def _normalize(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _matching_step(secret: str, code: str, now: datetime) -> Optional[int]:
    """The time step (of now, or one either side) whose TOTP code is `code`, or None."""
    code = _normalize(code)
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    user.recovery_codes.clear()
    codes = ["-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
             for _ in range(RECOVERY_CODES)]
    user.recovery_codes.extend(RecoveryCode(code_hash=_hash(c), created_at=now) for c in codes)
    return codes


def enroll(user: User, secret: str, code: str, *, now: Optional[datetime] = None) -> list[str]:
    """Turn two-factor sign-in on for `user` with `secret`, proven by a current `code` from the app.
    Returns the new recovery codes (the only time they are seen). Raises ValidationFailed (wrong code)."""
    now = now or utcnow()
    step = _matching_step(secret, code, now)
    if step is None:
        raise ValidationFailed("That code does not match: check the app shows ReferralNet and try the current code.",
                               {"code": ["Enter the 6-digit code the app shows now."]})
    user.totp_secret, user.two_factor_enabled_at, user.totp_last_step = secret, now, step
    codes = _new_recovery_codes(user, now)
    db.session.flush()
    audit(user, "user.two_factor_enroll", "user", user.id, now=now)
    return codes


def verify_second_factor(user: User, code: str, *, now: Optional[datetime] = None) -> str:
    """Check a sign-in's second factor: a TOTP code not used before, or an unused recovery code
    (which is then used up). Returns "totp" or "recovery"; raises ValidationFailed otherwise."""
    now = now or utcnow()
    if not user.two_factor_enabled:
        raise NotPermitted("Two-factor sign-in is not set up for this account.")
    step = _matching_step(user.totp_secret, code, now)
    if step is not None:
        if user.totp_last_step is not None and step <= user.totp_last_step:
            raise ValidationFailed("That code was already used. Wait for the app to show the next one.",
                                   {"code": ["That code was already used; enter the next one."]})
        user.totp_last_step = step
        db.session.flush()
        return "totp"
    hashed = _hash(code)
    for recovery in user.recovery_codes:
        if recovery.used_at is None and hmac.compare_digest(recovery.code_hash, hashed):
            recovery.used_at = now
            db.session.flush()
            audit(user, "user.recovery_code_use", "user", user.id, left=remaining_recovery_codes(user), now=now)
            return "recovery"
    raise ValidationFailed("That code is not right, or that recovery code was already used.",
                           {"code": ["Enter the 6-digit code from the app, or an unused recovery code."]})


def remaining_recovery_codes(user: User) -> int:
    return sum(1 for c in user.recovery_codes if c.used_at is None)


def regenerate_recovery_codes(user: User, *, now: Optional[datetime] = None) -> list[str]:
    """New recovery codes for `user` (the old ones stop working). Raises NotPermitted if not enrolled."""
    if not user.two_factor_enabled:
        raise NotPermitted("Set up two-factor sign-in first.")
    now = now or utcnow()
    codes = _new_recovery_codes(user, now)
    db.session.flush()
    audit(user, "user.recovery_codes_regenerate", "user", user.id, now=now)
    return codes


def reset_two_factor(actor: User, user: User, *, now: Optional[datetime] = None) -> None:
    """An admin turns off `user`'s second factor (a lost device): the secret and recovery codes go,
    and the user enrols again at their next sign-in. Raises NotPermitted (not an admin, or oneself:
    another admin must do it, so a stolen admin session cannot quietly remove its own second factor)."""
    if not actor.has_role(Role.ADMIN):
        raise NotPermitted("Only network admins can reset two-factor sign-in.")
    if actor.id == user.id:
        raise NotPermitted("Another admin has to reset your own two-factor sign-in.")
    user.totp_secret = user.two_factor_enabled_at = user.totp_last_step = None
    user.recovery_codes.clear()
    db.session.flush()
    audit(actor, "user.two_factor_reset", "user", user.id, now=now)
