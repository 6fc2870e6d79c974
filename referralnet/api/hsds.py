"""The Open Referral HSDS 3.0 API under /hsds (placeholder, being built)."""
from flask import Blueprint

bp = Blueprint("hsds", __name__, url_prefix="/hsds")
