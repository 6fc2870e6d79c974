"""Demo referrals: fictional clients and referrals in every status, so the worklists, the partner
inbox, the timelines and the audit log have something to show on first start.

Everything is written through the referral services (create_client, record_consent,
send_referral, change_status, post_message, close_loop, mark_viewed,
queue_reminders), never by setting columns, so the demo data obeys every rule the app
does: consent before sending, who may make which move, the audit log. Each step is given
an explicit time in the past, so the referrals range from a few hours to about six weeks
old. The data is fixed (no randomness); only "now" moves with the day the demo is loaded.

The two clinics (Bayside Community Health Center, Coastside Family Medicine) refer to the
two demo partner agencies (Samaritan House, Peninsula Family Service), choosing among their
directory services that are active and accepting referrals; and, off the network, to an
agency with an email address in the directory (by secure link: its moves are made through
the link, as its staff would) and to one with none (tracked: the coordinator records the
agency's and the client's news on their behalf). The names, phone numbers
(555-01xx) and email addresses (example.org) are invented.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import func, select

from referralnet.accounts.models import NetworkOrganization, Role, User
from referralnet.directory.models import Organization
from referralnet.referrals.actors import AgencyLinkActor, OnBehalf
from referralnet.referrals.agency_links import current_link
from referralnet.db import utcnow
from referralnet.directory.models import Attribute, Service
from referralnet.directory.sdoh import sdoh_terms
from referralnet.extensions import db
from referralnet.referrals import services as sv
from referralnet.referrals.models import Client, Referral, Status
from referralnet.referrals.reminders import queue_reminders
from referralnet.referrals.services import OPEN_STATUSES
from referralnet.reports.recording import record_empty_searches
from referralnet.search.signals import EmptySearch
from referralnet.status.service import record_report

CLINICS = {"bayside": "Bayside Community Health Center", "coastside": "Coastside Family Medicine"}
AGENCIES = {"sh": "Samaritan House", "pfs": "Peninsula Family Service"}
# Directory organizations outside the network: one with an email address (secure link), one without (tracked).
OFFNET_AGENCIES = {"link": "Tidepool Community Food Network", "tracked": "Salvation Army"}
FALLBACK_CATEGORY = "sdoh-category-unspecified"


@dataclass(frozen=True)
class DemoClient:
    key: str
    clinic: str
    given_name: str
    family_name: str
    date_of_birth: date
    preferred_language: str
    contact_preference: str
    zip_code: str
    phone: Optional[str] = None
    email: Optional[str] = None
    address: Optional[str] = None


DEMO_CLIENTS = [
    DemoClient("maria", "bayside", "María", "Hernández", date(1984, 3, 12), "es", "sms", "94063",
               phone="(650) 555-0101"),
    DemoClient("james", "bayside", "James", "Okafor", date(1971, 11, 2), "en", "email", "94401",
               email="james.okafor@example.org"),
    DemoClient("linh", "bayside", "Linh", "Nguyen", date(1990, 6, 25), "vi", "phone", "94014",
               phone="(650) 555-0103"),
    DemoClient("david", "bayside", "David", "Cohen", date(1958, 1, 30), "en", "do-not-contact", "94025",
               address="Staying with family; reach through the clinic"),
    DemoClient("aaliyah", "bayside", "Aaliyah", "Johnson", date(1998, 9, 8), "en", "sms", "94303",
               phone="(650) 555-0105", email="aaliyah.j@example.org"),
    DemoClient("mei", "bayside", "Mei", "Chen", date(1949, 4, 17), "zh", "phone", "94080",
               phone="(650) 555-0106"),
    DemoClient("tevita", "bayside", "Tevita", "Fifita", date(1979, 12, 1), "to", "sms", "94061",
               phone="(650) 555-0107"),
    DemoClient("rosa", "coastside", "Rosa", "Martínez", date(1966, 8, 3), "es", "phone", "94019",
               phone="(650) 555-0108"),
    DemoClient("jose", "coastside", "José", "Ramírez", date(1987, 2, 14), "es", "do-not-contact", "94019",
               phone="(650) 555-0109"),
    DemoClient("fatima", "coastside", "Fatima", "Rahman", date(1993, 5, 21), "en", "email", "94002",
               email="fatima.rahman@example.org"),
    DemoClient("guadalupe", "coastside", "Guadalupe", "Torres", date(2001, 10, 9), "es", "sms", "94038",
               phone="(650) 555-0111"),
    DemoClient("robert", "coastside", "Robert", "Whitfield", date(1952, 7, 4), "en", "phone", "94044",
               phone="(650) 555-0112", address="118 Palmetto Ave, Pacifica, CA 94044"),
]


# Steps after sending, each at a number of hours after the referral was sent:
#   ("view", h)                     the partner opens it (first view)
#   ("accept" | "start", h)         partner
#   ("hold", h, reason)             partner
#   ("complete", h, outcome)        partner
#   ("fail", h, reason, outcome)    partner
#   ("reject", h, reason)           partner
#   ("cancel", h, side, reason)     "coordinator" or "partner"
#   ("error", h)                    coordinator: entered in error
#   ("message", h, side, body)
#   ("close", h, verified_outcome)  coordinator closes the loop
#   ("elsewhere", h, plan key)      coordinator refers elsewhere: sends that plan's referral linked to this one
#   ("report", h, code)             the patient reports on their status page (contacted, got-help, ...)
@dataclass(frozen=True)
class DemoReferral:
    key: str
    client: str
    agency: str
    service: int  # index into the agency's referable services, by name (wraps around)
    days_ago: float
    steps: tuple = ()
    priority: str = "routine"
    note: Optional[str] = None
    availability: Optional[str] = None
    chained: bool = False  # sent by another plan's "elsewhere" step, not on its own


DEMO_REFERRALS = [
    # requested: fresh
    DemoReferral("fresh-1", "aaliyah", "pfs", 3, 0.1, note="Looking for evening job-training hours.",
                 availability="Weekdays after 5 pm"),
    DemoReferral("fresh-2", "guadalupe", "sh", 1, 0.4, priority="urgent", note="Prefers Spanish-speaking staff."),
    DemoReferral("fresh-3", "linh", "pfs", 0, 1.0, steps=(("view", 3),)),
    # requested: overdue for a response
    DemoReferral("overdue-1", "james", "sh", 1, 6, note="Needs a primary care appointment."),
    DemoReferral("overdue-2", "rosa", "pfs", 2, 9, steps=(("view", 20),), priority="urgent"),
    DemoReferral("overdue-3", "tevita", "pfs", 4, 15,
                 steps=(("message", 70, "coordinator", "Checking in: has anyone been able to look at this?"),)),
    # accepted
    DemoReferral("accepted-1", "maria", "sh", 1, 3, steps=(("view", 2), ("accept", 5))),
    DemoReferral("accepted-2", "fatima", "pfs", 3, 5, steps=(("view", 1), ("accept", 26),
                 ("message", 27, "partner", "We have an intake slot on Thursday at 10 am."))),
    DemoReferral("accepted-3", "mei", "pfs", 4, 2, steps=(("accept", 20),), note="Cantonese speaker."),
    # in progress
    DemoReferral("progress-1", "jose", "pfs", 0, 12, steps=(("view", 4), ("accept", 24), ("start", 72))),
    DemoReferral("progress-2", "robert", "pfs", 1, 20, steps=(("view", 30), ("accept", 40), ("start", 100),
                 ("message", 120, "coordinator", "The client asked whether transport can be arranged."),
                 ("message", 130, "partner", "Yes, our van can pick him up on Tuesdays."))),
    DemoReferral("progress-3", "linh", "sh", 0, 8, steps=(("accept", 6), ("start", 50))),
    # on hold
    DemoReferral("hold-1", "david", "sh", 1, 18, steps=(("view", 5), ("accept", 9), ("start", 60),
                 ("hold", 100, "waiting-on-documents"))),
    DemoReferral("hold-2", "guadalupe", "pfs", 2, 25, steps=(("accept", 30), ("hold", 80, "waitlist"),
                 ("message", 82, "partner", "On our waitlist; we expect an opening in two weeks."))),
    # completed, loop closed (got help, partly)
    DemoReferral("done-closed-1", "maria", "pfs", 0, 40, steps=(("view", 3), ("accept", 8), ("start", 50),
                 ("complete", 300, "got-help"), ("close", 340, "got-help"))),
    DemoReferral("done-closed-2", "mei", "sh", 1, 33, steps=(("accept", 20), ("start", 70),
                 ("complete", 250, "partly"), ("close", 300, "partly"))),
    DemoReferral("done-closed-3", "rosa", "sh", 0, 28, steps=(("accept", 10), ("complete", 200, "did-not-get-help"),
                 ("close", 260, "did-not-get-help"))),
    # completed, not closed yet
    DemoReferral("done-open-1", "james", "pfs", 3, 10, steps=(("view", 1), ("accept", 3), ("start", 30),
                 ("complete", 180, "got-help"))),
    DemoReferral("done-open-2", "tevita", "sh", 0, 6, steps=(("accept", 4), ("complete", 100, "got-help"),
                 ("message", 101, "partner", "Appointment done; follow-up booked for next month."))),
    # failed
    DemoReferral("failed-closed", "david", "pfs", 0, 35, steps=(("accept", 30), ("start", 60),
                 ("fail", 330, "could-not-contact", "did-not-get-help"), ("close", 400, "could-not-reach"))),
    DemoReferral("failed-open", "fatima", "sh", 1, 14, steps=(("accept", 8),
                 ("fail", 150, "client-declined", "did-not-get-help"))),
    # rejected: one closed, one referred elsewhere (the chain), one left for the coordinator
    DemoReferral("rejected-closed", "robert", "sh", 1, 30, steps=(("view", 6), ("reject", 8, "out-of-service-area"),
                 ("close", 60, "did-not-get-help"))),
    DemoReferral("rejected-chain", "aaliyah", "sh", 1, 21, steps=(("view", 10), ("reject", 22, "no-capacity"),
                 ("elsewhere", 30, "elsewhere-1"))),
    DemoReferral("elsewhere-1", "aaliyah", "pfs", 1, 0, chained=True, steps=(("view", 5), ("accept", 26),
                 ("start", 80))),
    DemoReferral("rejected-open", "jose", "sh", 0, 4, steps=(("reject", 20, "not-eligible"),)),
    # cancelled: by the coordinator (loop closed), by the partner (not closed)
    DemoReferral("cancelled-closed", "linh", "pfs", 2, 38, steps=(("accept", 12),
                 ("cancel", 90, "coordinator", "no-longer-needed"), ("close", 91, "got-help"))),
    DemoReferral("cancelled-open", "maria", "pfs", 4, 16, steps=(("accept", 5), ("cancel", 60, "partner",
                 "client-request"))),
    # entered in error
    DemoReferral("error-1", "james", "pfs", 4, 7, steps=(("error", 1),)),
    # a few more, for fuller lists
    DemoReferral("accepted-4", "rosa", "pfs", 3, 4, steps=(("view", 2), ("accept", 30))),
    DemoReferral("progress-4", "guadalupe", "pfs", 0, 26, steps=(("accept", 12), ("start", 40))),
    # outside the network: by secure link (the agency acts through it) ...
    DemoReferral("link-new", "mei", "link", 0, 0.5, note="Needs groceries delivered; limited mobility."),
    DemoReferral("link-accepted", "fatima", "link", 1, 4, steps=(("view", 3), ("accept", 5),
                 ("message", 6, "partner", "We can deliver on Fridays; we will call her to confirm."))),
    DemoReferral("link-done", "rosa", "link", 2, 20, steps=(("view", 2), ("accept", 6), ("start", 30),
                 ("complete", 150, "got-help"))),
    # ... and tracked by the coordinator (no electronic contact): one overdue for a follow-up call
    DemoReferral("tracked-overdue", "david", "tracked", 0, 8, note="Printed summary handed over at the visit."),
    DemoReferral("tracked-accepted", "robert", "tracked", 0, 6, steps=(("accept", 30), ("report", 50, "contacted"))),
]


# Three months of history for the reports (referralnet.reports): a referral every day or so, from
# both clinics to both agencies, through one of these courses; some declined for no capacity are
# referred elsewhere. Fixed, like the rest: the i-th history referral takes course i % 8.
HISTORY_COURSES = (
    (("view", 2), ("accept", 6), ("start", 30), ("complete", 120, "got-help"), ("report", 140, "got-help"),
     ("close", 160, "got-help")),
    (("view", 5), ("accept", 20), ("complete", 200, "partly"), ("close", 260, "partly")),
    (("view", 3), ("reject", 8, "no-capacity")),
    (("view", 30), ("reject", 40, "not-eligible"), ("close", 50, "did-not-get-help")),
    (("accept", 50), ("start", 80), ("fail", 300, "could-not-contact", "did-not-get-help"),
     ("close", 330, "could-not-reach")),
    (("view", 1), ("accept", 4), ("report", 30, "contacted"), ("complete", 90, "got-help")),
    (("accept", 10), ("cancel", 40, "coordinator", "no-longer-needed"), ("close", 41, "got-help")),
    (("view", 70), ("accept", 75), ("report", 120, "not-heard-back"), ("complete", 150, "did-not-get-help"),
     ("close", 200, "did-not-get-help")),
)
HISTORY_SIZE = 72
HISTORY_DAYS = (86, 16)  # the first and the last history referral, in days ago


def _history() -> list[DemoReferral]:
    plans = []
    first, last = HISTORY_DAYS
    for i in range(HISTORY_SIZE):
        client = DEMO_CLIENTS[(i * 5) % len(DEMO_CLIENTS)].key
        agency = ("sh", "pfs")[(i // 2) % 2]
        steps = HISTORY_COURSES[i % len(HISTORY_COURSES)]
        days_ago = first - (first - last) * i / (HISTORY_SIZE - 1)
        if i % 16 == 2:  # declined for no capacity: referred elsewhere, where it works out
            next_key = f"history-{i}-elsewhere"
            steps = steps + (("elsewhere", 30, next_key),)
            plans.append(DemoReferral(next_key, client, "pfs" if agency == "sh" else "sh", i + 1, 0, chained=True,
                                      steps=HISTORY_COURSES[0]))
        plans.append(DemoReferral(f"history-{i}", client, agency, i, days_ago, steps=steps,
                                  priority="urgent" if i % 7 == 3 else "routine"))
    return plans


DEMO_REFERRALS += _history()

# Searches that found nothing, as the reports count them (need concept, SDOH domain, ZIP3, how many;
# never the words typed): (days ago, need, domain, ZIP3, count).
DEMO_EMPTY_SEARCHES = (
    (3, "dental-care", "medical-cost-burden", "940", 4),
    (10, "baby-supplies", "material-hardship", "940", 3),
    (18, "", "digital-access", "944", 2),
    (25, "dental-care", "medical-cost-burden", "940", 2),
    (40, "immigration-legal", "legal-needs", "940", 1),
)


@dataclass
class _Context:
    now: datetime
    coordinators: dict[str, User]
    partners: dict[str, User]
    services: dict[str, list[Service]]
    clients: dict[str, Client] = field(default_factory=dict)
    consents: set = field(default_factory=set)
    referrals: dict[str, Referral] = field(default_factory=dict)
    echo: Callable = print


def load_demo_referrals(echo=print, now: Optional[datetime] = None) -> int:
    """Create the demo clients and referrals; return how many referrals were created.

    Does nothing (returns 0) when referrals exist already, or when the demo organizations,
    users or referable services are missing (it says which). Flushes; the caller commits.
    """
    if db.session.scalar(select(func.count()).select_from(Referral)):
        return 0
    context = _context(echo, now or utcnow())
    if context is None:
        return 0
    for spec in DEMO_CLIENTS:
        context.clients[spec.key] = sv.create_client(
            context.coordinators[spec.clinic], given_name=spec.given_name, family_name=spec.family_name,
            date_of_birth=spec.date_of_birth, phone=spec.phone, email=spec.email,
            preferred_language=spec.preferred_language, contact_preference=spec.contact_preference,
            zip_code=spec.zip_code, address=spec.address)
    plans = {plan.key: plan for plan in DEMO_REFERRALS}
    for plan in DEMO_REFERRALS:
        if not plan.chained:
            _play(context, plan, plans)
    _record_empty_searches(context)
    reminded = queue_reminders(now=context.now)
    echo(f"  demo referrals: {len(context.referrals)} referrals for {len(context.clients)} clients, "
         f"{len(reminded)} reminders queued")
    return len(context.referrals)


def _context(echo, now: datetime) -> Optional[_Context]:
    orgs = {o.name: o for o in db.session.scalars(select(NetworkOrganization))}

    def first_user(org_name: str, role: Role) -> Optional[User]:
        org = orgs.get(org_name)
        if org is None:
            return None
        return db.session.scalar(select(User).where(User.organization_id == org.id, User.role == role.value,
                                                    User.active.is_(True)).order_by(User.id).limit(1))

    coordinators = {key: first_user(name, Role.COORDINATOR) for key, name in CLINICS.items()}
    partners = {key: first_user(name, Role.PARTNER) for key, name in AGENCIES.items()}
    services = {key: _referable_services(orgs.get(name)) for key, name in AGENCIES.items()}
    for key, name in OFFNET_AGENCIES.items():  # optional: the demo still works without them
        listing = db.session.scalar(select(Organization.id).where(Organization.name == name).limit(1))
        services[key] = _directory_services(listing) if listing else []
    missing = [name for key, name in CLINICS.items() if coordinators[key] is None] + \
              [name for key, name in AGENCIES.items() if partners[key] is None or not services[key]]
    if missing:
        echo(f"  demo referrals skipped: no users or referable services for {', '.join(missing)}")
        return None
    return _Context(now=now, coordinators=coordinators, partners=partners, services=services, echo=echo)


def _referable_services(org: Optional[NetworkOrganization]) -> list[Service]:
    """The directory services of a partner agency that can receive referrals now, by name."""
    if org is None or not org.active or org.directory_organization_id is None:
        return []
    return _directory_services(org.directory_organization_id)


def _directory_services(directory_organization_id: str) -> list[Service]:
    return list(db.session.scalars(
        select(Service).where(Service.organization_id == directory_organization_id,
                              Service.status == "active", Service.accepting_referrals.is_(True))
        .order_by(Service.name, Service.id)))


def _category(service: Service) -> str:
    """The service's first SDOH domain (by code), for the referral's category."""
    codes_by_id = {term["id"]: code for code, term in sdoh_terms().items()}
    linked = db.session.scalars(select(Attribute.taxonomy_term_id).where(Attribute.link_id == service.id))
    codes = sorted(codes_by_id[t] for t in linked if t in codes_by_id)
    return codes[0] if codes else FALLBACK_CATEGORY


def _pick_service(context: _Context, plan: DemoReferral, client: Client) -> Optional[Service]:
    """The plan's service, or the next of the agency's services that the client has no open referral to."""
    choices = context.services[plan.agency]
    open_to = set(db.session.scalars(
        select(Referral.service_id).where(Referral.client_id == client.id,
                                          Referral.status.in_([s.value for s in OPEN_STATUSES]))))
    for i in range(len(choices)):
        service = choices[(plan.service + i) % len(choices)]
        if service.id not in open_to:
            return service
    return None


def _play(context: _Context, plan: DemoReferral, plans: dict[str, DemoReferral], *,
          previous: Optional[Referral] = None, sent_at: Optional[datetime] = None) -> None:
    client = context.clients[plan.client]
    coordinator = context.coordinators[_clinic_of(plan.client)]
    if not context.services[plan.agency]:
        context.echo(f"  demo referral {plan.key} skipped: {OFFNET_AGENCIES.get(plan.agency)} is not in the directory")
        return
    service = _pick_service(context, plan, client)
    if service is None:
        context.echo(f"  demo referral {plan.key} skipped: no free service at "
                     f"{AGENCIES.get(plan.agency) or OFFNET_AGENCIES[plan.agency]}")
        return
    sent = sent_at or context.now - timedelta(days=plan.days_ago)
    if (client.id, service.organization_id) not in context.consents:
        sv.record_consent(coordinator, client, service.organization_id, "verbal", now=sent - timedelta(minutes=10))
        context.consents.add((client.id, service.organization_id))
    common = dict(category=_category(service), priority=plan.priority, note_to_partner=plan.note,
                  client_availability=plan.availability, now=sent)
    if previous is not None:
        referral = sv.refer_elsewhere(coordinator, previous, service.id, **common)
    else:
        referral = sv.send_referral(coordinator, client, service.id, **common)
    context.referrals[plan.key] = referral
    # Who acts for the agency: its staff; off the network, through the link emailed to it, or the
    # coordinator recording what the agency told them.
    if plan.agency == "link":
        partner = AgencyLinkActor(current_link(referral, now=sent))
    elif plan.agency == "tracked":
        partner = OnBehalf(coordinator, "agency")
    else:
        partner = context.partners[plan.agency]

    latest = context.now - timedelta(minutes=len(plan.steps) + 1)
    for n, (kind, hours, *args) in enumerate(plan.steps):
        # Never in the future: a step planned after "now" happens a few minutes ago instead.
        at = min(sent + timedelta(hours=hours), latest + timedelta(minutes=n))
        if kind == "view":
            sv.mark_viewed(partner, referral, now=at)
        elif kind == "accept":
            sv.change_status(referral, Status.ACCEPTED, partner, now=at)
        elif kind == "start":
            sv.change_status(referral, Status.IN_PROGRESS, partner, now=at)
        elif kind == "hold":
            sv.change_status(referral, Status.ON_HOLD, partner, reason=args[0], now=at)
        elif kind == "complete":
            sv.change_status(referral, Status.COMPLETED, partner, outcome=args[0], now=at)
        elif kind == "fail":
            sv.change_status(referral, Status.FAILED, partner, reason=args[0], outcome=args[1], now=at)
        elif kind == "reject":
            sv.change_status(referral, Status.REJECTED, partner, reason=args[0], now=at)
        elif kind == "cancel":
            actor = coordinator if args[0] == "coordinator" else partner
            sv.change_status(referral, Status.CANCELLED, actor, reason=args[1], now=at)
        elif kind == "error":
            sv.change_status(referral, Status.ENTERED_IN_ERROR, coordinator, reason_text="Sent for the wrong client.",
                             now=at)
        elif kind == "message":
            sv.post_message(coordinator if args[0] == "coordinator" else partner, referral, args[1], now=at)
        elif kind == "report":  # what the client told the coordinator
            sv.record_report_for_client(coordinator, referral, args[0], now=at)
        elif kind == "close":
            sv.close_loop(coordinator, referral, args[0], now=at)
        elif kind == "report":  # the patient answers on their status page
            record_report(referral, args[0], now=at)
        elif kind == "elsewhere":
            _play(context, plans[args[0]], plans, previous=referral, sent_at=at)
        else:  # a typo in the plan above
            raise ValueError(f"unknown demo step {kind!r}")


def _record_empty_searches(context: _Context) -> None:
    """The demo's searches that found nothing, counted as the search page counts them (by the first clinic)."""
    organization_id = context.coordinators["bayside"].organization_id
    for days_ago, need, domain, zip3, times in DEMO_EMPTY_SEARCHES:
        for _ in range(times):
            record_empty_searches([EmptySearch(need, domain, zip3)], organization_id=organization_id,
                                  now=context.now - timedelta(days=days_ago))


def _clinic_of(client_key: str) -> str:
    return next(c.clinic for c in DEMO_CLIENTS if c.key == client_key)
