"""Two app hosts on one PostgreSQL database, as behind a load balancer (issue 12's scenario).

Host A changes the directory (a service stops accepting referrals, another is renamed, a third
is deactivated); host B, another app instance with its own (empty, never written) Whoosh index
folder, searches at once and sees every change, through the search service and the public HSDS
API (totals consistent with the rows listed, the deactivated service gone and 404). Then the
database is backed up with pg_dump, changed again, restored with pg_restore: B answers from the
restored state at once, with nothing rebuilt on either host.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from referralnet import create_app
from referralnet.demo import load_demo_data
from referralnet.directory import models as m
from referralnet.extensions import db as _db
from referralnet.search.backend import current_backend
from referralnet.search.service import SearchQuery, search

URL = os.environ.get("TEST_DATABASE_URL", "")
PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))

pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"),
    reason="two hosts share one PostgreSQL database (the postgres search backend); set TEST_DATABASE_URL")


def _host(tmp_path: Path, name: str):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": URL, "SECRET_KEY": "test-secret",
                      "SEARCH_INDEX_DIR": str(tmp_path / f"index-{name}"), "RATELIMIT_ENABLED": True,
                      # Flask-Limiter is one object per process: a second app must not switch it off for
                      # the session's app (the suite's limit tests would then see no limits).
                      "HSDS_RATE_LIMIT": "100000 per minute"})
    return app


def _pg(tool: str, *args: str) -> None:
    url = make_url(URL)
    exe = PGBIN / tool if (PGBIN / tool).exists() else shutil.which(tool)
    command = [str(exe), "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
               *args]
    env = dict(os.environ, PGPASSWORD=url.password or "")
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)


def _service(name: str) -> m.Service:
    return _db.session.scalar(select(m.Service).where(m.Service.name == name))


def _names(**kwargs) -> list[str]:
    return [h.service_name for h in search(SearchQuery(per_page=100, **kwargs)).hits]


def _hsds_search(client, text: str) -> tuple[int, list[dict]]:
    """(total_items, every listed service) of an HSDS text search, page by page."""
    items, page, total = [], 1, None
    while True:
        body = client.get(f"/hsds/services?search={quote(text)}&per_page=50&page={page}").get_json()
        total = body["total_items"]
        items += body["contents"]
        if body["last_page"]:
            return total, items
        page += 1


def test_a_change_through_one_host_is_searchable_on_the_other_at_once_and_a_restore_restores_search(
        db, app, tmp_path):
    assert current_backend().name == "postgres"
    load_demo_data(echo=lambda *_: None)
    db.session.commit()
    db.session.remove()
    host_a, host_b = _host(tmp_path, "a"), _host(tmp_path, "b")
    b = host_b.test_client()

    with host_b.app_context():  # B has searched before the change (a warm host, not a fresh start)
        assert "Weekly Grocery Pantry" in _names(text="pantry", accepting_only=True)
        assert "Emergency Rental Assistance" in _names(text="rental")
        before_total, before_items = _hsds_search(b, "shelter")
        assert before_total == len(before_items) > 0

    with host_a.app_context():
        pantry = _service("Weekly Grocery Pantry")
        pantry.accepting_referrals = False
        _service("Emergency Rental Assistance").name = "Keep Your Home Rent Fund"
        gone = next(s for s in _db.session.scalars(select(m.Service).where(m.Service.status == "active"))
                    if "shelter" in s.name.lower())
        gone.status = "inactive"
        gone_id, gone_name = gone.id, gone.name
        _db.session.commit()
        _db.session.remove()

    with host_b.app_context():
        assert "Weekly Grocery Pantry" not in _names(text="pantry", accepting_only=True)
        assert "Weekly Grocery Pantry" in _names(text="pantry")  # still listed, just not accepting
        assert "Keep Your Home Rent Fund" in _names(text="rent fund")
        assert "Emergency Rental Assistance" not in _names(text="emergency rental")
        assert gone_name not in _names(text=gone_name)
        total, items = _hsds_search(b, "shelter")
        assert total == len(items) == before_total - 1
        assert gone_id not in {i["id"] for i in items}
        assert b.get(f"/hsds/services/{gone_id}").status_code == 404
        renamed = _hsds_search(b, "Keep Your Home")[1]
        assert "Keep Your Home Rent Fund" in [i["name"] for i in renamed]

    backup = tmp_path / "backup.dump"
    dbname = make_url(URL).database
    _pg("pg_dump", "-Fc", "-f", str(backup), dbname)

    with host_a.app_context():  # after the backup: another rename and the pantry accepting again
        _service("Keep Your Home Rent Fund").name = "Renamed After The Backup"
        _service("Weekly Grocery Pantry").accepting_referrals = True
        _db.session.commit()
        _db.session.remove()
    with host_b.app_context():
        assert "Renamed After The Backup" in _names(text="renamed after backup")
        assert "Weekly Grocery Pantry" in _names(text="pantry", accepting_only=True)
        _db.session.remove()

    _pg("pg_restore", "--clean", "--if-exists", "--single-transaction", "-d", dbname, str(backup))

    with host_b.app_context():  # the backup's state, at once: nothing rebuilt on any host
        assert "Renamed After The Backup" not in _names(text="renamed after backup")
        assert "Keep Your Home Rent Fund" in _names(text="rent fund")
        assert "Weekly Grocery Pantry" not in _names(text="pantry", accepting_only=True)
        total, items = _hsds_search(b, "shelter")
        assert total == len(items) == before_total - 1
        assert gone_id not in {i["id"] for i in items}
        assert b.get(f"/hsds/services/{gone_id}").status_code == 404
        _db.session.remove()
    with host_a.app_context():
        assert "Keep Your Home Rent Fund" in _names(text="rent fund")
        _db.session.remove()
    for host in (host_a, host_b):
        with host.app_context():
            _db.engine.dispose()
