"""Real servers for the serving tests: a Redis on a free loopback port, gunicorn "hosts"."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture()
def redis_server():
    """A fresh redis-server of our own (nothing saved to disk): `.url`, `.stop()`. CI installs Debian's
    redis-server; without it (locally) the tests that need it are skipped, saying so."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
    import redis

    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--daemonize", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                _stop(process)
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield SimpleNamespace(url=url, stop=lambda: _stop(process))
    _stop(process)


@pytest.fixture()
def gunicorn_host(app, tmp_path):
    """Start a gunicorn "host" on the test database: `start(**env) -> base URL`; all stopped at the end."""
    processes = []

    def start(workers: int = 1, **env) -> str:
        port = free_port()
        environment = {**os.environ, "PYTHONPATH": str(ROOT),
                       "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "test-secret",
                       "SEARCH_INDEX_DIR": str(tmp_path / f"index-{port}"), "GUNICORN_BIND": f"127.0.0.1:{port}",
                       "WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": "2"}
        environment.update(env)
        log = open(tmp_path / f"gunicorn-{port}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                    "referralnet:create_app()"], cwd=ROOT, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a busy 2-core machine: workers load the app and warm their caches
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return base
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start: {(tmp_path / f'gunicorn-{port}.log').read_text()[-2000:]}")
            time.sleep(0.1)

    yield start
    for process in processes:
        _stop(process)
