"""Patient pages: `/s/<token>` (status and reports) and `/s/<token>/print` (a one-page summary
with the link as a QR code). No login; the token is the only key, and it is the only
patient-side data in any URL. Unknown, malformed and revoked tokens all get the same
"not found" page. Rate limits: each link has its own budget (page and print page together), and
failed lookups have a budget per client address that slows guessing; a valid link is never
refused for its address's failures (see `_valid_link`).
"""
from __future__ import annotations

import segno
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from referralnet.extensions import limiter
from referralnet.accounts.models import Role
from referralnet.accounts.permissions import role_required
from referralnet.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES, use_locale
from referralnet.referrals.access import get_visible_referral_or_404
from referralnet.referrals.models import Referral
from referralnet.referrals.patient_links import find_referral, hash_token, status_url
from referralnet.errors import ValidationFailed
from referralnet.status.service import (REPORT_LABELS, REPORT_THANKS, localized_hours, patient_datetime, record_report,
                                        view_for)

bp = Blueprint("status", __name__)


def _status_limit() -> str:
    return current_app.config.get("STATUS_RATE_LIMIT", "30 per minute")


def _bad_token_limit() -> str:
    return current_app.config.get("STATUS_BAD_TOKEN_LIMIT", "10 per minute")


def _link_key() -> str:
    """The page budget is per link (a hash of it: the limiter's storage never holds a token), so that
    the many patients behind one clinic's address never share one."""
    return "link:" + hash_token(request.view_args.get("token") or "")[:32]


def _valid_link() -> bool:
    """Whether the path's token opens a referral (looked up once per request; the view reuses it).

    A valid link is exempt from the bad-link budget: an address over it (a clinic's shared Wi-Fi
    where someone mistyped links) still opens every real link, while guesses from it are refused.
    """
    if "status_referral" not in g:
        g.status_referral = find_referral(request.view_args.get("token") or "", *PATIENT_PAGE_LOADS)
    return g.status_referral is not None


# What the patient pages show beside the referral (the client's language, the care team), joined to it:
# two lazy loads fewer per page.
PATIENT_PAGE_LOADS = (joinedload(Referral.client), joinedload(Referral.sending_organization))


# One budget for the page and its print version (the same link), and one for failed lookups per address.
link_budget = limiter.shared_limit(_status_limit, scope="status-link", key_func=_link_key)
bad_link_budget = limiter.shared_limit(_bad_token_limit, scope="status-bad-link", key_func=get_remote_address,
                                       exempt_when=_valid_link,
                                       deduct_when=lambda response: response.status_code == 404)


def _not_found():
    use_locale(request.args.get("lang") or request.accept_languages.best_match(SUPPORTED_LOCALES))
    return render_template("status/not_found.html"), 404


@bp.after_request
def private(response):
    """The page holds referral details: no caching by shared proxies. (The token never leaks in a
    Referer: the site sends Referrer-Policy same-origin, and these pages add a no-referrer meta tag.)"""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _locale_for(referral) -> str:
    wanted = request.args.get("lang")
    return use_locale(wanted if wanted in SUPPORTED_LOCALES else referral.client.preferred_language)


@bp.route("/s/<token>", methods=["GET", "POST"])
@link_budget
@bad_link_budget
def status_page(token: str):
    referral = g.status_referral if "status_referral" in g else find_referral(token, *PATIENT_PAGE_LOADS)
    if referral is None:
        return _not_found()
    locale = _locale_for(referral)
    if request.method == "POST":  # CSRFProtect has checked the form's token
        code = request.form.get("report", "")
        if code not in REPORT_LABELS:
            return _not_found()
        try:
            report = record_report(referral, code)
        except ValidationFailed:  # finished since the page was shown
            flash(_("This referral is finished. If you need to tell your care team something, call them."),
                  "info")
            return redirect(url_for(".status_page", token=token, lang=locale))
        if report.already_sent:
            flash(_("You already told us this today; your care team has it. No need to send it again."), "info")
        else:
            flash(str(REPORT_THANKS[code]), "success")
        # No anchor: the thank-you is at the top of the page, where the patient lands.
        return redirect(url_for(".status_page", token=token, lang=locale))
    view = view_for(referral)
    return render_template("status/page.html", view=view, token=token, locale=locale,
                           hours=localized_hours(view.place.hours, locale) if view.place else [],
                           reports=REPORT_LABELS, languages=LANGUAGE_NAMES, patient_datetime=patient_datetime)


@bp.get("/s/<token>/print")
@link_budget
@bad_link_budget
def print_page(token: str):
    referral = g.status_referral if "status_referral" in g else find_referral(token, *PATIENT_PAGE_LOADS)
    if referral is None:
        return _not_found()
    return _render_print(referral, _locale_for(referral))


@bp.get("/referrals/<referral_id>/print")
@role_required(Role.COORDINATOR)
def staff_print(referral_id):
    """The coordinator prints the summary for a patient without a phone (their own referrals only)."""
    referral = get_visible_referral_or_404(current_user, referral_id)
    if status_url(referral) is None:
        flash("This referral has no patient link: issue a new one first.", "error")
        return redirect(url_for("referrals.referral", referral_id=referral.id))
    return _render_print(referral, _locale_for(referral))


def _render_print(referral, locale: str):
    url = status_url(referral)
    if url is None:
        return _not_found()
    view = view_for(referral)
    qr = Markup(segno.make(url, error="m").svg_inline(scale=4, title=_("Link to your referral status page")))
    return render_template("status/print.html", view=view, url=url, qr=qr, locale=locale,
                           hours=localized_hours(view.place.hours, locale) if view.place else [])
