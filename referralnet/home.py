"""The home page and the health check: the app's own pages, above every feature package.

The home page answers "what do I do now?" for each role, from one service function each:
a coordinator's worklist and a partner's inbox (`referrals.home`), a partner's listings
due for verification (`portal.listings`), the network's health for an admin
(`reports.health`).
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from referralnet.accounts.models import Role
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
def healthz():
    return {"status": "ok"}
