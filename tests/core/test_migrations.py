"""The schema comes from Alembic migrations only, and they match the models exactly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from referralnet.extensions import db as _db
from referralnet.models import include_object


def test_migrated_schema_matches_models(db):
    """No pending autogenerate diff on this database (SQLite locally, PostgreSQL in CI)."""
    with _db.engine.connect() as connection:
        # The postgres search backend's tables (migration 0011) are not models, and some indexes are made
        # on one database only: left out, as env.py does.
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                                "render_as_batch": True,
                                                                "include_object": include_object})
        diff = compare_metadata(context, _db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_model_table_exists(db):
    tables = set(inspect(_db.engine).get_table_names())
    assert set(_db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrations_are_a_single_linear_history(app):
    from alembic.script import ScriptDirectory
    from flask import current_app

    with app.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


def test_upgrading_a_database_with_data_keeps_it(tmp_path):
    """Each migration keeps existing rows (SQLite table rebuilds must not cascade-delete children)."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import func, select

    from referralnet import create_app
    from referralnet.directory import models as m
    from referralnet.directory.importer import import_path
    from tests.conftest import SHARED

    url = f"sqlite:///{tmp_path / 'upgrade.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": str(tmp_path / "ix"),
                      "SEARCH_AUTO_INDEX": False})
    with app.app_context():
        upgrade()
        import_path(SHARED / "hsds/examples/service_full.json")
        _db.session.commit()
        counts = {t: _db.session.scalar(select(func.count()).select_from(t)) for t in
                  (m.Service, m.ServiceAtLocation, m.Schedule, m.Phone, m.Location)}
        assert all(counts.values())
        downgrade(revision="0001")
        upgrade()
        after = {t: _db.session.scalar(select(func.count()).select_from(t)) for t in counts}
        assert after == counts
        _db.session.remove()
        _db.engine.dispose()
