"""Rate limits shared by every worker and host through Redis (RATELIMIT_STORAGE_URI), measured on
real gunicorn hosts: the sign-in limit is one limit, however the load balancer spreads attempts."""
from __future__ import annotations

import re

import pytest
import requests


def _attempt(session: requests.Session, base: str) -> int:
    """One failed sign-in, as a password guesser makes it (a real form, CSRF token included)."""
    page = session.get(base + "/login", timeout=10)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    data = {"email": "nobody@example.org", "password": "guess", "csrf_token": token.group(1) if token else ""}
    return session.post(base + "/login", data=data, timeout=10, allow_redirects=False).status_code


def _spread_attempts(hosts: list[str], count: int) -> list[int]:
    sessions = [requests.Session() for _ in hosts]
    return [_attempt(sessions[n % len(hosts)], hosts[n % len(hosts)]) for n in range(count)]


def test_two_hosts_of_two_workers_sharing_redis_count_one_sign_in_limit(db, redis_server, gunicorn_host):
    env = {"RATELIMIT_STORAGE_URI": redis_server.url, "LOGIN_RATE_LIMIT": "4 per minute"}
    hosts = [gunicorn_host(workers=2, **env), gunicorn_host(workers=2, **env)]
    statuses = _spread_attempts(hosts, 8)
    # 401: the form again, "wrong email or password". With memory:// (each process counting on its
    # own) all eight would be 401: four allowed per worker.
    assert statuses == [401] * 4 + [429] * 4, statuses

    # Redis going away does not take sign-in down: each process falls back to counting in memory.
    redis_server.stop()
    after = _spread_attempts(hosts, 2)
    assert all(status in (401, 429) for status in after), after
