"""The token machinery shared by the patient's status link and the agency's secure link.

token = base64url(HMAC-SHA256(SECRET_KEY, "<purpose>:<id>:<salt>")), 256 bits. The database
keeps the random salt (128 bits) and sha256(token), never the token: a copy of the database
alone opens nothing, and a message can still carry the link when it is delivered (the token
is derived again from the salt). A new salt makes the old token stop working.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app, url_for

from referralnet.config import public_base_url

TOKEN_PATTERN = r"[A-Za-z0-9_-]{43}"  # 32 bytes, base64url without padding
MAX_TOKEN_LENGTH = 64  # longer input is refused before any lookup


def derive_token(purpose: str, ident: int, salt: str) -> str:
    """The token for row `ident` of `purpose` with this salt."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    digest = hmac.new(key, f"{purpose}:{ident}:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def plausible(token: str) -> bool:
    """Cheap shape check before a lookup (a guessed token of any shape gets the same answer)."""
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH


def same_token(expected: str, given: str) -> bool:
    """Constant-time comparison (also refuses a token left over from another SECRET_KEY)."""
    return hmac.compare_digest(expected, given)


def public_url(endpoint: str, token: str) -> str:
    """The absolute address of a link's page, on config.public_base_url(): PUBLIC_BASE_URL when set
    (messages are rendered outside any request, by `flask notifications deliver`), else the current
    request's host."""
    return public_base_url() + url_for(endpoint, token=token, _external=False)
