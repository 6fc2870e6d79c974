"""Concurrent users on the server `make run` starts: does anything fail under load?

    .venv/bin/python bench/concurrent_users.py [--duration 120] [--users 8] [--port 0] [--keep]

Starts the app as `make run` does — `flask db upgrade`, `flask demo load`, `flask search
reindex`, then `flask run` (the Flask development server on the embedded SQLite database) — in
an instance folder of its own (a temporary folder: DATABASE_URL, SEARCH_INDEX_DIR and SECRET_KEY
point there, so nothing under instance/ is touched) on a free port, then runs simulated users
for `--duration` seconds, each in its own thread with its own session (cookies, CSRF tokens)
and a short think time (0.1–0.5 s) between requests:

- coordinators (3 of 8): search the directory, add a client, refer them to a partner agency's
  service (recording consent on the way), open the referral and their worklist;
- a coordinator (1 of 8) working the worklist: opens referrals and client pages, writes messages;
- partner staff (2 of 8, one per demo agency): open the inbox, open new referrals (the first view
  is recorded) and accept them, start work on accepted ones;
- patients (2 of 8): open status pages of referrals the coordinators sent (their links are read
  from the coordinator's referral page), the print page, and now and then report back.

Prints the number of requests, the errors — any answer that is a 5xx, a 429, a dropped
connection, or a 4xx the script did not ask for — with the first few described, and p50/p95
latency per route. A 409 "someone else changed this referral" is the app working as designed
when two users act at once; it is counted apart and is not an error.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date
from html import unescape
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "demo-password-1"  # the demo logins (referralnet/demo.py)
COORDINATORS = ["coordinator@referralnet.test", "coordinator2@referralnet.test"]
PARTNERS = {"partner@referralnet.test": "Samaritan House", "partner2@referralnet.test": "Peninsula Family Service"}
SEARCHES = ["food pantry", "housing help", "rent assistance", "bus pass", "legal aid", "comida", "shelter tonight",
            "utility bill", "job training", "counseling"]
NEARS = ["94063", "94401", "94010", "San Mateo, CA", ""]
CATEGORY = "food-insecurity"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.conflicts = 0
        self.requests = 0

    def add(self, route: str, seconds: float, error: str | None = None, conflict: bool = False) -> None:
        with self.lock:
            self.requests += 1
            self.latency[route].append(seconds)
            if error:
                self.errors.append(f"{route}: {error}")
            if conflict:
                self.conflicts += 1


class User:
    """One simulated person with a browser session against the server at `base`."""

    def __init__(self, base: str, stats: Stats, rng: random.Random):
        self.base, self.stats, self.rng = base, stats, rng
        self.http = requests.Session()

    def call(self, method: str, path: str, route: str, *, expect=(200,), **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=60, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.stats.add(route, time.perf_counter() - started, f"{type(exc).__name__}: {str(exc)[:160]}")
            return None
        elapsed = time.perf_counter() - started
        status = response.status_code
        if status == 409 and 409 not in expect:
            self.stats.add(route, elapsed, conflict=True)
        elif status not in expect:
            self.stats.add(route, elapsed, f"HTTP {status} for {method} {_scrub(path)}: {_summary(response)}")
        else:
            self.stats.add(route, elapsed)
        return response

    def sign_in(self, email: str) -> None:
        page = self.call("GET", "/login", "GET /login")
        response = self.call("POST", "/login", "POST /login", expect=(302,),
                             data={"email": email, "password": PASSWORD, "csrf_token": csrf(page.text)})
        if response is None or response.status_code != 302:
            raise SystemExit(f"could not sign in as {email}")

    def think(self) -> None:
        time.sleep(self.rng.uniform(0.1, 0.5))


def csrf(html: str, prefix: str = "") -> str:
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    match = re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html) or \
        re.search(rf'name="{name}" value="([^"]+)"', html)
    return match.group(1) if match else ""


def _summary(response: requests.Response) -> str:
    match = re.search(r"<main[^>]*>(.*?)</main>", response.text, re.S)
    text = re.sub(r"<[^>]+>", " ", match.group(1) if match else response.text[:300])
    return " ".join(unescape(text).split())[:160]


def _scrub(path: str) -> str:
    return re.sub(r"/s/[A-Za-z0-9_-]+", "/s/[token]", path)


# --- the simulated people ----------------------------------------------------------------------------

class Shared:
    """What the users learn from each other: patient links, and the services of each partner agency."""

    def __init__(self, services: dict[str, list[str]]):
        self.lock = threading.Lock()
        self.links: list[str] = []
        self.services = services

    def add_link(self, path: str) -> None:
        with self.lock:
            if path not in self.links:
                self.links.append(path)

    def some_link(self, rng: random.Random) -> str | None:
        with self.lock:
            return rng.choice(self.links) if self.links else None


def coordinator_sending(user: User, shared: Shared, stop: threading.Event, email: str) -> None:
    user.sign_in(email)
    n = 0
    while not stop.is_set():
        n += 1
        q, near = user.rng.choice(SEARCHES), user.rng.choice(NEARS)
        user.call("GET", "/search", "GET /search", params={"q": q, "near": near})
        user.think()
        form = user.call("GET", "/clients/new", "GET /clients/new")
        if form is None or form.status_code != 200:
            continue  # counted as an error already
        suffix = secrets.token_hex(3)
        data = {"csrf_token": csrf(form.text), "given_name": f"Bench{suffix}", "family_name": f"User{suffix}",
                "date_of_birth": date(1950 + user.rng.randrange(60), 1 + user.rng.randrange(12),
                                      1 + user.rng.randrange(28)).isoformat(),
                "phone": "(650) 555-0100", "preferred_language": user.rng.choice(["en", "es"]),
                "contact_preference": "phone", "zip_code": "94063"}
        created = user.call("POST", "/clients/new", "POST /clients/new", expect=(302,), data=data)
        if created is None or created.status_code != 302:
            continue
        client_path = created.headers["Location"].split("?")[0]
        client_id = client_path.rstrip("/").split("/")[-1]
        user.think()
        agency = user.rng.choice(list(shared.services))
        service = user.rng.choice(shared.services[agency])
        page = user.call("GET", f"/clients/{client_id}/refer", "GET /clients/<id>/refer", params={"service": service})
        if page is None or page.status_code != 200:
            continue
        send = {"csrf_token": csrf(page.text), "service_ids": service, "category": CATEGORY, "priority": "routine",
                "consent_method": "verbal", "consent_org_ids": agency, "note_to_partner": "Load test referral",
                "client_availability": "Weekday mornings"}
        sent = user.call("POST", f"/clients/{client_id}/refer", "POST /clients/<id>/refer", expect=(302,), data=send)
        if sent is None or sent.status_code != 302:
            continue
        referral_path = sent.headers["Location"].split("#")[0]
        user.think()
        referral = user.call("GET", referral_path, "GET /referrals/<id>")
        if referral is not None and referral.status_code == 200:
            match = re.search(r'href="https?://[^"/]+(/s/[A-Za-z0-9_-]+)"', referral.text)
            if match:
                shared.add_link(match.group(1))
        user.think()
        if n % 3 == 0:
            user.call("GET", "/worklist", "GET /worklist")
            user.think()


def coordinator_working(user: User, shared: Shared, stop: threading.Event, email: str) -> None:
    user.sign_in(email)
    while not stop.is_set():
        page = user.call("GET", "/worklist", "GET /worklist", params={"view": user.rng.choice(
            ["", "attention", "overdue", "to-close"])})
        user.think()
        ids = re.findall(r'href="/referrals/(\d+)"', page.text if page is not None else "")
        if not ids:
            continue
        referral_id = user.rng.choice(ids)
        referral = user.call("GET", f"/referrals/{referral_id}", "GET /referrals/<id>")
        if referral is None or referral.status_code != 200:
            continue
        link = re.search(r'href="https?://[^"/]+(/s/[A-Za-z0-9_-]+)"', referral.text)
        if link:
            shared.add_link(link.group(1))
        user.think()
        client = re.search(r'href="/clients/(\d+)"', referral.text)
        if client:
            user.call("GET", f"/clients/{client.group(1)}", "GET /clients/<id>")
            user.think()
        if user.rng.random() < 0.3:
            token = csrf(referral.text, "message") or csrf(referral.text)
            user.call("POST", f"/referrals/{referral_id}/messages", "POST /referrals/<id>/messages", expect=(302,),
                      data={"message-csrf_token": token, "csrf_token": token,
                            "message-body": "Checking in on this referral."})
            user.think()


PARTNER_MOVES = (("accepted", {}), ("in-progress", {}))


def partner(user: User, shared: Shared, stop: threading.Event, email: str, moves=PARTNER_MOVES,
            confirmed=None) -> None:
    """Open new and accepted referrals and make the first of `moves` the page offers; `confirmed(referral
    id, status)` hears of each move the server confirmed (bench/load_bench.py checks none is lost)."""
    user.sign_in(email)
    while not stop.is_set():
        view = user.rng.choice(["new", "new", "accepted", ""])
        inbox = user.call("GET", "/inbox", "GET /inbox", params={"view": view} if view else None)
        user.think()
        ids = re.findall(r'href="/referrals/(\d+)"', inbox.text if inbox is not None else "")
        if not ids:
            continue
        referral_id = user.rng.choice(ids[:10])
        page = user.call("GET", f"/referrals/{referral_id}", "GET /referrals/<id>")
        if page is None or page.status_code != 200:
            continue
        user.think()
        for to, extra in moves:
            token = csrf(page.text, to)
            version = re.search(rf'id="{to}-version"[^>]*value="(\d+)"', page.text) or \
                re.search(rf'name="{to}-version"[^>]*value="(\d+)"', page.text)
            if token and version:
                data = {f"{to}-csrf_token": token, "csrf_token": token, f"{to}-version": version.group(1),
                        f"{to}-note": "Load test", **extra}
                response = user.call("POST", f"/referrals/{referral_id}/status/{to}",
                                     "POST /referrals/<id>/status/<to>", expect=(302,), data=data)
                if confirmed is not None and response is not None and response.status_code == 302:
                    confirmed(int(referral_id), to)
                user.think()
                break


def patient(user: User, shared: Shared, stop: threading.Event, _email: str) -> None:
    while not stop.is_set():
        link = shared.some_link(user.rng)
        if link is None:
            time.sleep(0.5)
            continue
        page = user.call("GET", link, "GET /s/<token>", params={"lang": user.rng.choice(["en", "es"])})
        user.think()
        roll = user.rng.random()
        if roll < 0.3:
            user.call("GET", link + "/print", "GET /s/<token>/print")
            user.think()
        elif roll < 0.45 and page is not None and page.status_code == 200 and 'name="report"' in page.text:
            # Only while the page offers the buttons (a finished referral's page has none)
            report = user.rng.choice(["contacted", "not-heard-back", "got-help"])
            user.call("POST", link, "POST /s/<token>", expect=(302,),
                      data={"report": report, "csrf_token": csrf(page.text)})
            user.think()


ROLES = [(coordinator_sending, COORDINATORS[0]), (partner, "partner@referralnet.test"), (patient, None),
         (coordinator_sending, COORDINATORS[1]), (partner, "partner2@referralnet.test"),
         (coordinator_working, COORDINATORS[0]), (patient, None), (coordinator_sending, COORDINATORS[0])]


# --- the server ------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(instance: Path, port: int) -> tuple[subprocess.Popen, dict]:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{instance / 'referralnet.db'}",
               SEARCH_INDEX_DIR=str(instance / "search-index"), SECRET_KEY=secrets.token_hex(32),
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", STAFF_EMAIL_NOTIFICATIONS="1", PYTHONPATH=str(ROOT))
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "referralnet"]
    for step in (["db", "upgrade"], ["demo", "load"], ["search", "reindex"]):  # as `make run` does
        print("$ flask", " ".join(step), flush=True)
        subprocess.run(flask + step, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    log = open(instance / "server.log", "w")
    server = subprocess.Popen(flask + ["run", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server, env
        except requests.RequestException:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"the server did not start: see {instance / 'server.log'}")


def partner_services(instance: Path) -> dict[str, list[str]]:
    """Set-up, read straight from the database: each demo agency's directory id and its services that take referrals."""
    db = sqlite3.connect(instance / "referralnet.db")
    try:
        found = {}
        for name in PARTNERS.values():
            rows = db.execute(
                "SELECT o.id, s.id FROM organization o JOIN service s ON s.organization_id = o.id "
                "JOIN network_organization n ON n.directory_organization_id = o.id "
                "WHERE n.name = ? AND s.status = 'active' AND s.accepting_referrals", (name,)).fetchall()
            if rows:
                found[rows[0][0]] = [service for _, service in rows]
        return found
    finally:
        db.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=120, help="seconds of load (default 120)")
    parser.add_argument("--users", type=int, default=8, help="simulated users (default 8)")
    parser.add_argument("--port", type=int, default=0, help="port for the server (default: a free one)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (database, server log)")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="referralnet-load-"))
    port = args.port or free_port()
    server, _ = start_server(instance, port)
    base = f"http://127.0.0.1:{port}"
    stats = Stats()
    stop = threading.Event()
    try:
        services = partner_services(instance)
        if len(services) < 2:
            raise SystemExit("the demo agencies have no services that take referrals")
        shared = Shared(services)
        threads = []
        for n in range(args.users):
            role, email = ROLES[n % len(ROLES)]
            user = User(base, stats, random.Random(args.seed * 100 + n))
            threads.append(threading.Thread(target=role, args=(user, shared, stop, email), name=role.__name__,
                                             daemon=True))
        print(f"{args.users} users for {args.duration:.0f} s against {base} (Flask dev server, SQLite in "
              f"{instance})", flush=True)
        started = time.time()
        for thread in threads:
            thread.start()
        time.sleep(args.duration)
        stop.set()
        for thread in threads:
            thread.join(90)
        elapsed = time.time() - started
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    server_log = (instance / "server.log").read_text(errors="replace")
    tracebacks = server_log.count("Traceback (most recent call last)")
    deferred = server_log.count("deferred, will retry")
    busy = server_log.count("answered 503")
    if not args.keep:
        shutil.rmtree(instance, ignore_errors=True)

    print(f"\nrequests: {stats.requests} in {elapsed:.0f} s ({stats.requests / elapsed:.1f}/s), "
          f"users: {args.users}")
    print(f"errors: {len(stats.errors)}   (5xx, 429, dropped connections, unexpected 4xx)")
    for line in stats.errors[:10]:
        print("   ", line)
    print(f"conflicts (409, two users acting on one referral at once; by design): {stats.conflicts}")
    print(f"server tracebacks logged: {tracebacks}; busy 503s: {busy}; view bookkeeping deferred: {deferred}")
    print(f"patient links in use: {len(shared.links)}")
    print(f"\n{'route':38} {'count':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for route in sorted(stats.latency):
        values = stats.latency[route]
        print(f"{route:38} {len(values):6d} {statistics.median(values) * 1000:8.0f} "
              f"{percentile(values, 0.95) * 1000:8.0f}")
    return 1 if stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
