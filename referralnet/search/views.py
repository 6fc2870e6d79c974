"""Coordinator search pages (placeholder, being built)."""
from flask import Blueprint

bp = Blueprint("search", __name__)
