"""`flask referrals ...`: scheduled jobs for the referral workflow."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from referralnet.extensions import db
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
