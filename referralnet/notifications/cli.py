"""`flask notifications ...`: the outbox's cron job."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from referralnet.extensions import db
from referralnet.notifications.delivery import deliver

notifications_cli = AppGroup("notifications", help="Notification outbox jobs (run from cron).")


@notifications_cli.command("deliver")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most this many messages.")
def deliver_command(limit):
    """Send due email and SMS notifications through the configured transports.

    Safe to run as often as you like, and several at once: each message is claimed by one run
    and committed as sent as soon as it is. Failed sends are retried later with back-off.
    The summary names counts only, never recipients.
    """
    try:
        report = deliver(limit)
    except Exception as exc:  # the database, most likely; claimed rows are retried after their lease
        db.session.rollback()
        raise click.ClickException(f"Delivery stopped: {type(exc).__name__}.") from exc
    click.echo(f"Notifications: {report.sent} sent, {report.retrying} to retry, {report.failed} failed, "
               f"{report.skipped} skipped.")
