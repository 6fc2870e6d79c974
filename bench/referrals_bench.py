"""Worklist, inbox, referral-page and report speed on a large synthetic network.

    .venv/bin/python bench/referrals_bench.py [--referrals 100000] [--database-url URL] [--repeat 30]
                                              [--only reports|pages]

Builds a fresh database (temporary SQLite unless --database-url) with 20 clinics and 50 partner
agencies (4 services each, at places in the Bay Area, each for one of 3 needs), clients (across the
Bay Area's ZIP codes and a few far from every service), consents and N referrals spread over every
status and the last 120 days (rows written with bulk INSERTs: this measures reading, not the services
that write them), then times over HTTP (Flask test client, signed in through the login form):
  - the coordinator's worklist (counts for every view + the first page of each view);
  - the partner's inbox (same);
  - a referral page (client details, timeline, actions) and a client page;
  - the outcome report page of each scope (network admin, a clinic, the busiest agency with its
    network comparison), with and without a filter, every report table as CSV (network admin:
    the largest scope), the printable monthly summary, and the reports as JSON (/api/v1/reports, with
    a network office API token).
Report charts are images the page links: they are timed on their own, drawn for every request (the
cache of drawn charts is emptied before each: on a live network the numbers change as referrals move). Prints p50/p95 per page, wall-clock and this process's CPU time (on SQLite the CPU time includes the
database's work and hardly depends on what else the machine runs; on PostgreSQL the server's work is
not in it). The database must be empty (use a scratch database).
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pyotp
import zipcodes
from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from referralnet import create_app, warm_caches
from referralnet.accounts.models import NetworkOrganization, User
from referralnet.api.tokens import create_api_token
from referralnet.config import network_timezone
from referralnet.db import utcnow
from referralnet.directory.importer import import_path
from referralnet.directory.models import Attribute, Location, Organization, Service, ServiceAtLocation
from referralnet.directory.sdoh import DOMAINS_FILE, sdoh_terms
from referralnet.extensions import db
from referralnet.referrals.models import VERIFIED_OUTCOMES, Client, Closure, Consent, Referral, ReferralEvent, Status
from referralnet.reports.charts import forget_drawn
from referralnet.reports.services import SECTIONS

PASSWORD = "bench-password-1"
CLINICS, AGENCIES, SERVICES_PER_AGENCY = 20, 50, 4
STATUS_MIX = [(Status.REQUESTED, 0.15), (Status.ACCEPTED, 0.1), (Status.IN_PROGRESS, 0.1), (Status.ON_HOLD, 0.05),
              (Status.COMPLETED, 0.35), (Status.FAILED, 0.05), (Status.REJECTED, 0.1), (Status.CANCELLED, 0.08),
              (Status.ENTERED_IN_ERROR, 0.02)]
REASON = {Status.REJECTED: "no-capacity", Status.FAILED: "could-not-contact", Status.CANCELLED: "client-request",
          Status.ON_HOLD: "waitlist"}
OUTCOME = {Status.COMPLETED: "got-help", Status.FAILED: "did-not-get-help"}
NEEDS = ("food-insecurity", "housing-instability", "transportation-insecurity")
BAY_AREA = ((37.2, 37.9), (-122.55, -121.8))  # where the services are (latitudes, longitudes)


def client_zip_codes() -> list[str]:
    """The clients' ZIP codes: every standard ZIP code of the Bay Area box the services are in, and one in
    twenty from the Central Valley, far from any of them (so the unmet-distance table has rows to show)."""
    near, far = [], []
    for row in zipcodes.filter_by(state="CA", zip_code_type="STANDARD"):
        if not row["lat"]:
            continue
        lat, lon = float(row["lat"]), float(row["long"])
        if BAY_AREA[0][0] < lat < BAY_AREA[0][1] and BAY_AREA[1][0] < lon < BAY_AREA[1][1]:
            near.append(row["zip_code"])
        elif 36.5 < lat < 37.0 and -120.5 < lon < -119.5:
            far.append(row["zip_code"])
    return near + far[:max(1, len(near) // 20)]


def build(n: int, seed: int) -> dict:
    rng = random.Random(seed)
    now = utcnow()
    s = db.session
    import_path(DOMAINS_FILE)  # the SDOH domains, as `make run` loads them
    zips = client_zip_codes()
    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    agencies, services = [], []
    for a in range(AGENCIES):
        org = Organization(id=f"agency-{a}", name=f"Agency {a}", description="bench")
        s.add(org)
        for k in range(SERVICES_PER_AGENCY):
            service = Service(id=f"svc-{a}-{k}", organization=org, name=f"Service {a}-{k}", status="active")
            services.append(service)
            # A place in the Bay Area, and the need it serves (the unmet-distance table reads both).
            place = Location(id=f"loc-{a}-{k}", organization=org, name=f"Site {a}-{k}",
                             latitude=rng.uniform(*BAY_AREA[0]), longitude=rng.uniform(*BAY_AREA[1]))
            s.add_all([place, ServiceAtLocation(id=f"sal-{a}-{k}", service=service, location=place),
                       Attribute(id=f"attr-{a}-{k}", link_entity="service", link_id=service.id,
                                 link_type="sdoh_domain", taxonomy_term_id=sdoh_terms()[NEEDS[(a + k) % 3]]["id"])])
        agencies.append(org)
    s.add_all(services)
    partner_orgs = [NetworkOrganization(name=f"Agency {a} (network)", kind="partner", directory_organization=org)
                    for a, org in enumerate(agencies)]
    clinics = [NetworkOrganization(name=f"Clinic {c}", kind="referrer") for c in range(CLINICS)]
    office = NetworkOrganization(name="Network Office", kind="network")
    s.add_all(partner_orgs + clinics + [office])
    s.flush()
    admin = User(email="admin@bench.test", name="Admin", role="admin", organization=office,
                 password_hash=password_hash)
    s.add(admin)
    coordinators = [User(email=f"coord{c}@bench.test", name=f"Coordinator {c}", role="coordinator", organization=org,
                         password_hash=password_hash) for c, org in enumerate(clinics)]
    partners = [User(email=f"partner{a}@bench.test", name=f"Partner {a}", role="partner", organization=org,
                     password_hash=password_hash) for a, org in enumerate(partner_orgs)]
    s.add_all(coordinators + partners)
    s.flush()

    n_clients = max(1, n // 2)
    client_rows = [dict(organization_id=clinics[i % CLINICS].id, given_name=f"Given{i}", family_name=f"Family{i}",
                        date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randrange(20000)), phone="6505550100",
                        preferred_language=rng.choice(["en", "en", "es"]), contact_preference="phone",
                        zip_code=rng.choice(zips), created_by_id=coordinators[i % CLINICS].id, created_at=now, updated_at=now)
                   for i in range(n_clients)]
    s.execute(insert(Client), client_rows)
    client_ids = s.scalars(select(Client.id).order_by(Client.id)).all()
    zip_of = dict(s.execute(select(Client.id, Client.zip_code)).all())
    consent_rows, referral_rows = [], []
    statuses, weights = zip(*STATUS_MIX)
    for i in range(n):
        client_index = rng.randrange(n_clients)
        clinic = client_index % CLINICS
        svc = rng.choice(services)
        consent_rows.append(dict(client_id=client_ids[client_index], receiving_organization_id=svc.organization_id,
                                 method="verbal", recorded_by_id=coordinators[clinic].id, recorded_at=now))
    s.execute(insert(Consent), consent_rows)
    consent_ids = s.scalars(select(Consent.id).order_by(Consent.id)).all()
    rng = random.Random(seed + 1)
    for i in range(n):
        client_index = rng.randrange(n_clients)
        clinic = client_index % CLINICS
        svc = rng.choice(services)
        status = rng.choices(statuses, weights)[0]
        sent = now - timedelta(days=rng.random() * 120)
        closed = status in (Status.COMPLETED, Status.CANCELLED, Status.REJECTED, Status.FAILED) and rng.random() < 0.6
        answered = status not in (Status.REQUESTED, Status.CANCELLED, Status.ENTERED_IN_ERROR) or rng.random() < 0.2
        response_hours = rng.expovariate(1 / 20)
        viewed = answered or rng.random() < 0.5
        referral_rows.append(dict(
            client_id=client_ids[client_index], service_id=svc.id, receiving_organization_id=svc.organization_id,
            sending_organization_id=clinics[clinic].id, sender_id=coordinators[clinic].id, consent_id=consent_ids[i],
            category=rng.choice(NEEDS),
            priority="routine", status=status.value, status_reason_code=REASON.get(status),
            outcome=OUTCOME.get(status), version=1, requested_at=sent, response_due_at=sent + timedelta(days=3),
            responded_at=sent + timedelta(hours=response_hours) if answered and status != Status.REQUESTED else None,
            first_viewed_at=sent + timedelta(hours=response_hours * rng.random()) if viewed else None,
            loop_closed_at=sent + timedelta(days=5 + rng.random() * 10) if closed else None,
            verified_outcome=VERIFIED_OUTCOMES[i % len(VERIFIED_OUTCOMES)] if closed else None,  # its closure's (below)
            created_at=sent, updated_at=sent))
    from referralnet.referrals.timing import ENDS, FLAG_INPUTS, durations, flags, sent_day

    tz = network_timezone()
    for row in referral_rows:  # the columns the ORM would have derived (bulk INSERTs bypass it)
        row.update(durations(row["requested_at"], {end: row[end] for end in ENDS}, tz),
                   sent_day=sent_day(row["requested_at"], tz), client_zip_code=zip_of[row["client_id"]],
                   report_flags=flags({name: row.get(name) for name in FLAG_INPUTS}))
    s.execute(insert(Referral), referral_rows)
    closed_rows = s.execute(select(Referral.id, Referral.loop_closed_at, Referral.sender_id, Referral.verified_outcome)
                            .where(Referral.loop_closed_at.is_not(None))).all()
    s.execute(insert(Closure), [dict(referral_id=r.id, verified_outcome=r.verified_outcome, closed_by_id=r.sender_id,
                                     closed_at=r.loop_closed_at) for r in closed_rows])
    rows = s.execute(select(Referral.id, Referral.requested_at, Referral.sender_id)).all()
    s.execute(insert(ReferralEvent), [dict(referral_id=r.id, at=r.requested_at, actor_id=r.sender_id,
                                           actor_kind="coordinator", kind="status", to_status="requested",
                                           patient_visible=True) for r in rows])
    s.commit()
    vacuum_analyze()
    busiest_partner = max(range(AGENCIES), key=lambda a: sum(1 for r in referral_rows
                                                              if r["receiving_organization_id"] == f"agency-{a}"))
    return {"coordinator": coordinators[0].email, "partner": partners[busiest_partner].email,
            "clinic_id": clinics[0].id, "admin": admin.email}


def vacuum_analyze() -> None:
    """PostgreSQL: what autovacuum does soon after bulk INSERTs (planner statistics, and the visibility map
    without which no index-only scan is possible), done now so that the timings are of a settled database."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("referral", "closure", "referral_event", "client", "consent"):
            connection.exec_driver_sql(f"VACUUM ANALYZE {table}")


def built_before() -> dict:
    """The users build() made, found again in a database it built (--reuse)."""
    from sqlalchemy import func

    counts = dict(db.session.execute(select(Referral.receiving_organization_id, func.count())
                                     .group_by(Referral.receiving_organization_id)).all())
    busiest = max(range(AGENCIES), key=lambda a: counts.get(f"agency-{a}", 0))
    clinic = db.session.scalar(select(NetworkOrganization.id).where(NetworkOrganization.name == "Clinic 0"))
    return {"coordinator": "coord0@bench.test", "partner": f"partner{busiest}@bench.test", "clinic_id": clinic,
            "admin": "admin@bench.test"}


def chart_links(client, page: str) -> list[str]:
    """The chart images a report page links (drawn when the browser asks for them)."""
    return re.findall(r'<img src="(/reports/charts/[^"]+\.svg)"', client.get(page).get_data(as_text=True))


def api_client(app, email: str):
    """A test client sending an API token (scope reports:read) of `email`'s organization with every request."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        _, secret = create_api_token(user, user.organization, name="Reports bench", scopes=["reports:read"])
        db.session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def _totp(secret: str, last_step) -> str:
    """The authenticator app's code now, or the next step's if now's was used (one step either side is good)."""
    totp = pyotp.TOTP(secret)
    step = totp.timecode(datetime.now())
    return totp.generate_otp(step if last_step is None or step > last_step else last_step + 1)


def sign_in(app, email: str):
    """Sign in through the login form, and through the second step when the account needs one (admins:
    enrolled on the set-up page the first time, with the stored key on a reused database)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(page)})
    assert response.status_code == 302, "sign-in failed"
    location = response.headers["Location"]
    if location.endswith("/login/two-factor/setup"):
        page = client.get(location).get_data(as_text=True)
        secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
        response = client.post(location, data={"code": _totp(secret, None), "csrf_token": _csrf(page)})
    elif location.endswith("/login/two-factor"):
        page = client.get(location).get_data(as_text=True)
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            code = _totp(user.totp_secret, user.totp_last_step)
        response = client.post(location, data={"code": code, "csrf_token": _csrf(page)})
    assert response.status_code == 302 and "two-factor" not in response.headers["Location"], "second step failed"
    return client


def timed(client, urls: list[str], repeat: int) -> tuple[float, float, float, float]:
    """p50 and p95 of the wall-clock time, and of this process's CPU time (ms)."""
    samples, cpu = [], []
    for url in urls:
        client.get(url)  # warm-up
    for i in range(repeat):
        url = urls[i % len(urls)]
        forget_drawn()  # charts drawn every time: a live report's numbers change as referrals move
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)

    def p50_p95(values: list[float]) -> tuple[float, float]:
        values.sort()
        return statistics.median(values), values[max(0, int(len(values) * 0.95) - 1)]

    return *p50_p95(samples), *p50_p95(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["reports", "pages"], help="time only the report pages or only the others")
    parser.add_argument("--reuse", action="store_true",
                        help="time a database this script built before (--database-url) instead of building one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": str(Path(tmp) / "index"),
                          "SEARCH_AUTO_INDEX": False, "RATELIMIT_ENABLED": False, "SECRET_KEY": "bench"})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            start = time.perf_counter()
            if args.reuse:
                who = built_before()
                vacuum_analyze()  # after a migration's rewrite of the table, as autovacuum would
                print(f"reusing {db.session.query(Referral).count():,} referrals on {url.split(':')[0]}")
            else:
                who = build(args.referrals, args.seed)
                print(f"built {args.referrals:,} referrals ({CLINICS} clinics, {AGENCIES} agencies) in "
                      f"{time.perf_counter() - start:.1f} s on {url.split(':')[0]}")
            coordinator_referrals = db.session.scalars(select(Referral.id).where(
                Referral.sending_organization_id == who["clinic_id"]).limit(20)).all()
            coordinator_clients = db.session.scalars(select(Client.id).where(
                Client.organization_id == who["clinic_id"]).limit(20)).all()
            total_for_clinic = db.session.query(Referral).filter_by(sending_organization_id=who["clinic_id"]).count()
        warm_caches(app)  # as each gunicorn worker does before it takes requests (gunicorn.conf.py)
        coordinator, partner = sign_in(app, who["coordinator"]), sign_in(app, who["partner"])
        admin = sign_in(app, who["admin"])
        api = api_client(app, who["admin"])
        views = ["refer-elsewhere", "patient-reported", "overdue", "to-close", "waiting", "closed"]
        inbox = ["overdue", "new", "accepted", "in-progress", "on-hold", "finished"]
        rows = [
            (f"worklist (clinic with {total_for_clinic:,} referrals)", coordinator,
             [f"/worklist?view={v}" for v in views]),
            ("worklist filtered (need + only mine)", coordinator,
             [f"/worklist?view={v}&category=food-insecurity&mine=y" for v in views]),
            ("inbox (busiest agency)", partner, [f"/inbox?view={v}" for v in inbox]),
            ("referral page", coordinator, [f"/referrals/{i}" for i in coordinator_referrals]),
            ("client page", coordinator, [f"/clients/{i}" for i in coordinator_clients]),
            ("home (attention count)", coordinator, ["/"]),
        ]
        reports = [
            ("report page: network admin (whole network)", admin, ["/reports"]),
            ("report page: network admin, need filter", admin, ["/reports?category=food-insecurity"]),
            ("report page: clinic", coordinator, ["/reports"]),
            ("report page: agency (with network median)", partner, ["/reports"]),
            ("report page: agency, priority filter", partner, ["/reports?priority=routine"]),
            ("monthly summary: clinic", coordinator, ["/reports/monthly"]),
        ] + [(f"report CSV {section}: network admin", admin, [f"/reports/{section}.csv"])
             for section in SECTIONS if section != "comparison"] \
          + [("report chart images: network admin (3 per page)", admin, chart_links(admin, "/reports")),
             ("report CSV comparison: agency", partner, ["/reports/comparison.csv"]),
             ("report JSON, every table: network office token", api, ["/api/v1/reports"]),
             ("report JSON, one table: network office token", api, [f"/api/v1/reports/{s}" for s in SECTIONS[:-1]])]
        rows = {"reports": reports, "pages": rows}.get(args.only, rows + reports)
        print(f"{'page':<48}{'p50 ms':>9}{'p95 ms':>9}{'n':>5}{'cpu p50':>9}{'cpu p95':>9}")
        for label, client, urls in rows:
            p50, p95, cpu50, cpu95 = timed(client, urls, args.repeat)
            print(f"{label:<48}{p50:>9.1f}{p95:>9.1f}{args.repeat:>5}{cpu50:>9.1f}{cpu95:>9.1f}")


if __name__ == "__main__":
    main()
