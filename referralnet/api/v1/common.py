"""What every /api/v1 endpoint shares: token authentication, scopes, the error contract, paging.

- **Authentication**: `Authorization: Bearer <token>` only (tokens.py). Session cookies are
  never looked at: the API never reads `current_user`, and its blueprints are CSRF-exempt
  because a cookie cannot authenticate them. A missing, unknown, revoked or expired token
  answers 401 (with `WWW-Authenticate: Bearer`); the request then acts as the token's
  organization through its integration service account (`g.api_actor`).
- **Scopes**: `@scoped("referrals:write")` on a view; a token without it gets 403.
- **Errors**: the one contract `{code, status, message, errors}` (referralnet.errors), also
  for flask-smorest's own argument validation (422, `errors` maps each field to messages).
- **Paging**: `page` (from 1) and `per_page` (1..100, default 20); list bodies are
  `{items, total, page, per_page, pages}`; a page past the end is empty.
- **Rate limit**: API_RATE_LIMIT per token (see `api.auth.token_rate_key`), shared by all endpoints.
"""
from __future__ import annotations

import math
from functools import wraps
from typing import Any

from flask import current_app, g
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from werkzeug.exceptions import HTTPException

from referralnet.api.auth import authenticate_request, token_rate_key
from referralnet.errors import NotPermitted, error_response
from referralnet.extensions import db, limiter

MAX_PER_PAGE = 100
SECURITY_SCHEME = "bearerAuth"


class ErrorSchema(Schema):
    """The one error contract."""

    code = fields.String(required=True, metadata={"description": "machine-readable, e.g. not_found"})
    status = fields.Integer(required=True)
    message = fields.String(required=True)
    errors = fields.Raw(required=True, metadata={"description": "field -> messages, or details such as the "
                                                                 "current status and version on a conflict"})


class ReferralNetApi(Api):
    """flask-smorest's Api, minus its app-wide HTTPException handler (the app has the one error
    contract; /api/v1 blueprints add their own handler for argument errors), with our error schema."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        pass


def _argument_error(exc: HTTPException):
    """webargs' 400/422 (`exc.data["messages"]` by location) in the error contract, fields flattened."""
    data = getattr(exc, "data", None) or {}
    errors: dict[str, Any] = {}
    for location_messages in (data.get("messages") or {}).values():
        if isinstance(location_messages, dict):
            errors.update(location_messages)
    status = exc.code or 422
    code = "validation_failed" if status == 422 else "bad_request"
    message = "The request has invalid values." if errors else (exc.description or "Bad request.")
    return error_response(status, code, message, errors)


def _challenge(response):
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="referralnet"'
    response.headers.setdefault("Cache-Control", "no-store")
    return response


_shared_limit = None


def _api_limit():
    global _shared_limit
    if _shared_limit is None:
        _shared_limit = limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="api_v1",
                                             key_func=token_rate_key)
    return _shared_limit


def make_blueprint(name: str, description: str) -> Blueprint:
    """A /api/v1 blueprint with token authentication, the error contract and the shared rate limit."""
    bp = Blueprint(name, __name__, url_prefix="/api/v1", description=description)
    bp.before_request(authenticate_request)
    bp.after_request(_challenge)
    bp.register_error_handler(400, _argument_error)
    bp.register_error_handler(422, _argument_error)
    _api_limit()(bp)
    return bp


def scoped(scope: str):
    """Allow the view only to tokens holding `scope` (403 otherwise); documents it in the OpenAPI."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if scope not in (g.api_token.scopes or []):
                raise NotPermitted(f"This API token does not have the “{scope}” scope.")
            return view(*args, **kwargs)

        doc = getattr(wrapped, "_apidoc", {})
        manual = doc.setdefault("manual_doc", {})
        manual["security"] = [{SECURITY_SCHEME: [scope]}]
        wrapped._apidoc = doc
        return wrapped

    return decorator


def actor():
    """The integration service account the current request acts as."""
    return g.api_actor


# --- paging ----------------------------------------------------------------------------------------

class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """The list envelope `{items, total, page, per_page, pages}` around `item`."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "total": fields.Integer(required=True, metadata={"description": "items in all pages"}),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "pages": fields.Integer(required=True, metadata={"description": "0 when nothing matched"}),
    }, name=name)


def paged(stmt: Select, page: int, per_page: int) -> dict:
    """One page of `stmt` as the list envelope (items are the rows, for the schema to dump)."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all() \
        if (page - 1) * per_page < total else []
    return envelope(list(items), total, page, per_page)


def envelope(items: list, total: int, page: int, per_page: int) -> dict:
    return {"items": items, "total": total, "page": page, "per_page": per_page,
            "pages": math.ceil(total / per_page) if total else 0}
