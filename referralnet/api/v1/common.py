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
- **Rate limit**: API_RATE_LIMIT per token (see `api.auth.token_rate_key`), shared by all endpoints;
  a 429 says when to retry (`Retry-After`, seconds).
- **Documented responses**: every operation's OpenAPI entry lists each status it can answer
  with, documented once here (`ApiBlueprint.route`, `ERROR_RESPONSES`): 401, 403, 422 and 429
  everywhere, 404 on a path with an id, 400 (malformed JSON) on a body; a view adds its own
  409. There is no catch-all `default` response, so schemathesis checks the list is exact
  (tests/api/test_v1_schema.py).
"""
from __future__ import annotations

import math
import time
from functools import wraps
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from flask import current_app, g
from flask_smorest import Api, Blueprint
from marshmallow import RAISE, Schema, fields, validate
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
    contract; /api/v1 blueprints add their own handler for argument errors), with our error schema
    and no catch-all `default` response: each operation lists what it answers (ApiBlueprint)."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        pass


class _GroupingConverter(OpenAPIConverter):
    """Query parameters that only go together (lat and lon) documented as one form-exploded object
    parameter with both required: on the wire the same `?lat=..&lon=..`, and the document says
    "both or neither", which separate parameters cannot. From a schema's `OPENAPI_PARAMETER_GROUPS`
    ({name: (description, members)})."""

    def schema2parameters(self, schema, *, location, **kwargs):
        parameters = super().schema2parameters(schema, location=location, **kwargs)
        for name, (description, members) in getattr(schema, "OPENAPI_PARAMETER_GROUPS", {}).items():
            grouped = {p["name"]: p for p in parameters if p["name"] in members}
            parameters = [p for p in parameters if p["name"] not in members]
            parameters.append({
                "in": location, "name": name, "description": description, "required": False,
                "style": "form", "explode": True,
                "schema": {"type": "object", "required": list(members), "additionalProperties": False,
                           "properties": {member: {**grouped[member]["schema"], **(
                               {"description": grouped[member]["description"]}
                               if "description" in grouped[member] else {})} for member in members}},
            })
        return parameters


class SchemaExtrasPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin, plus a schema class's `OPENAPI_EXTRA`: the JSON Schema that
    marshmallow fields cannot carry (minProperties, which fields go together), merged into its
    component. The schema's `validates_schema` enforces the same rule. Parameter groups: see
    _GroupingConverter."""

    Converter = _GroupingConverter

    def schema_helper(self, name, _, schema=None, **kwargs):
        json_schema = super().schema_helper(name, _, schema=schema, **kwargs)
        extra = getattr(schema, "OPENAPI_EXTRA", None)
        if json_schema is not None and extra:
            json_schema.update(extra)
        return json_schema


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": ErrorSchema}}}
    if headers:
        response["headers"] = headers
    return response


# The error responses of the OpenAPI document (components/responses), each {code, status, message, errors}.
ERROR_RESPONSES = {
    "BadRequest": (400, _error("The body is not valid JSON (code bad_request).")),
    "Unauthorized": (401, _error("No valid token: missing, unknown, revoked or expired (code unauthorized).", {
        "WWW-Authenticate": {"required": True, "schema": {"type": "string"},
                             "description": "`Bearer realm=\"referralnet\"`"}})),
    "Forbidden": (403, _error("The token lacks the operation's scope, or the move is not this side's to make "
                              "(code not_permitted).")),
    "NotFound": (404, _error("Nothing with this id is visible to this token's organization: the one in the path, "
                             "or one a body field names (that field is in `errors`) (code not_found).")),
    "ValidationFailed": (422, _error("Invalid input (code validation_failed): `errors` maps each field to what "
                                     "is wrong with it, and nothing was changed.")),
    "TooManyRequests": (429, _error("Over API_RATE_LIMIT for this token (code too_many_requests).", {
        "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0},
                        "description": "seconds until a request may succeed"}})),
    "ServiceUnavailable": (503, _error("The database was busy (locked by another writer), so nothing was saved; "
                                       "try again after Retry-After seconds (code busy).", {
        "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0},
                        "description": "seconds to wait before trying again"}})),
}


def register_error_responses(api: Api) -> None:
    """Put ERROR_RESPONSES in the document's components, once, for operations to refer to."""
    for name, (_status, response) in ERROR_RESPONSES.items():
        api.spec.components.response(name, response)


class NoQuery(Schema):
    """The query of an operation that takes no query parameters: any is refused (422, named)."""


def _query_arguments(func) -> bool:
    return any(p.get("in") == "query" for p in getattr(func, "_apidoc", {}).get("arguments", {}).get("parameters", []))


class ApiBlueprint(Blueprint):
    """A flask-smorest Blueprint whose every route documents the error responses that the shared
    machinery (token check, scopes, argument parsing, NUL refusal, rate limit) can answer, and
    refuses query parameters it does not take (the query schemas refuse unknown ones too)."""

    def arguments(self, schema, *, location="json", **kwargs):
        if location == "query":  # webargs excludes unknown query parameters by default: refuse them
            kwargs.setdefault("unknown", RAISE)
        return super().arguments(schema, location=location, **kwargs)

    def route(self, rule, *, parameters=None, tags=None, **options):
        register = super().route(rule, parameters=parameters, tags=tags, **options)
        names = ["Unauthorized", "Forbidden", "ValidationFailed", "TooManyRequests", "ServiceUnavailable"]
        if "<" in rule:
            names.append("NotFound")
        if set(options.get("methods", ("GET",))) & {"POST", "PUT", "PATCH"}:
            names.append("BadRequest")

        def decorator(func):
            documented = func if _query_arguments(func) else \
                self.arguments(NoQuery, location="query", as_kwargs=True)(func)
            for name in names:
                documented = self.alt_response(ERROR_RESPONSES[name][0], name)(documented)
            register(documented)
            return func

        return decorator


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
    if response.status_code == 429 and "Retry-After" not in response.headers:
        limit = limiter.current_limit
        wait = math.ceil(limit.reset_at - time.time()) if limit is not None else 60
        response.headers["Retry-After"] = str(max(wait, 1))
    response.headers.setdefault("Cache-Control", "no-store")
    return response


_shared_limit = None


def _api_limit():
    global _shared_limit
    if _shared_limit is None:
        _shared_limit = limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="api_v1",
                                             key_func=token_rate_key)
    return _shared_limit


def make_blueprint(name: str, description: str) -> ApiBlueprint:
    """A /api/v1 blueprint with token authentication, the error contract and the shared rate limit."""
    bp = ApiBlueprint(name, __name__, url_prefix="/api/v1", description=description)
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
