"""gunicorn settings for running ReferralNet on several workers:

    gunicorn -c gunicorn.conf.py 'referralnet:create_app()'

The access log goes to stdout with link tokens redacted (referralnet.logs): a status-page
request is logged as "GET /s/[redacted] HTTP/1.1". Override any setting on the command line
or with GUNICORN_CMD_ARGS.
"""
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
accesslog = "-"
errorlog = "-"


def _redact_logs() -> None:
    from referralnet.logs import install_redaction

    install_redaction()


def on_starting(server):
    """The arbiter's own logs (gunicorn.error)."""
    _redact_logs()


def post_worker_init(worker):
    """Each worker's access log, after gunicorn has set up its handlers."""
    _redact_logs()
