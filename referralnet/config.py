"""Settings from environment variables; every one has a working default for `make run`."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY from the environment, or one generated once into the instance folder."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load_config(instance_path: Path) -> dict:
    """Build the Flask config mapping from the environment."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'referralnet.db'}"
    if database_url.startswith("postgres://"):  # Heroku-style URLs name the dialect without the driver
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SEARCH_INDEX_DIR": os.environ.get("SEARCH_INDEX_DIR") or str(instance_path / "search-index"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "HSDS_RATE_LIMIT": os.environ.get("HSDS_RATE_LIMIT", "120 per minute"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "FORCE_HTTPS": os.environ.get("FORCE_HTTPS", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        "GEOCODER": os.environ.get("GEOCODER") or None,
        "REFERRAL_RESPONSE_BUSINESS_DAYS": int(os.environ.get("REFERRAL_RESPONSE_BUSINESS_DAYS", "2")),
        "DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "America/Los_Angeles"),
        # The address patients and staff reach this site at, for links in messages sent by cron jobs.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "STATUS_RATE_LIMIT": os.environ.get("STATUS_RATE_LIMIT", "30 per minute"),
    }
