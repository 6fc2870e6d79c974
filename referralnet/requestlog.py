"""One log line per request, and a request id that follows it.

Every request gets an id: the caller's `X-Request-ID` header when it is a plausible id (a load
balancer or the EHR's gateway sets one; letters, digits and `.-_:` only, at most 128 characters),
otherwise a new random one. The response echoes it in `X-Request-ID`, so a person reporting a
problem, the load balancer's log and ours name the same request.

When the response is ready, the logger "referralnet.request" writes one line:

- LOG_FORMAT=json (the default under gunicorn, see gunicorn.conf.py): one JSON object per line with
  timestamp (UTC, ISO 8601), request_id, method, route (the URL rule, e.g. "/s/<token>", never the
  raw path, so no link token reaches the log), endpoint, status, duration_ms, and who asked:
  user_id and org_id for a signed-in person, token_id and org_id for an API token; and what the
  request cost: cpu_ms (CPU time of the thread that served it, so a busy machine does not inflate it
  as it does duration_ms), db_queries and db_ms (SQL statements and the time spent waiting for their
  results). Nothing else: no query string, no form field, no patient data;
- LOG_FORMAT=text (the default for `flask run`): the same facts on one readable line.

A request that matched no route is logged with route null (its path may be a mistyped link).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger("referralnet.request")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
LOG_FORMATS = ("json", "text")


def request_id() -> str:
    """This request's id (a new one outside a request that has none yet)."""
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = _incoming_or_new_id()
    return rid


def _incoming_or_new_id() -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "").strip()
    return incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: timestamp, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", None) or {"message": record.getMessage()})
        return json.dumps(entry, separators=(",", ":"), default=str)


class RequestLineFormatter(JsonFormatter):
    """JSON or one readable line, as the app that wrote the record asked (its LOG_FORMAT)."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "log_format", "text") == "json":
            return super().format(record)
        return f"{self.formatTime(record)} {record.getMessage()}"


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (gunicorn's workers and pytest's capture swap it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value):
        pass


def install_request_log(app: Flask) -> None:
    """Assign request ids and write the per-request line for `app`, in the format app.config["LOG_FORMAT"].

    Raises ValueError for a LOG_FORMAT other than "json" or "text" (a typo must not silence the log).
    """
    fmt = app.config["LOG_FORMAT"]
    if fmt not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    _configure_logger()

    @app.before_request
    def start_request_clock():
        g.request_started = time.perf_counter()
        g.request_cpu_started = time.thread_time()
        g.request_db = [0, 0.0]  # statements, seconds
        request_id()

    @app.after_request
    def remember_actor(response):
        # Before the request's commit (registered after it, and after_request functions run in
        # reverse): the user and token are still loaded, reading their ids costs no query.
        g.request_actor = _actor_ids()
        return response

    def log_request(response):
        response.headers[REQUEST_ID_HEADER] = request_id()
        fields = request_fields(response.status_code)
        log.info(_summary(fields), extra={"fields": fields, "log_format": current_app.config["LOG_FORMAT"]})
        return response

    # Last of all the after_request functions (they run in reverse order), so the line has the status
    # the client really gets: a commit that fails turns the response into a 503.
    app.after_request_funcs.setdefault(None, []).insert(0, log_request)


def _configure_logger() -> None:
    from referralnet.logs import TokenRedactingFilter

    handler = next((h for h in log.handlers if isinstance(h, _StdoutHandler)), None)
    if handler is None:
        handler = _StdoutHandler()
        handler.addFilter(TokenRedactingFilter())  # belt and braces: the line holds no path anyway
        log.addHandler(handler)
        handler.setFormatter(RequestLineFormatter())
    log.setLevel(logging.INFO)
    log.propagate = False  # one line per request, not a second copy through the root logger


def request_fields(status: int) -> dict:
    """What the request line says: ids, route template, status, timing and the actor's ids only."""
    rule = request.url_rule
    started = g.get("request_started")
    fields = {
        "request_id": request_id(),
        "method": request.method,
        "route": rule.rule if rule is not None else None,
        "endpoint": request.endpoint,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
    }
    cpu_started, spent = g.get("request_cpu_started"), g.get("request_db")
    if cpu_started is not None:
        fields["cpu_ms"] = round((time.thread_time() - cpu_started) * 1000, 1)
    if spent is not None:
        fields["db_queries"], fields["db_ms"] = spent[0], round(spent[1] * 1000, 1)
    actor = g.get("request_actor")
    fields.update(actor if actor is not None else _actor_ids())
    return fields


@event.listens_for(Engine, "before_cursor_execute")
def _statement_started(conn, _cursor, _statement, _parameters, _context, _executemany):
    conn.info["statement_started"] = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _statement_done(conn, _cursor, _statement, _parameters, _context, _executemany):
    """Count a request's SQL statements and the time it waited for them (any engine, its thread only)."""
    started = conn.info.pop("statement_started", None)
    if started is not None:
        count_statement(time.perf_counter() - started)


def count_statement(seconds: float) -> None:
    """One more SQL statement the current request waited `seconds` for (none outside a request)."""
    if not has_request_context():
        return
    spent = g.get("request_db")
    if spent is not None:
        spent[0] += 1
        spent[1] += seconds


def _actor_ids() -> dict:
    """The signed-in user's or API token's ids, from what the request already loaded (no query here)."""
    token = g.get("api_token")
    if token is not None:
        return {"token_id": token.id, "org_id": token.organization_id}
    user = g.get("_login_user")  # Flask-Login's per-request user, set only if the request looked
    if user is not None and getattr(user, "is_authenticated", False):
        return {"user_id": user.id, "org_id": user.organization_id}
    return {}


def _summary(fields: dict) -> str:
    who = " ".join(f"{k}={fields[k]}" for k in ("user_id", "token_id", "org_id") if k in fields)
    cost = (f" cpu={fields['cpu_ms']} ms db={fields['db_queries']} queries/{fields['db_ms']} ms"
            if "cpu_ms" in fields and "db_queries" in fields else "")
    return (f"{fields['method']} {fields['route'] or '(no route)'} {fields['status']} {fields['duration_ms']} ms"
            f"{cost} request_id={fields['request_id']}" + (f" {who}" if who else ""))
