"""Small helpers shared by the HTML views."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from referralnet.errors import ValidationFailed

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    """Send each person to where their work is; visitors to the sign-in page."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    from referralnet.accounts.models import Role
    from referralnet.referrals import worklists

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


def page_arg() -> int:
    """The `page` query argument as a page number from 1 (anything else is page 1)."""
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def attach_errors(form, exc: ValidationFailed) -> None:
    """Show a service's field errors on the form's fields (or at the top when no field matches)."""
    for field_name, messages in (exc.errors or {}).items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
        else:
            flash(f"{field_name}: " + "; ".join(messages), "error")
    if not exc.errors:
        flash(exc.message, "error")


