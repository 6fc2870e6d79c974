"""Two gunicorn hosts on one PostgreSQL under a mixed load: is anything lost, stale or failing?

    .venv/bin/python bench/load_bench.py [--duration 300] [--services 10000] [--referrals 5000]
                                         [--seed 7] [--pg-port N] [--keep] [--profile]

Run as root (it starts its own PostgreSQL as the `postgres` user, like .ci/run, on --pg-port or a
free port; and its own Redis when Debian's redis-server is installed, so rate limits are shared as
in production). It then

1. builds the database in this process: migrations, a network of --referrals referrals over 20
   clinics and 50 agencies with their staff (bench/referrals_bench.py's builder), a directory of
   --services synthetic services (bench/search_bench.py's generator, imported through the HSDS
   importer), an API token for an EHR, patient links, an agency that joins the network for one of
   the directory's services, and the search documents of the backend PostgreSQL gets by default
   (`postgres`: rows in the database both hosts read; SEARCH_BACKEND=whoosh in the environment
   builds a Whoosh index instead, copied to each host);
2. starts two gunicorn "hosts" (gunicorn.conf.py, 2 workers each) on loopback ports, with the same
   DATABASE_URL and SECRET_KEY, as two app servers behind a load balancer; each host's /readyz must
   name the backend that was built (the output says which);
3. drives a bounded mix for --duration seconds, every request to a host picked at random (the
   load balancer), each simulated person waiting 0.1-0.5 s between requests:
   - coordinators search the directory, register clients and send referrals (bench/concurrent_users.py);
   - a coordinator works the worklist (opens referrals and clients, writes messages);
   - partner staff accept, start and complete referrals sent to them; every transition the server
     confirmed (a redirect) is remembered, and a 409 (someone else changed it first) is expected;
   - patients open status pages and print pages, and report back when the page offers it;
   - an EHR polls FHIR Tasks with its API token and reads one now and then;
   - a consistency checker, as partner staff, switches one of the agency's services between
     "accepting" and "not accepting" through one host and at once searches for it, accepting only,
     through the OTHER host: a result that does not match the state just set is a stale read
     (the same search through the host that made the change is checked too, as a control);
4. checks the final states in the database: every referral's status is the last transition the
   server confirmed for it, the switched service's state is the last one set (else a lost update);
5. reads the hosts' own request logs (referralnet.requestlog): every 5xx and logged traceback of the
   hosts' whole life, warm-up included, is an error; per route, the server's CPU per request (the
   serving thread's, which a busy machine does not inflate the way it does wall-clock times), SQL
   statements and time waiting for them.

Prints per-route requests/s and p50/p95/p99 (ms) as the simulated people saw them, the server-side
table, the errors (5xx, dropped connections, 4xx not asked for, server errors), expected 409s, stale
reads and lost updates, and whether page routes met p95 <= 250 ms; exits 1 unless all of it is clean.
--profile also writes a cProfile of every request (referralnet/profiling.py; add them up with
`python -m referralnet.profiling FOLDER [endpoint]`).
"""
from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import concurrent_users as people  # noqa: E402  (the simulated coordinators and patients)

PAGE_P95_BUDGET_MS = 250
PARTNER_AGENCIES = 3  # of referrals_bench's 50: the ones coordinators refer to and partners work for
SWITCHER = "switcher@bench.test"
THINK = (0.1, 0.5)
LIMITS = {"LOGIN_RATE_LIMIT": "100000 per minute", "HSDS_RATE_LIMIT": "100000 per minute",
          "API_RATE_LIMIT": "100000 per minute", "STATUS_RATE_LIMIT": "100000 per minute",
          "STATUS_BAD_TOKEN_LIMIT": "100000 per minute"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the servers --------------------------------------------------------------------------------------

class Postgres:
    """A throw-away PostgreSQL cluster on a free loopback port, as .ci/run starts one."""

    def __init__(self, port: int = 0):
        if os.geteuid() != 0:
            raise SystemExit("run as root: PostgreSQL is started as the postgres user (like .ci/run)")
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bins[-1].parent
        self.port = port or free_port()
        self.data = Path(tempfile.mkdtemp(prefix="referralnet-loadbench-pg."))
        shutil.chown(self.data, "postgres", "postgres")
        self._as_postgres(f"{self.bin}/initdb -D {self.data} -A trust -U postgres --encoding=UTF8 --locale=C.UTF-8")
        self._as_postgres(f"{self.bin}/pg_ctl -D {self.data} -l {self.data}/server.log -w -o "
                          f"\"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200\" start")
        self._as_postgres(f"{self.bin}/createdb -h 127.0.0.1 -p {self.port} referralnet")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/referralnet"

    def _as_postgres(self, command: str) -> None:
        subprocess.run(["su", "postgres", "-s", "/bin/bash", "-c", command], check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        subprocess.run(["su", "postgres", "-s", "/bin/bash", "-c", f"{self.bin}/pg_ctl -D {self.data} -m fast stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.data, ignore_errors=True)


class Redis:
    """A redis-server of our own for the shared rate limits, when Debian's redis-server is installed."""

    def __init__(self):
        binary = shutil.which("redis-server")
        self.process = None
        self.url = "memory://"
        if binary:
            port = free_port()
            self.process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
            self.url = f"redis://127.0.0.1:{port}/0"
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait()


def start_host(name: str, env: dict, workdir: Path) -> tuple[subprocess.Popen, str, str]:
    """A gunicorn host on a free port, once its /readyz answers 200: (process, base URL, its search check)."""
    port = free_port()
    host_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", SEARCH_INDEX_DIR=str(workdir / f"index-{name}"),
                    PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    out = open(workdir / f"host-{name}.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "referralnet:create_app()"],
                               cwd=ROOT, env=host_env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            ready = requests.get(base + "/readyz", timeout=5)
            if ready.status_code == 200:
                return process, base, ready.json()["checks"]["search"]["detail"]
        except requests.RequestException:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"host {name} did not become ready: see {workdir / f'host-{name}.log'}")


# --- the data -----------------------------------------------------------------------------------------

def build(url: str, secret_key: str, workdir: Path, services: int, referrals: int, seed: int) -> dict:
    """Everything the hosts will serve, built in this process; returns what the simulated people need."""
    import referrals_bench
    import search_bench
    from flask_migrate import upgrade
    from sqlalchemy import select

    from referralnet import create_app
    from referralnet.accounts.models import NetworkOrganization, User
    from referralnet.api.tokens import create_api_token
    from werkzeug.security import generate_password_hash

    from referralnet.directory.models import Service, ServiceAtLocation
    from referralnet.extensions import db
    from referralnet.referrals.models import Referral
    from referralnet.referrals.patient_links import ensure_link
    from referralnet.search.backend import current_backend

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": str(workdir / "index-a"),
                      "SEARCH_AUTO_INDEX": False, "SECRET_KEY": secret_key, "RATELIMIT_ENABLED": False})
    with app.app_context():  # the hosts' SECRET_KEY: patient links are derived from it
        upgrade()
        started = time.perf_counter()
        who = referrals_bench.build(referrals, seed)  # first: it expects an empty database
        log(f"network: {db.session.query(Referral).count():,} referrals over {referrals_bench.CLINICS} clinics and "
            f"{referrals_bench.AGENCIES} agencies ({time.perf_counter() - started:.0f} s)")
        started = time.perf_counter()
        package = search_bench.generate(services, search_bench.bay_area_zips(), seed)
        search_bench.load_directory(package, workdir / "directory")
        log(f"directory: {db.session.query(Service).count():,} services ({time.perf_counter() - started:.0f} s)")

        # The agencies the simulated partners work for, with the services coordinators refer to.
        agencies = {f"agency-{a}": [f"svc-{a}-{k}" for k in range(referrals_bench.SERVICES_PER_AGENCY)]
                    for a in range(PARTNER_AGENCIES)}
        admin = db.session.scalar(select(User).where(User.email == who["admin"]))
        ehr_org = db.session.scalar(select(NetworkOrganization).where(NetworkOrganization.name == "Agency 0 (network)"))
        _, ehr_token = create_api_token(admin, ehr_org, name="Load bench EHR", scopes=["referrals:read"])
        links = [ensure_link(r) for r in db.session.scalars(select(Referral).where(
            Referral.receiving_organization_id.in_(list(agencies))).order_by(Referral.id).limit(40))]

        # The switched service: a directory service with a place (so search lists it), given a name of
        # its own, whose agency joins the network with a partner who switches it.
        switched = db.session.scalars(select(Service).join(ServiceAtLocation).where(
            Service.status == "active", Service.id.not_like("svc-%")).order_by(Service.id).limit(1)).one()
        switched.name, switched.accepting_referrals = "Loadbench Harbor Pantry", True
        joined = NetworkOrganization(name="Loadbench Harbor (network)", kind="partner",
                                     directory_organization_id=switched.organization_id)
        db.session.add(joined)
        db.session.add(User(email=SWITCHER, name="Switching Partner", role="partner", organization=joined,
                            password_hash=generate_password_hash(referrals_bench.PASSWORD, method="pbkdf2:sha256:1000")))
        switched_id = switched.id
        db.session.commit()
        started = time.perf_counter()
        backend = current_backend()
        count = backend.rebuild()
        log(f"search ({backend.name} backend): {count:,} documents ({time.perf_counter() - started:.0f} s)"
            + (", index copied to host b" if backend.name == "whoosh" else ", in the database both hosts share"))
    people.PASSWORD = referrals_bench.PASSWORD  # the simulated people sign in as referrals_bench's users
    if backend.name == "whoosh":
        shutil.copytree(workdir / "index-a", workdir / "index-b")
    return {"agencies": agencies, "ehr_token": ehr_token, "links": [f"/s/{t}" for t in links],
            "switched": (switched_id, "Loadbench Harbor Pantry"), "coordinators": ["coord0@bench.test", "coord1@bench.test"],
            "partners": [f"partner{a}@bench.test" for a in range(PARTNER_AGENCIES)], "backend": backend.name}


# --- the simulated people -----------------------------------------------------------------------------

class Stats(people.Stats):
    def __init__(self):
        super().__init__()
        self.checks = 0
        self.stale: list[str] = []
        self.control_stale = 0


class Person(people.User):
    """A simulated person whose every request goes to a host the "load balancer" picks."""

    def __init__(self, hosts: list[str], stats: Stats, rng: random.Random):
        super().__init__(hosts[0], stats, rng)
        self.hosts = hosts

    @property
    def base(self) -> str:
        return self.rng.choice(self.hosts)

    @base.setter
    def base(self, _value) -> None:
        pass

    def on(self, host: str, method: str, path: str, route: str, **kwargs):
        """A request to this host, not one the load balancer picks."""
        hosts, self.hosts = self.hosts, [host]
        try:
            return self.call(method, path, route, **kwargs)
        finally:
            self.hosts = hosts


class Ledger:
    """What the server confirmed: each referral's last transition, the switch's last state."""

    def __init__(self):
        self.lock = threading.Lock()
        self.transitions: dict[int, list[str]] = defaultdict(list)
        self.switch: list[bool] = []

    def confirmed(self, referral_id: int, to: str) -> None:
        with self.lock:
            self.transitions[referral_id].append(to)


MOVES = [("accepted", {}), ("in-progress", {}), ("completed", {"completed-outcome": "got-help"})]
ORDER = [to for to, _ in MOVES]


def ehr(user: Person, token: str, stop: threading.Event) -> None:
    """An EHR's integration: polls its new Tasks, reads one now and then."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    while not stop.is_set():
        bundle = user.call("GET", "/fhir/Task", "GET /fhir/Task", headers=headers,
                           params={"status": "requested", "_count": "20"})
        if bundle is not None and bundle.status_code == 200:
            ids = [entry["resource"]["id"] for entry in bundle.json().get("entry", [])]
            if ids and user.rng.random() < 0.5:
                user.call("GET", f"/fhir/Task/{user.rng.choice(ids)}", "GET /fhir/Task/<id>", headers=headers)
        time.sleep(user.rng.uniform(0.5, 1.0))


def consistency_checker(user: Person, stats: Stats, stop: threading.Event, email: str, switched: tuple[str, str],
                        ledger: Ledger) -> None:
    """Switch a service through one host, search for it through the other at once."""
    service_id, name = switched
    user.sign_in(email)
    accepting = True
    while not stop.is_set():
        writer, reader = user.rng.sample(user.hosts, 2)
        listings = user.on(writer, "GET", "/partner/listings", "GET /partner/listings")
        if listings is None or listings.status_code != 200:
            user.think()
            continue
        accepting = not accepting
        changed = user.on(writer, "POST", f"/partner/listings/{service_id}/accepting",
                          "POST /partner/listings/<id>/accepting", expect=(302,),
                          data={"accepting": "yes" if accepting else "no", "csrf_token": people.csrf(listings.text)})
        if changed is None or changed.status_code != 302:
            accepting = not accepting
            continue
        with ledger.lock:
            ledger.switch.append(accepting)
        for host, control in ((reader, False), (writer, True)):
            found = user.on(host, "GET", "/search", "GET /search", params={"q": name, "accepting": "y"})
            if found is None or found.status_code != 200:
                continue
            listed = f'href="/services/{service_id}' in found.text
            if control:
                stats.control_stale += listed != accepting
                continue
            with stats.lock:
                stats.checks += 1
                if listed != accepting:
                    stats.stale.append(f"set {'accepting' if accepting else 'not accepting'} via {writer}, "
                                       f"search via {host} {'listed' if listed else 'did not list'} it")
        user.think()


# --- the run ------------------------------------------------------------------------------------------

def warm_up(bases: list[str], email: str) -> None:
    """A few searches and pages on every worker of every host before the clock starts (not counted):
    a host behind a load balancer takes traffic once ready, not while its first requests load caches."""
    def hit(base: str) -> None:
        user = Person([base], Stats(), random.Random(0))
        user.sign_in(email)
        for q in ("food pantry", "housing help", "legal aid"):
            user.call("GET", "/search", "warm-up", params={"q": q, "near": "94401"})
        user.call("GET", "/worklist", "warm-up")

    threads = [threading.Thread(target=hit, args=(base,)) for base in bases for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log("hosts warmed up (4 sessions each, not counted)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def final_check(url: str, ledger: Ledger, switched_id: str) -> list[str]:
    """Every update the server confirmed is in the database: the lost ones, described."""
    from sqlalchemy import create_engine, text

    lost = []
    engine = create_engine(url)
    with engine.connect() as connection:
        for referral_id, moves in ledger.transitions.items():
            status = connection.execute(text("SELECT status FROM referral WHERE id = :id"), {"id": referral_id}).scalar()
            furthest = max(moves, key=ORDER.index)  # responses may be recorded out of order; moves only go forward
            if status != furthest:
                lost.append(f"referral {referral_id}: confirmed {' -> '.join(moves)}, database says {status}")
        if ledger.switch:
            accepting = connection.execute(text("SELECT accepting_referrals FROM service WHERE id = :id"),
                                           {"id": switched_id}).scalar()
            if bool(accepting) != ledger.switch[-1]:
                lost.append(f"service {switched_id}: last set accepting={ledger.switch[-1]}, database says {accepting}")
    engine.dispose()
    return lost


def server_side(logs: list[Path], window: tuple[float, float]) -> tuple[dict[str, list[dict]], list[str]]:
    """The hosts' own request lines (referralnet.requestlog) in the measured window, by route; and every
    server error of the hosts' whole life (warm-up included): 5xx lines and logged tracebacks."""
    import json
    from datetime import datetime

    routes: dict[str, list[dict]] = defaultdict(list)
    errors = []
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            if "Traceback (most recent call last)" in line:
                errors.append(f"{path.name}: a traceback (see the log)")
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("logger") != "referralnet.request":
                if entry.get("level") in ("ERROR", "CRITICAL"):
                    errors.append(f"{path.name}: {entry.get('logger')}: {str(entry.get('message'))[:160]}")
                continue
            if entry["status"] >= 500:
                errors.append(f"{path.name}: {entry['method']} {entry['route']} answered {entry['status']}")
            at = datetime.fromisoformat(entry["timestamp"]).timestamp()
            if window[0] <= at <= window[1] and entry.get("route"):
                routes[f"{entry['method']} {entry['route']}"].append(entry)
    return routes, errors


def print_server_side(routes: dict[str, list[dict]]) -> None:
    """Per route, what the server spent: CPU of the serving thread (not inflated by a busy machine the
    way wall-clock times are), SQL statements and the time waiting for them, and its own duration."""
    print()
    print("server side (the hosts' request log, same window): per request")
    print(f"{'route':48} {'cpu mean':>9} {'cpu p95':>8} {'queries':>8} {'max':>4} {'db ms':>7} {'dur p95':>8}")
    total_cpu = 0.0
    for route in sorted(routes):
        lines = routes[route]
        cpu = [line.get("cpu_ms") or 0.0 for line in lines]
        queries = [line.get("db_queries") or 0 for line in lines]
        total_cpu += sum(cpu)
        print(f"{route:48} {sum(cpu) / len(cpu):9.1f} {percentile(cpu, 0.95):8.1f} "
              f"{sum(queries) / len(queries):8.1f} {max(queries):4d} "
              f"{sum(line.get('db_ms') or 0.0 for line in lines) / len(lines):7.1f} "
              f"{percentile([line['duration_ms'] for line in lines], 0.95):8.0f}")
    print(f"{'CPU of all requests (s)':48} {total_cpu / 1000:9.1f}")


def report(stats: Stats, duration: float, lost: list[str], checked: int, backend: str,
           server_errors: list[str]) -> bool:
    print()
    print(f"{'route':44} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    page_p95 = {}
    for route in sorted(stats.latency):
        ms = [s * 1000 for s in stats.latency[route]]
        p95 = percentile(ms, 0.95)
        print(f"{route:44} {len(ms):8d} {len(ms) / duration:7.1f} {percentile(ms, 0.5):8.0f} {p95:8.0f} "
              f"{percentile(ms, 0.99):8.0f}")
        if route.startswith("GET ") and "/fhir/" not in route:
            page_p95[route] = p95
    print(f"{'all':44} {stats.requests:8d} {stats.requests / duration:7.1f}")
    print()
    print(f"errors (5xx, dropped connections, 4xx not asked for): {len(stats.errors)}")
    for line in stats.errors[:10]:
        print(f"  {line}")
    print(f"server errors (5xx answered, tracebacks and errors logged by the hosts, warm-up included): "
          f"{len(server_errors)}")
    for line in server_errors[:10]:
        print(f"  {line}")
    print(f"expected conflicts (409, someone else changed it first): {stats.conflicts}")
    print(f"stale reads (change through one host, search through the other at once): {len(stats.stale)} "
          f"of {stats.checks} checks  [search backend: {backend}]")
    for line in stats.stale[:3]:
        print(f"  {line}")
    print(f"  control, search through the host that made the change: {stats.control_stale} stale")
    print(f"lost updates (confirmed by the server, not in the database): {len(lost)} of {checked} checked")
    for line in lost[:10]:
        print(f"  {line}")
    slow = {route: p95 for route, p95 in page_p95.items() if p95 > PAGE_P95_BUDGET_MS}
    print(f"page routes p95 <= {PAGE_P95_BUDGET_MS} ms: " + ("yes" if not slow else "NO: " + ", ".join(
        f"{route} {p95:.0f} ms" for route, p95 in sorted(slow.items()))))
    return not (stats.errors or server_errors or stats.stale or lost or slow)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--referrals", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg-port", type=int, default=0, help="port for its PostgreSQL (default: a free one)")
    parser.add_argument("--profile", action="store_true",
                        help="profile every request on the hosts (REQUEST_PROFILE_DIR, referralnet/profiling.py): "
                             "slower, for finding where time goes; implies --keep")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (host logs) afterwards")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="referralnet-loadbench."))
    postgres, redis_server, hosts = None, None, []
    try:
        postgres = Postgres(args.pg_port)
        redis_server = Redis()
        log(f"PostgreSQL on port {postgres.port}; rate limits in {redis_server.url}")
        secret_key = secrets.token_hex(32)
        setup = build(postgres.url, secret_key, workdir, args.services, args.referrals, args.seed)
        env = dict(os.environ, DATABASE_URL=postgres.url, SECRET_KEY=secret_key, PYTHONPATH=str(ROOT),
                   WEB_CONCURRENCY="2", GUNICORN_THREADS="4", GUNICORN_TIMEOUT="120",
                   RATELIMIT_STORAGE_URI=redis_server.url, LOG_FORMAT="json", **LIMITS)
        if args.profile:
            args.keep = True
            env["REQUEST_PROFILE_DIR"] = str(workdir / "profiles")
        for name in ("a", "b"):
            hosts.append(start_host(name, env, workdir))
        bases = [base for _, base, _ in hosts]
        backend = setup["backend"]
        for (_, base, search_check) in hosts:  # each host says which backend answers its searches
            log(f"host {base}: /readyz search: {search_check}")
            if not search_check.startswith(backend):
                raise SystemExit(f"host {base} answers search with another backend than the {backend} one built")
        log(f"hosts {', '.join(bases)} (2 workers each); driving the mix for {args.duration:.0f} s")

        warm_up(bases, setup["coordinators"][0])
        stats, ledger, stop = Stats(), Ledger(), threading.Event()
        shared = people.Shared(setup["agencies"])
        for link in setup["links"]:
            shared.add_link(link)
        rng = random.Random(args.seed)

        def person() -> Person:
            return Person(bases, stats, random.Random(rng.random()))

        coordinators, partners = setup["coordinators"], setup["partners"]
        roles = [
            lambda: people.coordinator_sending(person(), shared, stop, coordinators[0]),
            lambda: people.coordinator_sending(person(), shared, stop, coordinators[1]),
            lambda: people.coordinator_sending(person(), shared, stop, coordinators[0]),
            lambda: people.coordinator_working(person(), shared, stop, coordinators[1]),
            *[lambda email=email: people.partner(person(), shared, stop, email, moves=MOVES, confirmed=ledger.confirmed)
              for email in partners],
            lambda: people.patient(person(), shared, stop, None),
            lambda: people.patient(person(), shared, stop, None),
            lambda: ehr(person(), setup["ehr_token"], stop),
            lambda: consistency_checker(person(), stats, stop, SWITCHER, setup["switched"], ledger),
        ]
        threads = [threading.Thread(target=role, daemon=True) for role in roles]
        window_start = time.time()
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.duration)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        elapsed = time.monotonic() - started
        lost = final_check(postgres.url, ledger, setup["switched"][0])
        checked = len(ledger.transitions) + (1 if ledger.switch else 0)
        time.sleep(1)  # the hosts' last log lines
        routes, server_errors = server_side([workdir / "host-a.log", workdir / "host-b.log"],
                                            (window_start, time.time()))
        print_server_side(routes)
        ok = report(stats, elapsed, lost, checked, backend, server_errors)
        return 0 if ok else 1
    finally:
        for process, _, _ in hosts:
            process.terminate()
        for process, _, _ in hosts:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if redis_server:
            redis_server.stop()
        if postgres:
            postgres.stop()
        if args.keep:
            print(f"work folder kept: {workdir}")
            if args.profile:
                print(f"profiles: {sys.executable} -m referralnet.profiling {workdir / 'profiles'} [endpoint]")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
