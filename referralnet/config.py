"""Settings from environment variables; every one has a working default for `make run`."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context, has_request_context, request


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


def _optional_float(raw: str) -> Optional[float]:
    return float(raw) if raw.strip() else None


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
        # "whoosh" (an index per host) or "postgres" (rows of the database); default: postgres on PostgreSQL.
        "SEARCH_BACKEND": os.environ.get("SEARCH_BACKEND") or None,
        # The Whoosh index follows the search_change table (search/sync.py): "background" (a thread per
        # process, woken after commits, polling every SEARCH_POLL_SECONDS for other processes' changes)
        # or "inline" (right after the commit, in the committing thread: tests and scripts).
        "SEARCH_SYNC": os.environ.get("SEARCH_SYNC", "background"),
        "SEARCH_POLL_SECONDS": float(os.environ.get("SEARCH_POLL_SECONDS", "3")),
        # Processes that build the documents of a full rebuild (directories of 2,000 services or more).
        "SEARCH_REBUILD_PROCS": int(os.environ.get("SEARCH_REBUILD_PROCS", "2")),
        # Files derived from the installed packages' static data, each named by a digest of what it is
        # derived from (never stale): the directory's ZIP places, so a rebuild skips loading the ZIP table.
        "CACHE_DIR": os.environ.get("CACHE_DIR") or str(instance_path / "cache"),
        # Where rate-limit counters live. memory:// counts per process: with more than one gunicorn worker
        # or host, point every one at the same Redis (redis://host:6379/0) so a limit is one limit.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # If that Redis is unreachable, each process counts in memory until it is back: limits stay on
        # (per process) and sign-in keeps working, instead of every limited page answering 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # The per-request log line (referralnet.requestlog): "json" (one object a line, for log
        # collectors; gunicorn.conf.py makes it the default under gunicorn) or "text" (development).
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        "REQUEST_PROFILE_DIR": os.environ.get("REQUEST_PROFILE_DIR") or None,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Two-factor sign-in (accounts.two_factor): always for admins; for every staff account when 1.
        "REQUIRE_TWO_FACTOR": os.environ.get("REQUIRE_TWO_FACTOR", "0") == "1",
        # Staff sessions end after this many minutes without a request (PHI systems: 15); a page warns
        # two minutes before and offers to stay signed in.
        "IDLE_TIMEOUT_MINUTES": float(os.environ.get("IDLE_TIMEOUT_MINUTES", "15")),
        # One-time links to set a password: "forgot password" and an admin's reset link, and invitations.
        "RESET_LINK_HOURS": float(os.environ.get("RESET_LINK_HOURS", "1")),
        "INVITE_LINK_DAYS": int(os.environ.get("INVITE_LINK_DAYS", "7")),
        # "Forgot password" requests: per client address, and per email address asked about.
        "PASSWORD_RESET_RATE_LIMIT": os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5 per hour"),
        "HSDS_RATE_LIMIT": os.environ.get("HSDS_RATE_LIMIT", "120 per minute"),
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
        # Seconds a request waits for a lock another writer holds (SQLite's busy timeout, PostgreSQL's
        # lock_timeout) before answering 503 "busy, nothing was saved"; the bookkeeping of a page view
        # waits BOOKKEEPING_LOCK_TIMEOUT, then is retried after the response (up to
        # BOOKKEEPING_MAX_ATTEMPTS times, with growing pauses). BUSY_RETRY_AFTER is the 503's Retry-After.
        "DATABASE_LOCK_TIMEOUT": float(os.environ.get("DATABASE_LOCK_TIMEOUT", "5")),
        "BOOKKEEPING_LOCK_TIMEOUT": float(os.environ.get("BOOKKEEPING_LOCK_TIMEOUT", "1")),
        # PostgreSQL: the planner's price of reading a page out of order (the server's default, 4, is for
        # spinning disks; 1.1 for SSDs or a database that fits in memory). Empty: leave the server's setting.
        "DATABASE_RANDOM_PAGE_COST": _optional_float(os.environ.get("DATABASE_RANDOM_PAGE_COST", "1.1")),
        "BOOKKEEPING_MAX_ATTEMPTS": int(os.environ.get("BOOKKEEPING_MAX_ATTEMPTS", "60")),
        "BUSY_RETRY_AFTER": int(os.environ.get("BUSY_RETRY_AFTER", "5")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "FORCE_HTTPS": os.environ.get("FORCE_HTTPS", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        "GEOCODER": os.environ.get("GEOCODER") or None,
        "REFERRAL_RESPONSE_BUSINESS_DAYS": int(os.environ.get("REFERRAL_RESPONSE_BUSINESS_DAYS", "2")),
        # After a client withdraws consent to share with an agency: days the agency still sees their details
        # once a referral it accepted is finished (referrals.access).
        "WITHDRAWN_CONSENT_ACCESS_DAYS": int(os.environ.get("WITHDRAWN_CONSENT_ACCESS_DAYS", "30")),
        "DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "America/Los_Angeles"),
        # Reports shared outside the network office show counts from 1 to this minus one as "fewer than N"
        # (the CMS cell-size rule: 11). 0 or 1 shows every count.
        "REPORT_MIN_CELL_SIZE": int(os.environ.get("REPORT_MIN_CELL_SIZE", "11")),
        # A listing not verified (HSDS assured_date) for this many days is due (portal.listings, reports.health).
        "LISTING_VERIFY_DAYS": int(os.environ.get("LISTING_VERIFY_DAYS", "180")),
        # Map tiles for the search results and service pages (referralnet.geo.maps): a URL template with
        # {z}, {x}, {y}; its host is added to the CSP's img-src. "" shows the markers without tiles.
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        "MAP_TILE_ATTRIBUTION": os.environ.get("MAP_TILE_ATTRIBUTION", "© OpenStreetMap contributors"),
        # The address patients and staff reach this site at. Unset: the address of the request being
        # served (so `make run PORT=8000` links to :8000); set it for messages sent by cron jobs, which
        # run outside any request (public_base_url()).
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or None,
        # The patient's link: requests per minute to one link (its page and print page together), and
        # failed lookups (unknown, revoked links) per client address; a valid link never counts as one.
        "STATUS_RATE_LIMIT": os.environ.get("STATUS_RATE_LIMIT", "30 per minute"),
        "STATUS_BAD_TOKEN_LIMIT": os.environ.get("STATUS_BAD_TOKEN_LIMIT", "10 per minute"),
        # Every limited response says its limit, and every 429 how long to wait (Retry-After, seconds).
        "RATELIMIT_HEADERS_ENABLED": True,
        # Notifications (referralnet/notifications): email by "log" (default) or "smtp"; SMS through an
        # HTTP gateway when SMS_GATEWAY_URL is set, else to the log.
        "NOTIFICATION_TRANSPORT": os.environ.get("NOTIFICATION_TRANSPORT", "log"),
        "STAFF_EMAIL_NOTIFICATIONS": os.environ.get("STAFF_EMAIL_NOTIFICATIONS", "1") == "1",
        "NOTIFICATION_MAX_ATTEMPTS": int(os.environ.get("NOTIFICATION_MAX_ATTEMPTS", "8")),
        "NOTIFICATION_LEASE_SECONDS": int(os.environ.get("NOTIFICATION_LEASE_SECONDS", "600")),
        "NOTIFICATION_BACKOFF_CAP_MINUTES": int(os.environ.get("NOTIFICATION_BACKOFF_CAP_MINUTES", "240")),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "0") == "1",
        "MAIL_FROM": os.environ.get("MAIL_FROM", "ReferralNet <referralnet@localhost>"),
        "MAIL_TIMEOUT": float(os.environ.get("MAIL_TIMEOUT", "30")),
        "SMS_GATEWAY_URL": os.environ.get("SMS_GATEWAY_URL") or None,
        "SMS_GATEWAY_TOKEN": os.environ.get("SMS_GATEWAY_TOKEN") or None,
        "SMS_FROM": os.environ.get("SMS_FROM", ""),
        "SMS_TIMEOUT": float(os.environ.get("SMS_TIMEOUT", "15")),
    }


FALLBACK_TIMEZONE = "America/Los_Angeles"


def network_timezone() -> ZoneInfo:
    """The network's own time zone (DEFAULT_TIMEZONE): business days, and the dates admins type, are local."""
    name = current_app.config.get("DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or FALLBACK_TIMEZONE)


# Outside any request with PUBLIC_BASE_URL unset (a cron job on a development machine): where
# `make run` serves by default.
FALLBACK_BASE_URL = "http://127.0.0.1:5000"


def public_base_url() -> str:
    """The site's address for absolute links (patient links, QR codes, messages), without a trailing slash:
    PUBLIC_BASE_URL when set, else the address of the request being served, else FALLBACK_BASE_URL."""
    base = current_app.config.get("PUBLIC_BASE_URL") if has_app_context() else None
    if not base and has_request_context():
        base = request.host_url
    return (base or FALLBACK_BASE_URL).rstrip("/")
