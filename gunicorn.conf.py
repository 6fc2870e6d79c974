"""gunicorn settings for running ReferralNet on several workers (`make serve` uses them):

    gunicorn -c gunicorn.conf.py 'referralnet:create_app()'

Environment: GUNICORN_BIND (127.0.0.1:8000), WEB_CONCURRENCY (workers, 2), GUNICORN_THREADS (4),
GUNICORN_TIMEOUT (30 s),
GUNICORN_KEEPALIVE (75 s). Override any setting on the command line or with GUNICORN_CMD_ARGS.

Logs: the app writes one JSON line per request to stdout (referralnet.requestlog: request id,
route template, status, duration, user and organization ids, never a link token or patient data);
LOG_FORMAT=json is the default here, so gunicorn's own access log is off (it would say the same
thing less well). With LOG_FORMAT=text gunicorn's access log is on, with link tokens redacted
(referralnet.logs): a status-page request is logged as "GET /s/[redacted] HTTP/1.1".

With more than one worker (or host), set RATELIMIT_STORAGE_URI=redis://... : the default memory://
counts per process, so each worker would allow the whole limit again.
"""
import os

os.environ.setdefault("LOG_FORMAT", "json")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Idle keep-alive connections stay open longer than a load balancer's idle timeout (60 s for nginx and
# AWS ALB): otherwise the server closes a connection just as the balancer reuses it, and a request
# fails with "connection reset" (gunicorn's default is 2 s; bench/load_bench.py saw exactly that).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
accesslog = None if os.environ["LOG_FORMAT"] == "json" else "-"
errorlog = "-"


def _redact_logs() -> None:
    from referralnet.logs import install_redaction

    install_redaction()


def on_starting(server):
    """The arbiter's own logs (gunicorn.error)."""
    _redact_logs()
    if workers > 1 and os.environ.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://"):
        server.log.warning("RATELIMIT_STORAGE_URI is memory://: each of the %d workers counts rate limits "
                           "on its own; point them all at Redis (redis://host:6379/0)", workers)


def post_worker_init(worker):
    """Each worker's access log, after gunicorn has set up its handlers; and its caches built before it
    takes requests (referralnet.warm_caches: search's lexicon and concept phrases, the ZIP and city
    tables; about 3.5 s of CPU that the worker's first search would otherwise wait for)."""
    _redact_logs()
    from flask import Flask

    from referralnet import warm_caches

    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):  # else the app failed to load: gunicorn serves the error
        warm_caches(app, alive=worker.notify)
