"""Referral pages for both sides: the coordinator's clients, consent, sending and worklist,
the partner's inbox, and the one referral page both parties share."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("referrals", __name__)
