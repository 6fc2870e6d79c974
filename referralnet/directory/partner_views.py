"""The partner portal's listing pages: a partner agency keeps its own services' hours,
capacity and "accepting referrals" switch up to date."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("partner_listings", __name__, url_prefix="/partner/listings")
