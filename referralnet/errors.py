"""The DomainError family and the one error contract.

Services raise DomainError subclasses. API clients (JSON requests, /api, /hsds,
/fhir paths) get `{code, status, message, errors}`; browsers get a page.
"""
from __future__ import annotations

import logging
from html import escape

from flask import Flask, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from referralnet.db import is_busy

log = logging.getLogger(__name__)

BUSY_MESSAGE = "The database is busy, so nothing was saved. Please try again in a few seconds."


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
    """The one error contract: `{code, status, message, errors}` for API clients, the error page for browsers.

    Rolls the request's transaction back first: a failed request writes nothing, and the page may
    query (the signed-in user, for the menu) only on a usable session. If even that fails, a
    plain page of our own answers, so that Werkzeug's bare error page never shows.
    """
    _roll_back()
    try:
        _patient_locale()
        message = str(message)  # a lazy (translated) message, in the locale now chosen
        if wants_json():
            body = {"code": code, "status": status, "message": message, "errors": errors or {}}
            return jsonify(body), status
        return render_template("error.html", status=status, message=message, errors=errors or {},
                               locale=g.get("locale")), status
    except Exception:  # noqa: BLE001 — the last line of defence must not raise
        log.exception("the error page itself failed (status %s)", status)
        _roll_back()
        try:
            text = str(message)
        except Exception:  # noqa: BLE001 — a translation that itself fails
            text = "Something went wrong."
        return _plain_page(status, text), status, {"Content-Type": "text/html; charset=utf-8"}


def _patient_locale() -> None:
    """A patient page (/s/...) refused before its view chose the language: choose it as the view would."""
    if request.path.startswith("/s/") and not g.get("locale"):
        from referralnet.i18n import SUPPORTED_LOCALES, use_locale

        use_locale(request.args.get("lang") or request.accept_languages.best_match(SUPPORTED_LOCALES))


def busy_response():
    """503 with Retry-After: the database could not give this request its lock in time; nothing was saved."""
    from flask_babel import lazy_gettext

    response = error_response(503, "busy", lazy_gettext(BUSY_MESSAGE))  # patients see it too: translated
    response = current_app.make_response(response)
    response.headers["Retry-After"] = str(current_app.config.get("BUSY_RETRY_AFTER", 5))
    return response


def _roll_back() -> None:
    from referralnet.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 — a broken connection: the session is discarded at teardown
        log.exception("rollback failed while answering an error")


def _plain_page(status: int, message: str) -> str:
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ReferralNet</title></head>"
            f"<body><main><h1>ReferralNet</h1><p>{escape(message)}</p><p><a href=\"/\">Home</a></p></main>"
            "</body></html>")


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
        original = getattr(exc, "original_exception", None)
        if original is not None:  # an exception raised outside a view (an after_request hook) arrives as a 500
            return unexpected_error_response(original)
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 429:  # the limiter's own description ("10 per 1 minute") says nothing to a patient
            from flask_babel import lazy_gettext

            message = lazy_gettext("Too many requests (limit: %(limit)s). Wait the seconds Retry-After gives, then "
                                   "try again.", limit=exc.description) if wants_json() else \
                lazy_gettext("Too many tries. Please wait a minute and try again.")
        response = current_app.make_response(error_response(exc.code or 500, code, message))
        # The exception's own headers belong to the answer: `Allow` on a 405 (RFC 9110), for one.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        if exc.code == 429:
            # Flask-Limiter replaces this with the seconds until its window resets (RATELIMIT_HEADERS_ENABLED);
            # this is for a 429 that comes from elsewhere.
            response.headers.setdefault("Retry-After", "60")
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        return unexpected_error_response(exc)


def unexpected_error_response(exc: BaseException):
    """An exception no code expected: 503 busy if the database could not get a lock, else a logged 500."""
    _roll_back()
    if is_busy(exc):
        log.warning("database busy on %s %s: answered 503", request.method, request.url_rule)
        return busy_response()
    # Logged without request data: bodies may hold patient information.
    current_app.logger.exception("unhandled error on %s %s", request.method, request.url_rule)
    return error_response(500, "internal_error", "Something went wrong on our side. It has been logged.")
