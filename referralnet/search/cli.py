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
    services = {"total": 0}

    def progress(done: int, total: int) -> None:
        # `done` counts documents (one per service at each of its places), `total` active services.
        services["total"] = total
        click.echo(f"\r  {done} documents so far...", nl=False, err=True)

    count = rebuild_index(progress=progress)
    click.echo("\r" + " " * 40 + "\r", nl=False, err=True)
    # One line, one count of each: documents (a service at each of its places) for the active services.
    click.echo(f"Indexed {count} documents for {services['total']} active services "
               f"(one per service at each of its places) in {time.perf_counter() - start:.1f} s into {index_dir()}.")
