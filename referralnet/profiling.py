"""Where a request's time goes: cProfile around each request, for finding slow code under real load.

Off unless `REQUEST_PROFILE_DIR` names a folder (never in production: profiling roughly doubles a
request's CPU). Then every request is profiled in the thread that serves it and its statistics are
written to `REQUEST_PROFILE_DIR/<endpoint>.<pid>.<n>.prof` (the endpoint name, e.g.
`status.status_page`, never the path: no patient link reaches a file name). Read them together:

    python -m referralnet.profiling REQUEST_PROFILE_DIR [endpoint] [--limit 30]

which adds up the profiles of each endpoint (or the one named) and prints the functions that took the
most CPU time (the serving thread's, so waiting for a lock, the database or a free core does not
count), cumulative and own. bench/load_bench.py --profile runs its hosts this way.
"""
from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

from flask import Flask, request

ENDPOINT_KEY = "referralnet.endpoint"


class ProfilingMiddleware:
    """WSGI middleware: profile the whole request (hooks, view, template, commit) and write one file."""

    def __init__(self, wsgi_app, folder: Path):
        self.wsgi_app, self.folder = wsgi_app, folder
        self.counter = itertools.count()
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, environ, start_response):
        profile = cProfile.Profile(time.thread_time)  # CPU of this thread: waiting for locks or cores is not "slow code"
        profile.enable()
        try:
            body = self.wsgi_app(environ, start_response)
            try:
                return list(body)  # the response is produced inside the profile too
            finally:
                if hasattr(body, "close"):
                    body.close()
        finally:
            profile.disable()
            endpoint = environ.get(ENDPOINT_KEY) or "no-endpoint"
            profile.dump_stats(self.folder / f"{endpoint}.{os.getpid()}.{next(self.counter)}.prof")


def install_profiling(app: Flask) -> None:
    """Profile every request when app.config["REQUEST_PROFILE_DIR"] is set (see the module docstring)."""
    folder = app.config.get("REQUEST_PROFILE_DIR")
    if not folder:
        return

    @app.before_request
    def name_the_profile():
        request.environ[ENDPOINT_KEY] = request.endpoint

    app.wsgi_app = ProfilingMiddleware(app.wsgi_app, Path(folder))


def summarize(folder: Path, endpoint: str | None = None, limit: int = 30, out=sys.stdout) -> None:
    """Print, per endpoint, the functions that took the most time over all its profiled requests."""
    files: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(folder.glob("*.prof")):
        files[path.name.rsplit(".", 3)[0]].append(path)  # <endpoint>.<pid>.<n>.prof
    for name in sorted(files):
        if endpoint and name != endpoint:
            continue
        stats = pstats.Stats(*map(str, files[name]), stream=out)
        stats.files = []  # not the list of every file read
        print(f"\n===== {name}: {len(files[name])} requests, {stats.total_tt / len(files[name]) * 1000:.1f} ms "
              f"CPU per request", file=out)
        stats.sort_stats("cumulative").print_stats(limit)
        stats.sort_stats("tottime").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description="Add up the request profiles in a folder, by endpoint.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("endpoint", nargs="?")
    parser.add_argument("--limit", type=int, default=30)
    args = parser.parse_args()
    summarize(args.folder, args.endpoint, args.limit)


if __name__ == "__main__":
    main()
