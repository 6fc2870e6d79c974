"""`flask referrals ...`: scheduled jobs for the referral workflow."""
from __future__ import annotations

from flask.cli import AppGroup

referrals_cli = AppGroup("referrals", help="Referral workflow jobs (run from cron).")
