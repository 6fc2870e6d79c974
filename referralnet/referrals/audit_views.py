"""Admin pages: browse and filter the audit log."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
