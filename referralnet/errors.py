"""The DomainError family and the one error contract.

Services raise DomainError subclasses. API clients (JSON requests, /api, /hsds,
/fhir paths) get `{code, status, message, errors}`; browsers get a page.
"""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict | list | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class UnknownReference(ValidationFailed):
    """A field names something that does not exist or is not visible to the actor (an organization,
    a service, a client). A field error on pages like any ValidationFailed; 404 for API clients,
    with the field in `errors`, as the thing named was not found."""

    status = 404
    code = "not_found"


class NotReady(ValidationFailed):
    """Well-formed input that the current state of things refuses (no consent on file, a service not
    accepting referrals). A field error on pages; 409 for API clients, as it conflicts with that state."""

    status = 409
    code = "conflict"


def refusal(kinds: set[type[ValidationFailed]]) -> type[ValidationFailed]:
    """The class to raise for field errors of several kinds: invalid input first (422), then a missing
    reference (404), then a refusing state (409)."""
    for kind in (ValidationFailed, UnknownReference, NotReady):
        if kind in kinds:
            return kind
    return ValidationFailed


class NotFound(DomainError):
    status = 404
    code = "not_found"


class NotPermitted(DomainError):
    status = 403
    code = "not_permitted"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


def wants_json() -> bool:
    """True for API paths and clients that prefer JSON to HTML."""
    if request.path.startswith(("/api/", "/hsds", "/fhir")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, errors=None):
    if wants_json():
        body = {"code": code, "status": status, "message": message, "errors": errors or {}}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, errors=errors or {}), status


def _nul_field(value, name: str = "") -> str | None:
    """The name of the first value holding a NUL character (recursing into JSON), or None."""
    if isinstance(value, str):
        return name or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_field(key, name or "body") or _nul_field(item, f"{name}.{key}" if name else str(key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_field(item, f"{name}[{index}]")
            if found:
                return found
    return None


def refuse_nul_characters():
    """No text in ReferralNet holds a NUL character, and PostgreSQL refuses to store one: a URL with
    one names nothing (404), and a parameter or field with one is bad input (400), said before any
    code sees it."""
    if "\x00" in request.path:
        raise NotFound("No such page.")
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise ValidationFailed(f"“{key.replace(chr(0), '')}” contains a NUL character.",
                                       {key.replace("\x00", ""): ["Remove the NUL character."]})
    if request.is_json:
        field = _nul_field(request.get_json(silent=True))
        if field:
            raise ValidationFailed(f"“{field}” contains a NUL character.", {field: ["Remove the NUL character."]})


def register_errorhandlers(app: Flask) -> None:
    app.before_request(refuse_nul_characters)

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        return error_response(exc.status, exc.code, exc.message, exc.errors)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = make_response(error_response(exc.code or 500, code, exc.description or exc.name))
        # The exception's own headers belong to the answer: `Allow` on a 405 (RFC 9110), for one.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        # Logged without request data: bodies may hold patient information.
        app.logger.exception("unhandled error on %s %s", request.method, request.url_rule)
        return error_response(500, "internal_error", "Something went wrong on our side. It has been logged.")
