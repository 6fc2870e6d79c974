"""`flask directory import|export` — HSDS data in and out, for operators and cron."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from referralnet.audit.services import audit
from referralnet.directory.exporter import export_csv, export_json
from referralnet.directory.importer import ImportFailed, import_path
from referralnet.extensions import db

directory_cli = AppGroup("directory", help="Import and export HSDS 3.0 directory data.")


def _progress(step: str, done: int, total: int) -> None:
    """'reading services.json (bytes): 52428800/157286400', 'writing service: 12000/45000' on one line."""
    if total >= 2000:
        click.echo(f"\r  {step}: {done}/{total}", nl=done == total, err=True)


@directory_cli.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["auto", "json", "csv", "ohana", "airs211"]), default="auto",
              show_default=True,
              help="auto tells HSDS JSON, HSDS CSV, the Ohana CSV layout and the AIRS/211 CSV export apart.")
@click.option("--encoding", default=None, metavar="NAME",
              help="The files' character encoding (utf-8, cp1252, latin-1, mac_roman...). By default UTF-8 "
                   "is read as is, any other encoding is detected and named in the summary, and a file whose "
                   "encoding cannot be detected is refused.")
@click.option("--dry-run", is_flag=True, help="Validate and report, then roll back.")
def import_command(path, fmt, encoding, dry_run):
    """Import directory data from PATH (a JSON or CSV file, or a folder of them).

    Re-importing the same data updates records and never duplicates them. If any
    row is invalid, nothing is changed and every problem is listed with its file,
    row and field. Files that are not UTF-8 are read in their detected encoding (or
    --encoding), mis-decoded text is repaired, and the summary says both.
    """
    click.echo(f"Importing {path} ...")
    try:
        report = import_path(path, fmt=fmt, progress=_progress, encoding=encoding)
    except ImportFailed as exc:
        db.session.rollback()
        click.echo(f"Error: {exc.message}", err=True)
        for line in exc.errors:
            click.echo(f"  {line}", err=True)
        # Nothing was imported, but the refusal is recorded (a count, no row content) so that the admins'
        # home page shows that a scheduled import is failing.
        audit(None, "directory.import.failed", "directory", "import", format=fmt, errors=len(exc.errors))
        db.session.commit()
        sys.exit(1)
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    for line in report.summary_lines():
        click.echo(line)
    if dry_run:
        db.session.rollback()
        click.echo("Dry run: nothing was saved.")
    else:
        audit(None, "directory.import", "directory", "import", format=fmt)  # the operator's change, by the system
        db.session.commit()
        click.echo("Import saved.")


@directory_cli.command("export")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def export_command(path, fmt):
    """Export the directory as HSDS 3.0 into the folder PATH."""
    counts = export_json(path) if fmt == "json" else export_csv(path)
    for name, count in counts.items():
        click.echo(f"{name}: {count}")
    click.echo(f"Exported HSDS 3.0 {fmt.upper()} to {path}.")
