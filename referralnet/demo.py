"""Demo data: the San Mateo directory, fictional agencies for every SDOH domain, and demo users.

`flask demo load` fills an empty database; `make run` calls it on first start.
Demo passwords are public by design (they are printed); never load demo data
into a production database.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from referralnet.accounts.models import NetworkOrganization, User
from referralnet.accounts.services import create_organization, create_user
from referralnet.demo_referrals import load_demo_referrals
from referralnet.directory.importer import import_path
from referralnet.directory.models import Organization, Service
from referralnet.extensions import db

SEED_DIR = Path(__file__).resolve().parent.parent / "seed_data"
DIRECTORY_SOURCES = [SEED_DIR / "sdoh_domains.json", SEED_DIR / "san-mateo-hsds", SEED_DIR / "demo-agencies-hsds"]
DEMO_PASSWORD = "demo-password-1"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str
    organization: str
    phone: str | None = None


DEMO_ORGANIZATIONS = [
    # (name, kind, directory organization name or None, the phone patients call; fictional 555-01xx numbers)
    ("ReferralNet Network Office", "network", None, None),
    ("Bayside Community Health Center", "referrer", None, "(650) 555-0140"),
    ("Coastside Family Medicine", "referrer", None, "(650) 555-0141"),
    ("Samaritan House", "partner", "Samaritan House", None),
    ("Peninsula Family Service", "partner", "Peninsula Family Service", None),
]
DEMO_USERS = [
    DemoUser("admin@referralnet.test", "Alex Admin", "admin", "ReferralNet Network Office"),
    DemoUser("coordinator@referralnet.test", "Casey Coordinator", "coordinator", "Bayside Community Health Center",
             "(650) 555-0142"),
    DemoUser("coordinator2@referralnet.test", "Jordan Lee", "coordinator", "Coastside Family Medicine",
             "(650) 555-0177 x12"),
    DemoUser("partner@referralnet.test", "Pat Partner", "partner", "Samaritan House"),
    DemoUser("partner2@referralnet.test", "Morgan Diaz", "partner", "Peninsula Family Service"),
]

demo_cli = AppGroup("demo", help="Demo data for trying ReferralNet out.")


def load_demo_data(echo=print) -> bool:
    """Load the demo directory and accounts into an empty database. Returns False if data is already there."""
    if db.session.scalar(select(func.count()).select_from(User)):
        return False
    for source in DIRECTORY_SOURCES:
        if source.exists():
            report = import_path(source)
            echo(f"  {source.name}: {sum(report.created.values())} records")
    for name, kind, listing_name, phone in DEMO_ORGANIZATIONS:
        listing = db.session.scalar(select(Organization.id).where(Organization.name == listing_name)) \
            if listing_name else None
        create_organization(name=name, kind=kind, directory_organization_id=listing, phone=phone)
    orgs = {o.name: o for o in db.session.scalars(select(NetworkOrganization))}
    for user in DEMO_USERS:
        create_user(email=user.email, name=user.name, password=DEMO_PASSWORD, role=user.role,
                    organization_id=orgs[user.organization].id, phone=user.phone)
    load_demo_referrals(echo=echo)
    return True


def demo_logins_text() -> str:
    lines = ["Demo logins (password for all: %s):" % DEMO_PASSWORD]
    for user in DEMO_USERS:
        lines.append(f"  {user.role:<12} {user.email:<32} {user.organization}")
    lines.append("Admins also sign in with an authenticator app (two-factor): the admin's first sign-in shows a\n"
                 "QR code to scan with one (Google Authenticator, Microsoft Authenticator, 1Password, FreeOTP...).")
    return "\n".join(lines)


@demo_cli.command("load")
def load_command():
    """Load demo data if the database has no users yet."""
    if load_demo_data(echo=click.echo):
        db.session.commit()
        services = db.session.scalar(select(func.count()).select_from(Service))
        active = db.session.scalar(select(func.count()).select_from(Service).where(Service.status == "active"))
        # Counted as `search reindex` counts them: the active services are the ones it indexes.
        click.echo(f"Demo data loaded: {active} active services ({services - active} inactive).")
    else:
        click.echo("Database already has users; demo data not loaded.")
    click.echo(demo_logins_text())
