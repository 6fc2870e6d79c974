"""API tokens: how another system (an EHR, a case-management system) acts for a member organization.

A token belongs to one member organization and one integration (its `name`). The secret
(`rn_` + `secrets.token_urlsafe(32)`, 256 bits) is shown once, when created; only its
sha256 is stored, with its first characters (`prefix`) so people can tell tokens apart.
Each token carries scopes (`API_SCOPES`), may expire, and can be revoked. Creation and
revocation are audited; use is audited too, at most once per token per minute (with
`last_used_at`, which therefore has minute precision), so that a busy integration does not
flood the audit log.

Who manages tokens: network admins, for any member organization (`/admin/tokens`). Users
have one role and there is no "organization admin" yet, so an organization cannot manage
its own tokens; `create_api_token` takes the acting user so that such a role can be allowed
here later without touching the callers.

Acting as the organization: every referral service takes a `User` actor and decides what
it may see and do from the actor's role and organization (`referrals.access`,
`states.parties_of`). Rather than teaching each of them about tokens, an API request acts
through a per-organization *integration service account*: a `User` of that organization
whose role follows the organization's kind (coordinator for a referring organization,
partner for a partner agency, admin for the network operator, who is party to no referral),
with an unusable password (it can never sign in) and the email
`api+<organization id>@integrations.referralnet.invalid`. So an API request is held to
exactly the rules of the organization's own staff, and the audit log and the referral
timeline show "<Organization> (API)" as the actor. One account per organization (not per
token) because the organization, not the integration, is the party to a referral; which
token was used is in the `api_token.use` audit rows. Deactivating the service account on the
users page (or the organization) stops every token of the organization from seeing anything.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from referralnet.accounts.models import API_SCOPES, ApiToken, NetworkOrganization, OrgKind, Role, User
from referralnet.db import bookkeeping, utcnow
from referralnet.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from referralnet.extensions import db
from referralnet.audit.services import audit

TOKEN_PREFIX = "rn_"
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8  # "rn_" and 8 characters of the secret: enough to tell tokens apart
USE_AUDIT_INTERVAL = timedelta(minutes=1)
MAX_NAME = 100
SERVICE_ACCOUNT_DOMAIN = "integrations.referralnet.invalid"  # .invalid: can never receive mail
# Not a werkzeug hash: check_password_hash() is False for every password, so nobody signs in as it.
UNUSABLE_PASSWORD = "!api-service-account"

_ROLE_FOR_KIND = {OrgKind.REFERRER.value: Role.COORDINATOR, OrgKind.PARTNER.value: Role.PARTNER,
                  OrgKind.NETWORK.value: Role.ADMIN}


class NotAuthenticated(DomainError):
    """No usable credential: missing, malformed, unknown, revoked or expired token (401)."""

    status = 401
    code = "unauthorized"


def hash_token(secret: str) -> str:
    """The stored form of a token: sha256 hex of the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- managing ----------------------------------------------------------------------------------

def may_manage_tokens(actor: Optional[User], organization: NetworkOrganization) -> bool:
    """Whether `actor` may create and revoke `organization`'s tokens: active network admins, for any."""
    return actor is not None and bool(actor.active) and actor.role == Role.ADMIN.value


def create_api_token(actor: User, organization: NetworkOrganization, *, name: str, scopes: Iterable[str],
                     expires_at: Optional[datetime] = None, now: Optional[datetime] = None) -> tuple[ApiToken, str]:
    """Create a token for one integration of `organization`; returns (token, secret).

    The secret is returned here only: it is not stored and cannot be shown again. Also makes
    sure the organization's integration service account exists. Raises NotPermitted (not a
    network admin), ValidationFailed (no name or name too long, no or unknown scopes, an
    expiry in the past, an inactive organization).
    """
    if not may_manage_tokens(actor, organization):
        raise NotPermitted("Only network admins can create API tokens.")
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Name the integration that will use the token, like “Epic at Mission Clinic”."]
    elif len(name) > MAX_NAME:
        errors["name"] = [f"Keep the name under {MAX_NAME} characters."]
    scopes = list(dict.fromkeys(scopes or []))
    if not scopes:
        errors["scopes"] = ["Choose at least one scope."]
    elif set(scopes) - set(API_SCOPES):
        errors["scopes"] = [f"Choose scopes from: {', '.join(API_SCOPES)}."]
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = ["The expiry must be in the future."]
    if not organization.active:
        errors["organization_id"] = ["The organization is deactivated."]
    if errors:
        raise ValidationFailed("The token was not created.", errors)

    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(organization_id=organization.id, name=name, prefix=secret[:PREFIX_LENGTH],
                     token_hash=hash_token(secret), scopes=[s for s in API_SCOPES if s in scopes],
                     created_by_id=actor.id, expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    service_account_for(organization)
    audit(actor, "api_token.create", "api_token", token.id, organization_id=organization.id, scopes=token.scopes,
          expires=expires_at is not None, now=now)
    return token, secret


def revoke_api_token(actor: User, token: ApiToken, *, now: Optional[datetime] = None) -> ApiToken:
    """Revoke a token: it stops working at once. Revoking twice is harmless. Raises NotPermitted."""
    if not may_manage_tokens(actor, token.organization):
        raise NotPermitted("Only network admins can revoke API tokens.")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        db.session.flush()
        audit(actor, "api_token.revoke", "api_token", token.id, organization_id=token.organization_id, now=now)
    return token


def list_api_tokens(organization_id: Optional[int] = None) -> list[ApiToken]:
    """Tokens (of one organization, or all), newest first. They hold no secret to show."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if organization_id is not None:
        query = query.where(ApiToken.organization_id == organization_id)
    return list(db.session.scalars(query))


def get_api_token(token_id) -> ApiToken:
    """The token with this id; NotFound otherwise."""
    try:
        token = db.session.get(ApiToken, int(token_id))
    except (TypeError, ValueError, OverflowError):
        token = None
    if token is None:
        raise NotFound("No such API token.")
    return token


def token_state(token: ApiToken, now: Optional[datetime] = None) -> str:
    """"active", "revoked" or "expired"."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


# --- service accounts ----------------------------------------------------------------------------

def service_account_email(organization_id: int) -> str:
    return f"api+{organization_id}@{SERVICE_ACCOUNT_DOMAIN}"


def service_account_for(organization: NetworkOrganization) -> User:
    """The organization's integration service account (see the module docstring), created if missing.

    Flushes and audits the creation. A concurrent first creation (unique email) is caught in a
    savepoint and the other request's account is used.
    """
    email = service_account_email(organization.id)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user
    user = User(email=email, name=f"{organization.name} (API)"[:200], password_hash=UNUSABLE_PASSWORD,
                role=_ROLE_FOR_KIND.get(organization.kind, Role.ADMIN).value, organization_id=organization.id,
                active=True)
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        return db.session.scalar(select(User).where(User.email == email))
    audit(None, "user.create", "user", user.id, role=user.role, organization_id=organization.id,
          service_account=True)
    return user


def is_service_account(user: User) -> bool:
    return user.email.endswith("@" + SERVICE_ACCOUNT_DOMAIN)


# --- authenticating ------------------------------------------------------------------------------

def parse_bearer(header: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        return None
    return value


def authenticate_token(secret: Optional[str], *, now: Optional[datetime] = None) -> ApiToken:
    """The usable token with this secret. Raises NotAuthenticated (the same message whatever is wrong,
    except that an expired or revoked token says so: its holder already knows it existed)."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise NotAuthenticated("Send a valid API token as “Authorization: Bearer <token>”.")
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret))
                              .options(joinedload(ApiToken.organization)))  # read on every request
    if token is None:
        raise NotAuthenticated("Send a valid API token as “Authorization: Bearer <token>”.")
    state = token_state(token, now)
    if state != "active":
        raise NotAuthenticated(f"This API token is {state}.")
    if not token.organization.active:
        raise NotAuthenticated("This API token's organization is deactivated.")
    return token


@bookkeeping
def record_token_use(token: ApiToken, *, now: Optional[datetime] = None) -> bool:
    """Set `last_used_at` and audit the use, at most once per token per USE_AUDIT_INTERVAL.

    One conditional UPDATE decides, so concurrent requests record one use. It is part of the
    request's transaction: a request that fails (4xx/5xx) is rolled back with its use record.
    Returns True when a use was recorded. Bookkeeping (`db.bookkeeping`): when the database is
    busy, the request goes on and the use is recorded after the response.
    """
    now = now or utcnow()
    result = db.session.execute(
        update(ApiToken).where(ApiToken.id == token.id,
                               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - USE_AUDIT_INTERVAL))
        .values(last_used_at=now).execution_options(synchronize_session=False))
    db.session.expire(token, ["last_used_at", "updated_at"])
    if result.rowcount != 1:
        return False
    audit(None, "api_token.use", "api_token", token.id, organization_id=token.organization_id, now=now)
    return True
