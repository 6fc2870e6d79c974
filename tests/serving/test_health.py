"""/healthz and /readyz, as a load balancer sees them: alive vs. ready, with the reason when not."""
from __future__ import annotations

import gc

import pytest
from sqlalchemy import text

from referralnet import create_app
from referralnet.extensions import db as _db
from referralnet.search.backend import current_backend
from referralnet.search.index import open_index


def _app_with(tmp_path, **config):
    settings = {"TESTING": True, "SECRET_KEY": "test", "SEARCH_INDEX_DIR": str(tmp_path / "ix")}
    settings.update(config)
    return create_app(settings)


def test_healthz_is_up_even_when_the_database_is_not(tmp_path):
    app = _app_with(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ready_when_database_migrations_and_search_are(app, client):
    with app.app_context():
        current_backend().rebuild()  # the host's search is built (flask search reindex)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    assert {name for name, check in response.json["checks"].items() if check["ok"]} == {
        "database", "migrations", "search"}


@pytest.mark.parametrize("url", [
    "sqlite:///{tmp}/no-such-dir/referralnet.db",
    "postgresql+psycopg://referralnet:secret-password@127.0.0.1:1/referralnet?connect_timeout=2",
])
def test_readyz_is_503_when_the_database_is_down(tmp_path, url):
    app = _app_with(tmp_path, SQLALCHEMY_DATABASE_URI=url.format(tmp=tmp_path))
    with app.app_context():
        open_index()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"]["ok"] is False and "unreachable" in checks["database"]["detail"]
    assert checks["migrations"]["ok"] is False
    assert "secret-password" not in response.get_data(as_text=True)  # never the connection string


def test_readyz_is_503_when_the_schema_is_behind_the_code(app, client, db):
    with app.app_context():
        current_backend().rebuild()
    head = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    db.session.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    db.session.commit()
    try:
        response = client.get("/readyz")
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()
    assert response.status_code == 503
    migrations = response.json["checks"]["migrations"]
    assert migrations["ok"] is False
    assert "0008" in migrations["detail"] and head in migrations["detail"] and "flask db upgrade" in migrations["detail"]
    assert response.json["checks"]["database"]["ok"] is True
    assert client.get("/readyz").status_code == 200  # and ready again once upgraded


def test_readyz_is_503_on_a_database_never_migrated(tmp_path):
    app = _app_with(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}")
    with app.app_context():
        open_index()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "no revision" in response.json["checks"]["migrations"]["detail"]


def test_readyz_is_503_until_this_hosts_search_index_is_built(app, db, tmp_path):
    other_host = _app_with(tmp_path, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                           SEARCH_INDEX_DIR=str(tmp_path / "never-built"), SEARCH_BACKEND="whoosh")
    response = other_host.test_client().get("/readyz")
    assert response.status_code == 503
    search = response.json["checks"]["search"]
    assert search["ok"] is False and "flask search reindex" in search["detail"]
    assert response.json["checks"]["migrations"]["ok"] is True
    with other_host.app_context():
        current_backend().rebuild()
    assert other_host.test_client().get("/readyz").status_code == 200


def test_health_checks_are_not_redirected_to_https(app, client, monkeypatch):
    """Load balancers check hosts over plain HTTP; every page else is still sent to HTTPS (FORCE_HTTPS=1).

    Talisman is one object shared by every app in the process: its switch is set here for the
    session's app and put back afterwards, rather than building an app that would keep it on."""
    from referralnet.extensions import talisman

    with app.app_context():
        current_backend().rebuild()
    monkeypatch.setattr(talisman, "force_https", True)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    login = client.get("/login")
    assert login.status_code in (301, 302) and login.headers["Location"].startswith("https://")


def test_a_worker_builds_its_caches_before_taking_requests(app):
    """gunicorn.conf.py's post_worker_init calls warm_caches: afterwards the search lexicon, its concept
    phrases and the ZIP and city tables are loaded, and the sign-in page and base layout compiled, so a fresh
    worker's first search or sign-in does not build them."""
    from referralnet import warm_caches
    from referralnet.geo import city_place, zip_place
    from referralnet.search.understanding import lexicon

    for cache in (lexicon, zip_place, city_place):
        cache.cache_clear()
    app.jinja_env.cache.clear()
    beats = []
    gc.unfreeze()
    try:
        warm_caches(app, alive=lambda: beats.append(1))
        # What the worker built lives as long as it does: out of the collector's full passes (each walked
        # ~225,000 such objects, pausing a request for ~200 ms).
        assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()
    assert len(beats) == 5  # gunicorn hears from the worker after every step
    assert lexicon.cache_info().currsize == 1
    assert zip_place.cache_info().currsize == 1 and city_place.cache_info().currsize == 1
    # The sign-in page (every session's first) and the layout every page extends are compiled.
    compiled = {key[1] for key in app.jinja_env.cache.keys()}
    assert {"base.html", "accounts/login.html"} <= compiled
