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


def test_two_hosts_of_two_workers_sharing_redis_count_one_sign_in_limit(db, redis_url, gunicorn_host):
    env = {"RATELIMIT_STORAGE_URI": redis_url, "LOGIN_RATE_LIMIT": "4 per minute"}
    hosts = [gunicorn_host(workers=2, **env), gunicorn_host(workers=2, **env)]
    statuses = _spread_attempts(hosts, 8)
    assert statuses == [401] * 4 + [429] * 4, statuses  # 401: the form again, "wrong email or password"


def test_without_redis_each_host_counts_on_its_own(db, gunicorn_host):
    """What Redis is for: with memory:// two hosts allow the limit twice (so the test above can fail)."""
    env = {"RATELIMIT_STORAGE_URI": "memory://", "LOGIN_RATE_LIMIT": "4 per minute"}
    hosts = [gunicorn_host(**env), gunicorn_host(**env)]
    statuses = _spread_attempts(hosts, 8)
    assert statuses == [401] * 8, statuses
