"""Link tokens never reach a log.

A patient's status link (`/s/<token>`) — and any other link whose path holds a secret, such
as an agency's secure link — opens a page to whoever has it, so an access log line holding
one is a key lying about. `TokenRedactingFilter` rewrites every record it sees, replacing the
secret part of each path that matches `TOKEN_PATH_PATTERNS` with `[redacted]`:

- the Flask/Werkzeug development server's access log (logger "werkzeug") and the app's own
  loggers: `install_redaction()` is called by `create_app()`;
- gunicorn's access and error logs: `gunicorn.conf.py` at the project root installs the same
  filter (`post_worker_init`), so `gunicorn -c gunicorn.conf.py 'referralnet:create_app()'`
  logs no token either.

To cover a new kind of token link, add its pattern to TOKEN_PATH_PATTERNS (or call
`register_token_path(prefix)` with its fixed path prefix, like "/s/"). Besides the listed
prefixes, any path segment of 32 or more URL-safe base64 characters is taken for a token
(every token ReferralNet issues is at least 128 bits in base64url: 22+ characters in a
prefixed path; 43 for the patient link); UUIDs, the directory's ids, are left alone.
"""
from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_TOKEN = r"[A-Za-z0-9_-]+"

# (pattern, replacement): each pattern's group 1 is kept, the token after it is replaced.
TOKEN_PATH_PATTERNS: list[re.Pattern] = [
    re.compile(rf"(/s/){_TOKEN}"),  # the patient's status page and its print page
    re.compile(rf"(/a/){_TOKEN}"),  # the receiving agency's secure link (portal/agency.py)
    # Any other long URL-safe segment: a token of a link type not listed here (not a UUID: no dashes
    # at UUID positions; those are 36 characters anyway).
    re.compile(r"(/)(?![0-9a-fA-F]{8}-[0-9a-fA-F]{4}-)[A-Za-z0-9_-]{32,}(?=[/?#\s\"']|$)"),
]

# The loggers that write request lines: the dev server's, gunicorn's, and the app's own (root).
REDACTED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "referralnet", "")


def register_token_path(prefix: str) -> None:
    """Redact the path segment after `prefix` (e.g. "/a/" for links like /a/<token>) in every log."""
    pattern = re.compile(rf"({re.escape(prefix)}){_TOKEN}")
    if all(p.pattern != pattern.pattern for p in TOKEN_PATH_PATTERNS):
        TOKEN_PATH_PATTERNS.insert(0, pattern)


def redact(text: str) -> str:
    """`text` with the secret part of every token path replaced by [redacted]."""
    for pattern in TOKEN_PATH_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class TokenRedactingFilter(logging.Filter):
    """A logging filter that redacts token paths in the formatted message (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a malformed record is logging's problem, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        # gunicorn's access log also hands its atoms to formatters that use them directly.
        if isinstance(getattr(record, "args", None), dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


_FILTER = TokenRedactingFilter()


def install_redaction(logger_names=REDACTED_LOGGERS) -> TokenRedactingFilter:
    """Put the filter on these loggers and on every handler they (and the root logger) have.

    A filter on a logger sees only what is logged to that logger itself; one on a handler sees
    everything the handler writes, whichever logger it came from. Both, to be sure. Idempotent.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    return _FILTER
