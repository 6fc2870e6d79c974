"""`flask referrals ...`: scheduled jobs for the referral workflow, and recounting the stored durations."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from referralnet.config import network_timezone
from referralnet.extensions import db
from referralnet.referrals import timing
from referralnet.referrals.reminders import due_for_reminder, queue_reminders

referrals_cli = AppGroup("referrals", help="Referral workflow jobs (run from cron).")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@referrals_cli.command("remind")
@click.option("--dry-run", is_flag=True, help="Say how many reminders would be queued; write nothing.")
def remind_command(dry_run: bool):
    """Queue a reminder for each referral past its response time (at most one per referral per business day).

    Safe to run as often as you like (hourly from cron, say). All or nothing: one commit at the end.
    The summary names counts only, never clients.
    """
    try:
        referrals = due_for_reminder() if dry_run else queue_reminders()
    except Exception as exc:  # a failed run writes nothing; cron gets a non-zero exit and one line
        db.session.rollback()
        raise click.ClickException(f"Reminders were not queued: {type(exc).__name__}.") from exc
    organizations = len({r.receiving_organization_id for r in referrals})
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run: would queue {_plural(len(referrals), 'reminder')} for overdue referrals "
                   f"({_plural(organizations, 'organization')}). Nothing was written.")
        return
    db.session.commit()
    click.echo(f"Queued {_plural(len(referrals), 'reminder')} for overdue referrals "
               f"({_plural(organizations, 'organization')}).")


@referrals_cli.command("recount-durations")
def recount_durations_command():
    """Recount every referral's stored times to the first view, the answer and the closed loop (calendar and
    business seconds; referrals.timing) from its timestamps: run it after changing DEFAULT_TIMEZONE, which
    business time is counted in. All or nothing: one commit at the end."""
    try:
        n = timing.recount(db.session.connection())
    except Exception as exc:
        db.session.rollback()
        raise click.ClickException(f"The durations were not recounted: {type(exc).__name__}.") from exc
    db.session.commit()
    click.echo(f"Recounted the durations of {_plural(n, 'referral')} (business time in {network_timezone().key}).")
