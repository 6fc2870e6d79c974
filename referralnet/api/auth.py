"""What the REST API and FHIR share at the door: the bearer-token check and the rate-limit key."""
from __future__ import annotations

import hashlib

from flask import g, request
from flask_limiter.util import get_remote_address

from referralnet.api.tokens import authenticate_token, parse_bearer, record_token_use, service_account_for


def authenticate_request() -> None:
    """Authenticate the request's bearer token (401 otherwise): sets g.api_token and g.api_actor, the
    organization's integration service account, and records the use. Before every REST and FHIR request."""
    token = authenticate_token(parse_bearer(request.headers.get("Authorization")))
    g.api_token = token
    g.api_actor = service_account_for(token.organization)
    record_token_use(token)


def token_rate_key() -> str:
    """Limit per token. Keyed by a hash of the presented token, not its public prefix: the prefix is
    shown in token lists, so keying by it would let anyone exhaust another integration's limit."""
    secret = parse_bearer(request.headers.get("Authorization"))
    if secret:
        return "api-token:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:24]
    return "api-addr:" + (get_remote_address() or "unknown")
