"""`flask backup create PATH` and `flask backup restore PATH`: online backups of a SQLite database.

SQLite's own backup API (Python's `sqlite3.Connection.backup`) copies the database page by page
inside one read transaction, so the copy is one consistent moment even while the app keeps writing
(the database runs in WAL mode: writers are not held up by the copy). The copy is written next to
PATH, checked (`PRAGMA integrity_check`, a schema revision present), then renamed into place, so PATH
is never a half-written file.

Restore copies a checked backup back into the configured database the same way (under SQLite's
write lock: running app processes see either the old or the restored data, never a mixture), then
rebuilds this host's search index from the restored data, so search answers from the restored state
at once. A backup from an older schema is restored as it is; `flask db upgrade` then brings it to
head (/readyz says "not ready" until then).

PostgreSQL is backed up with its own tools (`pg_dump -Fc`, `pg_restore`): see the README's
"Running in production". These commands say so rather than pretend.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.engine import make_url

from referralnet.extensions import db

backup_cli = AppGroup("backup", help="Online backup and restore of a SQLite database.")

LOCK_WAIT_SECONDS = 60


class BackupError(click.ClickException):
    """A backup or restore that cannot be done; nothing was changed."""


def sqlite_path() -> Path:
    """The configured SQLite database file. Raises BackupError for PostgreSQL or an in-memory database."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"The database is {url.get_backend_name()}, not SQLite: back it up with "
            f"`pg_dump -Fc` and restore with `pg_restore` (README, \"Running in production\").")
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory: there is no file to back up.")
    return Path(url.database)


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), timeout=LOCK_WAIT_SECONDS)
    connection.execute(f"PRAGMA busy_timeout={LOCK_WAIT_SECONDS * 1000}")
    return connection


def check_backup_file(path: Path) -> str:
    """Check that `path` is an intact ReferralNet SQLite database; returns its schema revision.

    Raises BackupError naming the file and what is wrong with it.
    """
    if not path.is_file():
        raise BackupError(f"{path}: no such file.")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a ReferralNet SQLite backup ({exc}).") from exc
    if verdict != "ok":
        raise BackupError(f"{path}: the file is damaged (integrity check: {verdict}).")
    if revision is None:
        raise BackupError(f"{path}: no schema revision recorded: not a ReferralNet backup.")
    return revision[0]


def create_backup(destination: Path, *, overwrite: bool = False) -> tuple[int, str]:
    """Copy the configured SQLite database to `destination` while the app may be running.

    Returns (size in bytes, schema revision). Raises BackupError (not SQLite, destination exists and
    not `overwrite`, its folder missing, or the copy failing its check); `destination` is then untouched.
    """
    source_path = sqlite_path()
    destination = Path(destination)
    if destination.exists() and not overwrite:
        raise BackupError(f"{destination} already exists: choose a new name, or pass --overwrite.")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent}: no such folder.")
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        source, target = _connect(source_path), sqlite3.connect(str(partial))
        try:
            source.backup(target)  # all pages in one step: one read transaction, one moment
        finally:
            target.close()
            source.close()
        revision = check_backup_file(partial)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination.stat().st_size, revision


def restore_backup(backup: Path) -> str:
    """Replace the configured SQLite database's contents with `backup`'s; returns the backup's revision.

    Raises BackupError (not SQLite, or the backup missing or damaged: then nothing is changed).
    """
    revision = check_backup_file(Path(backup))
    target_path = sqlite_path()
    db.session.remove()
    db.engine.dispose()  # this process's pooled connections would otherwise keep the old pages cached
    source, target = sqlite3.connect(f"file:{backup}?mode=ro", uri=True), _connect(target_path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return revision


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace PATH if it exists.")
def create_command(path: Path, overwrite: bool):
    """Back up the SQLite database to PATH (safe while the app runs)."""
    start = time.perf_counter()
    size, revision = create_backup(path, overwrite=overwrite)
    click.echo(f"Backed up {sqlite_path()} to {path}: {size / 1_048_576:.1f} MiB, schema {revision}, "
               f"integrity ok, in {time.perf_counter() - start:.1f} s.")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.confirmation_option(prompt="Replace everything in the database with this backup?",
                           help="Do not ask for confirmation.")
def restore_command(path: Path):
    """Restore the SQLite database from a backup made by `flask backup create`, then rebuild search."""
    from referralnet.search.index import rebuild_index

    revision = restore_backup(path)
    click.echo(f"Restored {sqlite_path()} from {path} (schema {revision}).")
    count = rebuild_index()
    click.echo(f"Rebuilt the search index from the restored data: {count} documents.")
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory(current_app.extensions["migrate"].directory).get_heads()
    if revision not in heads:
        click.echo(f"The backup's schema is {revision}, this code's is {', '.join(heads)}: run `flask db upgrade` "
                   f"(/readyz answers 503 until then).")
