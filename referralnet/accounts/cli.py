"""`flask users ...` commands."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from referralnet.accounts import services
from referralnet.accounts.models import NetworkOrganization, Role, User
from referralnet.errors import ValidationFailed
from referralnet.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--organization", "organization_name", required=True,
              help="Name of an existing member organization (see `flask users orgs`).")
@click.password_option(help="Asked for when not given.")
@click.option("--phone", default=None, help="A work phone number; agencies see it on the referrals the user sends.")
def create_user_command(email, name, role, organization_name, password, phone):
    """Create a user in an existing organization."""
    org = db.session.scalar(select(NetworkOrganization).where(NetworkOrganization.name == organization_name))
    if org is None:
        raise click.ClickException(f"No organization named {organization_name!r}. Run `flask users orgs` to list them.")
    try:
        user = services.create_user(email=email, name=name, password=password, role=role, organization_id=org.id,
                                    phone=phone)
    except ValidationFailed as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
        raise click.ClickException(f"{exc.message} {details}")
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} in {org.name}.")


@users_cli.command("list")
def list_users_command():
    """List users with their role, organization and status."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        state = "active" if user.active else "deactivated"
        click.echo(f"{user.email}\t{user.role}\t{user.organization.name}\t{state}")


@users_cli.command("orgs")
def list_orgs_command():
    """List member organizations."""
    for org in db.session.scalars(select(NetworkOrganization).order_by(NetworkOrganization.name)):
        click.echo(f"{org.name}\t{org.kind}\t{'active' if org.active else 'deactivated'}")
