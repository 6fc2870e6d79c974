"""ReferralNet: an open-source closed-loop community referral network.

`create_app()` is the only place an app is built; nothing runs at import time.
"""
from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Callable

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from referralnet.config import load_config
from referralnet.db import is_busy
from referralnet import extensions as ext

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CSP = {
    "default-src": "'self'",
    "img-src": ["'self'", "data:"],
    "style-src": "'self'",
    "script-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` overrides settings read from the environment (tests use it)."""
    load_dotenv(PROJECT_ROOT / ".env")
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["DEFAULT_TIMEZONE"])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_extensions(app)
    from referralnet.requestlog import install_request_log

    install_request_log(app)  # after the request's commit hook: see requestlog.install_request_log
    from referralnet.profiling import install_profiling

    install_profiling(app)  # only with REQUEST_PROFILE_DIR (finding slow code, never in production)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from referralnet.logs import install_redaction

    install_redaction()  # no link token in any log line (the dev server's access log included)
    return app


# Compiled before a worker takes requests: under a load bench's first burst of sign-ins, compiling them
# took a worker ~100 ms of CPU inside the first request to /login (610 ms p95 there, 8 requests).
WARM_TEMPLATES = ("base.html", "_components.html", "_form.html", "accounts/login.html")


def warm_caches(app: Flask, alive: Callable[[], None] = lambda: None) -> None:
    """Build what each process otherwise builds on its first search (about 3.5 s of CPU on this 2-core
    machine): the need lexicon and the concept phrases search uses, and the offline ZIP and city tables.
    gunicorn.conf.py calls it in each worker before the worker takes requests, so the first searches
    after a (re)start are as fast as the rest. The templates every page and every session's first page
    compile (WARM_TEMPLATES: the base layout, its macros and the sign-in page, ~60 ms) are compiled too;
    the others are left to compile on first use (tens of milliseconds each, against 1.3 s more per worker
    start for all of them). `alive()` is called between steps
    (gunicorn's worker.notify: a worker slow to warm on a busy machine is not taken for a hung one).

    Then everything built so far -- the app, those tables, the imported modules: objects that live as
    long as the process -- is moved out of the garbage collector's way (gc.freeze). Its full passes walked
    all of them (~225,000) every few requests, a 170-210 ms pause inside whichever request set it off."""
    from referralnet.geo import city_place, zip_place
    from referralnet.search.concepts import concept_queries
    from referralnet.search.schema import document_schema
    from referralnet.search.understanding import lexicon

    for step in (lexicon, lambda: concept_queries(document_schema()),
                 lambda: zip_place("94063"),  # loads the package's ZIP table
                 lambda: city_place("San Mateo", "CA"),  # builds the city table from it
                 lambda: [app.jinja_env.get_template(name) for name in WARM_TEMPLATES]):
        step()
        alive()
    gc.collect()
    gc.freeze()


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, _record):
    """SQLite only enforces foreign keys when asked, per connection."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def register_extensions(app: Flask) -> None:
    from referralnet import models  # noqa: F401  (every model registered before Alembic looks)

    db = ext.db
    db.init_app(app)
    from referralnet.db import DeferredWrites, configure_connection

    with app.app_context():
        lock_timeout = app.config["DATABASE_LOCK_TIMEOUT"]
        page_cost = app.config["DATABASE_RANDOM_PAGE_COST"]
        for engine in db.engines.values():
            event.listen(engine, "connect",
                         lambda dbapi, _record: configure_connection(dbapi, lock_timeout, page_cost))
    app.extensions["deferred_writes"] = DeferredWrites(app, max_attempts=app.config["BOOKKEEPING_MAX_ATTEMPTS"])
    ext.migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    ext.csrf.init_app(app)
    from referralnet.forms import install_fast_html_params

    install_fast_html_params()  # WTForms' field rendering, faster (see referralnet.forms)
    from referralnet.i18n import install_template_gettext, select_locale

    ext.babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    install_template_gettext(app)  # faster than Flask-Babel's own (see referralnet.i18n)
    ext.limiter.init_app(app)
    login_manager = ext.login_manager
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    from referralnet.geo.maps import csp_allowing_tiles

    ext.talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        # The map's tile host, when one is configured, and only then (referralnet.geo.maps).
        content_security_policy=csp_allowing_tiles(CSP, app.config.get("MAP_TILE_URL")),
        referrer_policy="same-origin",
    )

    @app.after_request
    def commit_or_roll_back(response):
        """The one commit of a request: services only flush. Failed requests write nothing, and a
        commit that cannot get the database's lock is a 503 "busy, nothing was saved"."""
        if response.status_code >= 400:
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except OperationalError as exc:
            db.session.rollback()
            if not is_busy(exc):
                raise
            from referralnet.errors import busy_response

            return busy_response()
        return response

    from referralnet.search.hooks import register_search_hooks

    register_search_hooks(db.session)
    from referralnet.search.pg_backend import register_pg_hooks

    register_pg_hooks(db.session)  # search rows written in the change's transaction (postgres backend)
    # The outbox subscribes to referral events (referrals.events.event_recorded) when imported.
    from referralnet.notifications import outbox  # noqa: F401
    # Account emails (accounts.passwords.account_email_wanted) likewise.
    from referralnet.notifications import account_mail  # noqa: F401
    # Reports count the searches that found nothing (search.signals.search_found_nothing).
    from referralnet.reports import recording  # noqa: F401

    from referralnet.accounts.models import User

    from sqlalchemy.orm import joinedload

    @login_manager.user_loader
    def load_user(user_id: str):
        # With the organization: every signed-in request reads it (is_active, the access rules), and one
        # joined row costs less than a second query (~0.4 ms of CPU per request on PostgreSQL).
        return db.session.get(User, int(user_id), options=[joinedload(User.organization)])


def register_blueprints(app: Flask) -> None:
    from referralnet.accounts.views import bp as accounts_bp
    from referralnet.api.hsds import bp as hsds_bp
    from referralnet.portal.views import bp as portal_bp
    from referralnet.portal.agency import bp as agency_bp
    from referralnet.portal.join_views import bp as join_bp
    from referralnet.directory.views import bp as directory_bp
    from referralnet.audit.views import bp as audit_bp
    from referralnet.referrals.views import bp as referrals_bp
    from referralnet.extensions import csrf
    from referralnet.notifications.views import bp as notifications_bp
    from referralnet.search.views import bp as search_bp
    from referralnet.status.views import bp as status_bp
    from referralnet.reports.views import bp as reports_bp
    from referralnet.home import bp as main_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(directory_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(agency_bp)
    app.register_blueprint(join_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(status_bp)
    app.register_blueprint(reports_bp)
    csrf.exempt(hsds_bp)  # read-only JSON API: no cookies, no forms
    app.register_blueprint(hsds_bp)
    from referralnet.api.fhir.views import bp as fhir_bp

    csrf.exempt(fhir_bp)  # bearer tokens only, no cookies: see api/fhir/common.py
    app.register_blueprint(fhir_bp)
    from referralnet.api.token_views import bp as tokens_bp
    from referralnet.api.v1 import init_app as init_api_v1

    app.register_blueprint(tokens_bp)  # /admin/tokens
    init_api_v1(app)  # the REST API (/api/v1) and its OpenAPI document


def register_errorhandlers(app: Flask) -> None:
    from referralnet.errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from referralnet.accounts.cli import users_cli
    from referralnet.backup import backup_cli
    from referralnet.demo import demo_cli
    from referralnet.directory.cli import directory_cli
    from referralnet.notifications.cli import notifications_cli
    from referralnet.referrals.cli import referrals_cli
    from referralnet.search.cli import search_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(directory_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(referrals_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(backup_cli)


def register_template_helpers(app: Flask) -> None:
    from referralnet.accounts.models import Role

    @app.context_processor
    def inject_roles():
        return {"Role": Role}

    @app.template_global("miles_label")
    def miles_label(miles) -> str:
        """A distance as people say it: '1 mile', '0.4 miles', '2.5 miles' (one decimal; '1.0' is '1')."""
        from flask_babel import format_decimal, ngettext

        value = round(float(miles), 1)
        # The plural form is chosen on the number; the text shows it rounded as people read it.
        return ngettext("%(distance)s mile", "%(distance)s miles", 1 if value == 1 else 2,
                        distance=format_decimal(value, format="#,##0.#"))

    @app.template_global("local_time_label")
    def local_time_label(value, tz=None) -> str:
        """An aware UTC datetime in a place's own zone (`tz`; else the network's): 'Nov 23, 2026, 9:05 AM PST'."""
        from zoneinfo import ZoneInfo

        if not value:
            return ""
        local = value.astimezone(tz or ZoneInfo(app.config.get("DEFAULT_TIMEZONE") or "UTC"))
        return local.strftime("%b %-d, %Y, %-I:%M %p %Z").strip()

    @app.template_filter("time_label")
    def time_label(value) -> str:
        """An aware datetime in the place's own zone -> 'Tue 9:00 AM'."""
        return value.strftime("%a %-I:%M %p") if value else ""

    @app.template_filter("datetime_label")
    def datetime_label(value) -> str:
        """An aware UTC datetime -> 'Nov 23, 2026, 9:05 AM' in the network's time zone (DEFAULT_TIMEZONE)."""
        from zoneinfo import ZoneInfo

        if not value:
            return ""
        local = value.astimezone(ZoneInfo(app.config.get("DEFAULT_TIMEZONE") or "UTC"))
        return local.strftime("%b %-d, %Y, %-I:%M %p")

    @app.template_filter("date_label")
    def date_label(value) -> str:
        """'2026-10-25' (or a date) -> 'Oct 25, 2026'."""
        from datetime import date, datetime
        from zoneinfo import ZoneInfo

        if not value:
            return ""
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(app.config.get("DEFAULT_TIMEZONE") or "UTC"))
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        return day.strftime("%b %-d, %Y")
