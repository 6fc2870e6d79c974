"""Shared fixtures: one app per test session, a clean database per test.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL is set
(CI sets it to a PostgreSQL database). The schema is built by the Alembic
migrations, never by create_all, so the tests exercise the real migrations.
"""
from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, text

from referralnet import create_app
from referralnet.extensions import db as _db
from referralnet.search.backend import current_backend
from referralnet.search.sync import stop_appliers

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


class RequestIsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production.

    Without this, requests would reuse the test's app context: `g` (and Flask-Login's cached
    user) and the database session would leak from one request into the next and hide bugs.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("referralnet")
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp / 'test.db'}"
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "SEARCH_INDEX_DIR": str(tmp / "index"),
        "CACHE_DIR": str(tmp / "cache"),
        # whooshsync: the index applies the change table right after each commit, in the committing
        # thread, so a test searches what it just wrote; tests/search/test_sync.py runs the real
        # background applier (SEARCH_SYNC="background", the default) in apps of its own.
        "SEARCH_SYNC": "inline",
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "HSDS_RATE_LIMIT": "100000 per minute",
        "MAP_TILE_URL": "",  # no tile host is contacted by the tests (tests/search/test_map.py sets one)
        # The search backend: the database's default (whoosh on SQLite, postgres on PostgreSQL) unless
        # TEST_SEARCH_BACKEND names one (CI also runs the PostgreSQL suite with whoosh).
        "SEARCH_BACKEND": os.environ.get("TEST_SEARCH_BACKEND") or None,
    })
    app.test_client_class = RequestIsolatedClient
    with app.app_context():
        if url.startswith("postgresql"):
            _db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            _db.session.commit()
        upgrade()
    return app


@pytest.fixture()
def db(app):
    """A clean database for each test (rows deleted child-first), inside an app context.

    A background index applier left running by a test (another app on this database and index,
    built without SEARCH_SYNC="inline") would keep writing into the index while later tests copy
    and clear it: every one is stopped here."""
    with app.app_context():
        yield _db
        stop_appliers()
        _db.session.rollback()
        for table in reversed(_db.metadata.sorted_tables):
            _db.session.execute(table.delete())
        _db.session.commit()
        _db.session.remove()
        current_backend().clear()
        _db.session.remove()


@pytest.fixture()
def whoosh_only(app):
    """Skip a test of the Whoosh backend's internals (engine.py, index.py) when another backend is active."""
    with app.app_context():
        name = current_backend().name
    if name != "whoosh":
        pytest.skip(f"tests the Whoosh index's internals; the active search backend is {name}")


_demo_rows: dict = {}  # table name -> rows; "<index>" -> the saved search index


def _restore_rows(session, rows_by_table: dict[str, list[dict]]) -> None:
    """Insert saved rows table by table (parents first), below the ORM so no session hook runs,
    and move PostgreSQL's id sequences past the copied ids."""
    conn = session.connection()
    for table in reversed(_db.metadata.sorted_tables):  # rows written since the test began (search state...)
        if table.name in rows_by_table:
            conn.execute(table.delete())
    for table in _db.metadata.sorted_tables:
        rows = rows_by_table.get(table.name)
        if rows:
            conn.execute(table.insert(), _parents_first(table, rows))
    if conn.dialect.name == "postgresql":
        for table in _db.metadata.sorted_tables:
            for column in table.primary_key.columns:
                sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                       {"t": table.name, "c": column.name})
                if sequence:
                    conn.execute(text(f'SELECT setval(:s, (SELECT COALESCE(MAX("{column.name}"), 0) + 1 '
                                      f'FROM "{table.name}"), false)'), {"s": sequence})


def _parents_first(table, rows: list[dict]) -> list[dict]:
    """The rows of a table that refers to itself (a taxonomy term to its parent term) in an order
    that writes each row's parent before it: rows read back without ORDER BY come in the order
    they lie on disk, and on PostgreSQL an updated parent lies after its children."""
    columns = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    if not columns:
        return rows
    (key,) = [c.name for c in table.primary_key.columns]
    by_id = {row[key]: row for row in rows}
    ordered: list[dict] = []
    placed: set = set()

    def place(row: dict, path: frozenset) -> None:
        if row[key] in placed:
            return
        for column in columns:
            parent = by_id.get(row[column])
            if parent is not None and parent[key] not in path:
                place(parent, path | {row[key]})
        placed.add(row[key])
        ordered.append(row)

    for row in rows:
        place(row, frozenset())
    return ordered


def _copy_index(source: Path, target: Path) -> None:
    """Replace the search index files in `target` with those of `source` (neither in use)."""
    from referralnet.search.index import forget_searchers

    forget_searchers()
    for path in target.iterdir() if target.exists() else ():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(source, target, dirs_exist_ok=True)
    forget_searchers()


@pytest.fixture()
def demo(db, tmp_path_factory):
    """The demo data (directory, accounts, referrals), committed for every connection to see.

    Loading it takes seconds, and dozens of tests need it: it is loaded once per test session,
    its rows and search index saved, and both copied into the clean database and index of each
    test that asks (the postgres search backend's rows are rebuilt from the copied data).
    `tests/core/test_demo_data.py` tests the loader itself."""
    from referralnet.demo import load_demo_data
    from referralnet.search.index import index_dir

    whoosh = current_backend().name == "whoosh"
    if not _demo_rows:
        assert load_demo_data(echo=lambda *_: None)
        db.session.commit()
        conn = db.session.connection()
        for table in _db.metadata.sorted_tables:
            _demo_rows[table.name] = [dict(row) for row in conn.execute(table.select()).mappings()]
        db.session.commit()
        if whoosh:
            saved = tmp_path_factory.mktemp("demo-index")
            _copy_index(index_dir(), saved)
            _demo_rows["<index>"] = saved
    else:
        _restore_rows(db.session, _demo_rows)
        db.session.commit()
        if whoosh:
            _copy_index(_demo_rows["<index>"], index_dir())
        else:
            current_backend().rebuild()
            db.session.commit()
    return db


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture()
def shared() -> Path:
    if not SHARED.exists():
        pytest.fail(f"reference material missing: {SHARED} (see shared/README.md)")
    return SHARED


# --- accounts helpers -------------------------------------------------------------------------

PASSWORD = "correct-horse-battery"


@pytest.fixture()
def make_user(db):
    """Create a user (and their organization) with a role; returns the User."""
    from referralnet.accounts.models import NetworkOrganization
    from referralnet.accounts.services import create_organization, create_user

    counter = {"n": 0}

    def make(role: str = "coordinator", *, org_name: str | None = None, org_kind: str | None = None,
             email: str | None = None, active: bool = True):
        counter["n"] += 1
        kind = org_kind or {"admin": "network", "coordinator": "referrer", "partner": "partner"}[role]
        name = org_name or f"{kind.title()} Org {counter['n']}"
        org = db.session.scalar(db.select(NetworkOrganization).where(NetworkOrganization.name == name))
        if org is None:
            org = create_organization(name=name, kind=kind)
        user = create_user(email=email or f"{role}{counter['n']}@example.org", name=f"{role.title()} {counter['n']}",
                           password=PASSWORD, role=role, organization_id=org.id)
        user.active = active
        db.session.commit()
        return user

    return make


@contextmanager
def counted_queries(engine):
    """The SQL statements the engine runs inside the block, in order (a list, filled as they run)."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


def totp_code(secret: str, last_step: int | None = None) -> str:
    """The authenticator app's code for `secret` now, or the next step's if now's was used already
    (the server accepts one step either side, and never the same step twice)."""
    import pyotp

    totp = pyotp.TOTP(secret)
    step = totp.timecode(__import__("datetime").datetime.now())
    if last_step is not None and step <= last_step:
        step = last_step + 1
    return totp.generate_otp(step)


def complete_second_factor(client, response, email: str):
    """Finish a sign-in the way a person does when the password step sent them to the second step:
    enter the app's code (reading the key off the set-up page the first time, as the app's scan
    would). Returns the final response (a 302 once signed in)."""
    from referralnet.accounts.models import User, normalize_email
    from referralnet.extensions import db as _db

    location = response.headers.get("Location", "") if response.status_code == 302 else ""
    if location.endswith("/login/two-factor/setup"):
        page = client.get(location).get_data(as_text=True)
        secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
        return client.post(location, data={"code": totp_code(secret), "csrf_token": csrf_token_from(page)})
    if location.endswith("/login/two-factor"):
        page = client.get(location).get_data(as_text=True)
        with client.application.app_context():
            user = _db.session.scalar(_db.select(User).where(User.email == normalize_email(email)))
            code = totp_code(user.totp_secret, user.totp_last_step)
        return client.post(location, data={"code": code, "csrf_token": csrf_token_from(page)})
    return response


@pytest.fixture()
def login(client):
    """Log a user in through the real login form (CSRF included), and through the second step when
    their account has or needs one (admins): tests sign in as people do, with two-factor on."""

    def do_login(user_or_email, password: str = PASSWORD, *, second_factor: bool = True):
        email = getattr(user_or_email, "email", user_or_email)
        page = client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
        return complete_second_factor(client, response, email) if second_factor else response

    return do_login


@pytest.fixture()
def login_as(make_user, login):
    """Create a user with `role` and log them in; returns the user."""

    def do(role: str, **kwargs):
        user = make_user(role, **kwargs)
        response = login(user)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return do


def form_token(client, url: str) -> str:
    return csrf_token_from(client.get(url).get_data(as_text=True))
