"""What every /fhir endpoint shares: the base URL, JSON responses, authentication and scopes, and
errors as OperationOutcome.

- Authentication is /api/v1's (`Authorization: Bearer <token>`; cookies are never looked at), so
  a request acts as the token's organization through its integration service account.
- Every error, ours or Flask's (404 route, 405, 429...), answers an OperationOutcome with the
  HTTP status FHIR's RESTful API gives it. The request then writes nothing (the app commits only
  responses below 400).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Optional

from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from referralnet.api.auth import authenticate_request
from referralnet.api.v1.common import scoped as v1_scoped
from referralnet.db import is_busy
from referralnet.errors import BUSY_MESSAGE, DomainError, InvalidTransition
from referralnet.extensions import db

FHIR_JSON = "application/fhir+json"
JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}

# HTTP status -> OperationOutcome issue code (http://hl7.org/fhir/issue-type).
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 412: "conflict", 415: "not-supported", 422: "processing",
               428: "required", 429: "throttled"}

# Our field names (services' ValidationFailed errors) -> where they are in a Task.
FIELD_EXPRESSIONS = {"status": "Task.status", "reason": "Task.statusReason", "reason_text": "Task.statusReason.text",
                     "outcome": "Task.output", "version": "Task.meta.versionId"}


class FhirError(DomainError):
    """An error with any HTTP status and an OperationOutcome issue code (raised by this package only)."""

    def __init__(self, status: int, message: str, *, issue_code: Optional[str] = None,
                 errors: dict | None = None, headers: dict | None = None):
        super().__init__(message, errors)
        self.status = status
        self.code = issue_code or ISSUE_CODES.get(status, "processing")
        self.headers = headers or {}


def base_url() -> str:
    """The server's FHIR base (`FHIR_BASE_URL` if set, e.g. behind a proxy; else from the request)."""
    configured = current_app.config.get("FHIR_BASE_URL")
    return (configured or request.url_root.rstrip("/") + "/fhir").rstrip("/")


def instant(value: Optional[datetime]) -> Optional[str]:
    """A FHIR instant / dateTime in UTC with a Z (`2026-01-02T03:04:05.123456Z`)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def fhir_response(resource: dict, status: int = 200, headers: Optional[dict] = None) -> Response:
    response = Response(json.dumps(_prune(resource), ensure_ascii=False), status=status,
                        content_type=f"{FHIR_JSON}; charset=utf-8")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _prune(value: Any) -> Any:
    """Drop None, empty lists and empty objects: FHIR JSON has no nulls or empty elements."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [v for v in (_prune(v) for v in value) if v not in (None, [], {}, "")]
    return value


def operation_outcome(status: int, message: str, *, issue_code: Optional[str] = None,
                      errors: dict | list | None = None) -> dict:
    code = issue_code or ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")
    issues = [{"severity": "error", "code": code, "diagnostics": message}]
    if isinstance(errors, dict):
        for field, messages in errors.items():
            for text in messages if isinstance(messages, list) else [messages]:
                issue = {"severity": "error", "code": code, "diagnostics": f"{field}: {text}"}
                if field in FIELD_EXPRESSIONS:
                    issue["expression"] = [FIELD_EXPRESSIONS[field]]
                issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def outcome_response(status: int, message: str, *, issue_code: Optional[str] = None, errors=None,
                     headers: Optional[dict] = None) -> Response:
    return fhir_response(operation_outcome(status, message, issue_code=issue_code, errors=errors), status, headers)


# --- errors ----------------------------------------------------------------------------------------

def handle_domain_error(exc: DomainError) -> Response:
    status, code = exc.status, None
    if isinstance(exc, InvalidTransition):
        # FHIR: a change the server's business rules refuse is 422; 409/412 mean version conflicts.
        status, code = 422, "business-rule"
    elif isinstance(exc, FhirError):
        code = exc.code
    return outcome_response(status, exc.message, issue_code=code, errors=exc.errors,
                            headers=getattr(exc, "headers", None))


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    if status == 404:
        message = "No such resource or interaction on this FHIR server (see /fhir/metadata)."
    response = outcome_response(status, message)
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def handle_unexpected(exc: Exception) -> Response:
    db.session.rollback()  # before anything else: a failed request writes nothing
    if is_busy(exc):
        return outcome_response(503, BUSY_MESSAGE, issue_code="transient",
                                headers={"Retry-After": str(current_app.config.get("BUSY_RETRY_AFTER", 5))})
    # Logged without request data: bodies may hold patient information.
    current_app.logger.exception("unhandled error on %s %s", request.method, request.url_rule)
    return outcome_response(500, "Something went wrong on our side. It has been logged.", issue_code="exception")


def register_error_handlers(bp) -> None:
    bp.register_error_handler(DomainError, handle_domain_error)
    bp.register_error_handler(HTTPException, handle_http_error)
    bp.register_error_handler(Exception, handle_unexpected)


# --- content negotiation, authentication, scopes ----------------------------------------------------

def check_format() -> None:
    """`_format` and `Accept` must allow JSON (406 otherwise: we do not serve XML)."""
    wanted = request.args.get("_format")
    if wanted is not None and wanted.split(";")[0].strip().lower() not in JSON_FORMATS:
        raise FhirError(406, f"Only JSON is supported (_format=json or {FHIR_JSON}), not “{wanted}”.")
    accept = request.accept_mimetypes
    if accept and accept.provided and not any(
            accept[mime] for mime in (FHIR_JSON, "application/json", "application/json+fhir")):
        raise FhirError(406, f"Only JSON is supported: send Accept: {FHIR_JSON}.")


def authenticate() -> None:
    """Authenticate the bearer token as /api/v1 does (sets g.api_token and g.api_actor)."""
    authenticate_request()


# Scopes work exactly as on the REST API (its decorator only adds OpenAPI metadata besides);
# a NotPermitted from it becomes a 403 OperationOutcome through this blueprint's handlers.
scoped = v1_scoped


def actor():
    """The integration service account the current request acts as."""
    return g.api_actor


def finish(response: Response) -> Response:
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="referralnet"'
    response.headers.setdefault("Cache-Control", "no-store")
    return response
