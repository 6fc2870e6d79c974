"""`flask search reindex` — rebuild this host's index from the database (safe to run any time)."""
from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from referralnet.search.index import index_dir, rebuild_index

search_cli = AppGroup("search", help="The directory search index.")


@search_cli.command("reindex")
def reindex_command():
    """Rebuild the search index from the database."""
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        # `done` counts documents (one per service at each of its places), `total` services.
        click.echo(f"\r  indexed {done} documents for {total} services", nl=False, err=True)

    count = rebuild_index(progress=progress)
    click.echo("", err=True)
    click.echo(f"Indexed {count} documents in {time.perf_counter() - start:.1f} s into {index_dir()}.")
