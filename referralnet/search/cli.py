"""`flask search reindex` — rebuild the active backend's search documents from the database (safe any time).

With the Whoosh backend it rebuilds this host's index; with the postgres backend the database's
search rows (in one transaction: searches see the old rows until it commits), for every host.
`flask search status` says which backend answers and whether it is ready.
"""
from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from referralnet.search.backend import current_backend

search_cli = AppGroup("search", help="The directory search index.")


@search_cli.command("reindex")
def reindex_command():
    """Rebuild the search documents from the database."""
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        # `done` counts documents (one per service at each of its places), `total` services.
        click.echo(f"\r  indexed {done} documents for {total} services", nl=False, err=True)

    backend = current_backend()
    count = backend.rebuild(progress=progress)
    click.echo("", err=True)
    click.echo(f"Indexed {count} documents in {time.perf_counter() - start:.1f} s into {backend.where()}.")


@search_cli.command("backend")
def backend_command():
    """Say which search backend answers and whether it is ready (exit status 1 when not)."""
    backend = current_backend()
    ready, why = backend.is_ready()
    click.echo(f"{backend.name}: {'ready' if ready else 'NOT READY'} ({why})")
    if not ready:
        raise SystemExit(1)
