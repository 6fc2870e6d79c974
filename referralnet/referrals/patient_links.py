"""The patient's status-page link: an unguessable token per referral.

token = base64url(HMAC-SHA256(SECRET_KEY, "patient-link:<referral id>:<salt>")), 256 bits
(`referrals.link_tokens`, shared with the agency's secure link).
The database keeps the random salt (128 bits) and sha256(token), never the token: a copy
of the database alone opens no status page, and the link can still be put into a message
when that message is delivered (`token_for`). Reissuing draws a new salt, so the old link
stops working; revoking clears both, so no link works until a new one is issued.
"""
from __future__ import annotations

import hmac
from datetime import datetime
from typing import Optional

from sqlalchemy import select, update

from referralnet.accounts.models import User
from referralnet.db import utcnow
from referralnet.errors import NotPermitted
from referralnet.extensions import db
from referralnet.referrals.link_tokens import TOKEN_PATTERN, derive_token, hash_token, new_salt, public_url
from referralnet.referrals.models import Referral
from referralnet.referrals.states import Party, parties_of

__all__ = ["TOKEN_PATTERN", "hash_token", "ensure_link", "reissue_link", "revoke_link", "token_for", "status_url",
           "find_referral"]


def _derive(referral_id: int, salt: str) -> str:
    return derive_token("patient-link", referral_id, salt)


def ensure_link(referral: Referral, *, now: Optional[datetime] = None) -> str:
    """The referral's token, issuing one first if it has none (when a referral is sent). Flushes."""
    if referral.patient_token_salt is None:
        _issue(referral, now)
    return token_for(referral)


def reissue_link(actor: User, referral: Referral, *, now: Optional[datetime] = None) -> str:
    """A new link for the patient (the old one stops working). Sending coordinators only."""
    _require_sender(actor, referral)
    _issue(referral, now)
    from referralnet.audit.services import audit

    audit(actor, "referral.patient_link.issue", "referral", referral.id, now=now)
    return token_for(referral)


def revoke_link(actor: User, referral: Referral, *, now: Optional[datetime] = None) -> None:
    """No link works for this referral until a new one is issued. Sending coordinators only."""
    _require_sender(actor, referral)
    _store(referral, salt=None, token_hash=None, issued_at=None)
    from referralnet.audit.services import audit

    audit(actor, "referral.patient_link.revoke", "referral", referral.id, now=now)


def token_for(referral: Referral) -> Optional[str]:
    """The current token (None when revoked or never issued)."""
    if referral.patient_token_salt is None:
        return None
    return _derive(referral.id, referral.patient_token_salt)


def status_url(referral: Referral) -> Optional[str]:
    """The patient's status-page address for this referral, or None when it has no link.

    Absolute: built on PUBLIC_BASE_URL when set (messages are rendered outside any request,
    by `flask notifications deliver`), else on the current request's host.
    """
    token = token_for(referral)
    return None if token is None else public_url("status.status_page", token)


def find_referral(token: str, *options) -> Optional[Referral]:
    """The referral this token opens, or None (unknown, malformed, revoked or reissued). `options` are
    loader options for the query (what the page shows, loaded with the referral)."""
    if not token or len(token) > 64:
        return None
    referral = db.session.scalar(select(Referral).where(Referral.patient_token_hash == hash_token(token))
                                 .options(*options))
    if referral is None or referral.patient_token_salt is None:
        return None
    # Constant-time re-check against the derived token (the hash lookup alone would do; this
    # also refuses a token left over from another SECRET_KEY).
    return referral if hmac.compare_digest(token_for(referral), token) else None


def _issue(referral: Referral, now: Optional[datetime]) -> None:
    if referral.id is None:
        db.session.flush()
    salt = new_salt()
    _store(referral, salt=salt, token_hash=hash_token(_derive(referral.id, salt)), issued_at=now or utcnow())


def _store(referral: Referral, *, salt, token_hash, issued_at) -> None:
    """Write the link columns without bumping `version`: a new patient link is not a change
    to the referral that should make a partner's open page stale."""
    db.session.flush()
    db.session.execute(update(Referral).where(Referral.id == referral.id)
                       .values(patient_token_salt=salt, patient_token_hash=token_hash,
                               patient_link_issued_at=issued_at).execution_options(synchronize_session=False))
    db.session.expire(referral, ["patient_token_salt", "patient_token_hash", "patient_link_issued_at", "updated_at"])


def _require_sender(actor: User, referral: Referral) -> None:
    if Party.SENDING_COORDINATOR not in parties_of(actor, referral):
        raise NotPermitted("Only a coordinator of the sending organization can manage the patient's link.")
