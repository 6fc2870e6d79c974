"""Several processes writing the index at once (as gunicorn workers would) lose nothing."""
from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.search.index import document_count, rebuild_index, searcher

# Concurrent writers of a Whoosh index folder; the postgres backend writes rows in transactions.
pytestmark = pytest.mark.usefixtures("whoosh_only")


def _worker(config: dict, service_ids: list[str], rounds: int, queue) -> None:
    from referralnet import create_app
    from referralnet.search.index import update_services

    app = create_app(config)
    try:
        with app.app_context():
            for _ in range(rounds):
                update_services(service_ids)
        queue.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the parent test
        queue.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_writers_from_several_processes(app, db, demo):
    rebuild_index()
    expected = document_count()
    ids = list(db.session.scalars(select(m.Service.id).where(m.Service.status == "active").order_by(m.Service.id)))
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR", "SECRET_KEY")}
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(config, ids[i::3], 4, queue)) for i in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=180)
    results = [queue.get(timeout=5) for _ in workers]
    assert results == ["ok", "ok", "ok"]
    assert document_count() == expected
    # Each document is there exactly once.
    all_ids = [fields["id"] for fields in searcher().all_stored_fields()]
    assert len(all_ids) == len(set(all_ids)) == expected
