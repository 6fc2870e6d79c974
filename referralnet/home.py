"""The home page and the health check: the app's own pages, above every feature package."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from referralnet.accounts.models import Role
from referralnet.referrals import worklists

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    """Send each person to where their work is; visitors to the sign-in page."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    attention = 0
    if current_user.has_role(Role.COORDINATOR):
        attention = worklists.attention_count(current_user)
    elif current_user.has_role(Role.PARTNER):
        counts = worklists.counts(current_user, worklists.INBOX, worklists.Filters())
        attention = counts["overdue"] + counts["new"]
    return render_template("home.html", attention=attention)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
