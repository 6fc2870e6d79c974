"""The staff notifications page: each user's own in-app notifications, newest first.

Every query here is scoped to `current_user.id`: another user's notification is never
listed, opened or marked read (a stranger's id answers 404, not 403).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select, update

from referralnet.db import paginate, utcnow
from referralnet.extensions import db
from referralnet.notifications.models import Notification

bp = Blueprint("notifications", __name__)
PER_PAGE = 25


def _own():
    return select(Notification).where(Notification.recipient_user_id == current_user.id,
                                      Notification.channel == "app")


def unread_count(user) -> int:
    """How many of `user`'s in-app notifications are unread."""
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.recipient_user_id == user.id, Notification.channel == "app",
        Notification.read_at.is_(None))) or 0


@bp.app_context_processor
def notification_counts():
    def count() -> int:
        return unread_count(current_user) if current_user.is_authenticated else 0

    return {"unread_notifications": count}


@bp.get("/notifications")
@login_required
def index():
    page = paginate(_own().order_by(Notification.created_at.desc(), Notification.id.desc()),
                    request.args.get("page"), per_page=PER_PAGE)
    return render_template("notifications/index.html", page=page, unread=unread_count(current_user))


@bp.get("/notifications/unread.json")
@login_required
def unread_json():
    """The unread count and the newest unread subjects, polled by the page (static/notifications.js)
    so that staff hear about new referrals and changes without reloading."""
    newest = db.session.scalars(_own().where(Notification.read_at.is_(None))
                                .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(3)).all()
    response = {"unread": unread_count(current_user),
                "latest": [{"id": n.id, "subject": n.subject, "url": url_for(".open_notification", notification_id=n.id)}
                           for n in newest]}
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/notifications/<int:notification_id>")
@login_required
def open_notification(notification_id: int):
    """Mark one of one's own notifications read and go to its referral."""
    row = db.session.scalar(_own().where(Notification.id == notification_id))
    if row is None:
        abort(404)
    if row.read_at is None:
        row.read_at = utcnow()
    if row.referral_id is None:
        return redirect(url_for("notifications.index"))
    return redirect(url_for("referrals.referral", referral_id=row.referral_id))


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    """Mark all of one's own notifications read (CSRF-protected form)."""
    result = db.session.execute(
        update(Notification).where(Notification.recipient_user_id == current_user.id,
                                   Notification.channel == "app", Notification.read_at.is_(None))
        .values(read_at=utcnow()).execution_options(synchronize_session=False))
    flash(_("Marked %(count)s notifications as read.", count=result.rowcount) if result.rowcount != 1
          else _("Marked 1 notification as read."), "success")
    return redirect(url_for("notifications.index"))
