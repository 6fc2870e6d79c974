"""`flask search reindex` rebuilds this host's index from the database (safe to run any time);
`flask search status` says which database state it reflects and how far behind it is (exit 1 if stale)."""
from __future__ import annotations

import sys
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
    elapsed = time.perf_counter() - start
    click.echo("", err=True)
    click.echo(f"Indexed {count} documents in {elapsed:.1f} s ({count / elapsed if elapsed else 0:.0f} documents/s) "
               f"into {index_dir()}.")


@search_cli.command("status")
def status_command():
    """Show how current this host's search index is; exit 1 if it is stale."""
    from referralnet.search.sync import index_status

    st = index_status()
    age = f", oldest {st.oldest_pending_age:.1f} s old" if st.oldest_pending_age is not None else ""
    lines = [
        ("index", st.path),
        ("exists", "yes" if st.exists else "no"),
        ("schema version", "current" if st.schema_current else "out of date (rebuild needed)"),
        ("documents", "-" if st.documents is None else str(st.documents)),
        ("database generation", "matches" if st.generation_matches else "differs (rebuild needed)"),
        ("last applied change", "-" if st.last_applied_id is None else str(st.last_applied_id)),
        ("newest change", str(st.newest_change_id)),
        ("pending changes", f"{st.pending}{age}"),
        ("last applied at", st.applied_at or "-"),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label + ':':<{width + 1}} {value}")
    if st.current:
        click.echo(f"{'state:':<{width + 1}} current")
        return
    why = st.rebuild_reason or ("index missing" if not st.exists else
                                "schema out of date" if not st.schema_current else f"{st.pending} changes not applied")
    click.echo(f"{'state:':<{width + 1}} STALE: {why}")
    sys.exit(1)
