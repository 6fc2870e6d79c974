"""`flask search reindex` — rebuild the active backend's search documents from the database (safe any time).

With the Whoosh backend it rebuilds this host's index; with the postgres backend the database's
search rows (in one transaction: searches see the old rows until it commits), for every host.
`flask search backend` says which backend answers and whether it is ready; `flask search status`
says which database state this host's Whoosh index reflects and how far behind it is (exit 1 if stale).
"""
from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup

from referralnet.search.backend import current_backend

search_cli = AppGroup("search", help="The directory search index.")


@search_cli.command("reindex")
def reindex_command():
    """Rebuild the search documents from the database."""
    start = time.perf_counter()
    services = {"total": 0}

    def progress(done: int, total: int) -> None:
        # `done` counts documents (one per service at each of its places), `total` active services.
        services["total"] = total
        click.echo(f"\r  {done} documents so far...", nl=False, err=True)

    backend = current_backend()
    count = backend.rebuild(progress=progress)
    elapsed = time.perf_counter() - start
    click.echo("\r" + " " * 40 + "\r", nl=False, err=True)
    # One line, one count of each: documents (a service at each of its places) for the active services.
    click.echo(f"Indexed {count} documents for {services['total']} active services "
               f"(one per service at each of its places) in {elapsed:.1f} s "
               f"({count / elapsed if elapsed else 0:.0f} documents/s) into {backend.where()}.")


@search_cli.command("backend")
def backend_command():
    """Say which search backend answers and whether it is ready (exit status 1 when not)."""
    backend = current_backend()
    ready, why = backend.is_ready()
    click.echo(f"{backend.name}: {'ready' if ready else 'NOT READY'} ({why})")
    if not ready:
        raise SystemExit(1)


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
