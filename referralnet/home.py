"""The home page and the health checks: the app's own pages, above every feature package.

The home page answers "what do I do now?" for each role, from one service function each:
a coordinator's worklist and a partner's inbox (`referrals.home`), a partner's listings
due for verification (`portal.listings`), the network's health for an admin
(`reports.health`).

Load balancers ask two questions:

- `/healthz`: is this process alive? Always 200 while it can answer; touches nothing else, so a
  database outage does not make every host restart at once.
- `/readyz`: should this host get traffic? 200 when the database answers, its schema is at the
  migrations' head (a host started before `flask db upgrade` finished, or one running older code,
  is not ready), and the search backend is ready (`referralnet.search.ready`); 503 otherwise. Both
  answer JSON; /readyz names each check and why it failed, never a connection string.

Neither is redirected to HTTPS (FORCE_HTTPS): load balancers check hosts over plain HTTP.
"""
from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text

from referralnet import search
from referralnet.accounts.models import Role
from referralnet.extensions import db, talisman
from referralnet.portal import listings
from referralnet.referrals import home as referral_home
from referralnet.referrals.forms import CLIENT_REPORT_LABELS
from referralnet.reports.health import network_health

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    """Send each person to where their work is; visitors to the sign-in page."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if current_user.has_role(Role.ADMIN):
        return render_template("home/admin.html", health=network_health(current_user))
    if current_user.has_role(Role.COORDINATOR):
        return render_template("home/coordinator.html", work=referral_home.coordinator_home(current_user),
                               report_labels=CLIENT_REPORT_LABELS)
    return render_template("home/partner.html", work=referral_home.partner_home(current_user),
                           freshness=listings.listings_to_verify(current_user),
                           organization=listings.own_directory_organization(current_user),
                           verify_days=listings.listing_verify_days())


@bp.get("/healthz")
@talisman(force_https=False)
def healthz():
    """The process is up and answering (no database, no search: see the module docstring)."""
    return {"status": "ok"}


@bp.get("/readyz")
@talisman(force_https=False)
def readyz():
    """Database reachable, schema at the migrations' head, search ready: 200, else 503 with the reasons."""
    checks = {"database": _check_database()}
    if checks["database"]["ok"]:
        checks["migrations"] = _check_migrations()
    else:
        checks["migrations"] = {"ok": False, "detail": "not checked: no database"}
    ok, detail = search.ready()
    checks["search"] = {"ok": ok, "detail": detail}
    ready = all(check["ok"] for check in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


def _check_database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 — any failure to reach the database means "not ready"
        db.session.rollback()
        current_app.logger.warning("readyz: database check failed: %s", type(exc).__name__)
        return {"ok": False, "detail": f"database unreachable ({type(exc).__name__})"}
    return {"ok": True, "detail": "reachable"}


def _check_migrations() -> dict:
    # Alembic's own table, read directly: MigrationContext would log two INFO lines per check.
    try:
        current = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception:  # noqa: BLE001 — no alembic_version table: never migrated
        db.session.rollback()
        current = set()
    heads = _migration_heads(current_app.extensions["migrate"].directory)
    if current == heads:
        return {"ok": True, "detail": f"at head {', '.join(sorted(heads))}"}
    return {"ok": False, "detail": f"database at {', '.join(sorted(current)) or 'no revision'}, "
                                   f"code expects {', '.join(sorted(heads))}: run `flask db upgrade`"}


@lru_cache(maxsize=4)
def _migration_heads(directory: str) -> frozenset[str]:
    """The head revision(s) of the migration scripts this code ships (read once per process)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(directory).get_heads())
