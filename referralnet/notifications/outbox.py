"""Who hears what: turning a referral event into outbox rows, in the event's own transaction.

`enqueue_for_event(event)` is the one place that decides it. It listens to
`referrals.events.event_recorded`, which `record_event()` sends for every event it appends
(referrals do not import notifications), and only adds and flushes rows, so the change and
its notifications commit — or roll back — together.

| event                                        | who hears it                                   |
| -------------------------------------------- | ---------------------------------------------- |
| sent (requested)                             | receiving partner staff; the patient           |
| reminder                                     | receiving partner staff                        |
| status change by the partner                 | the sending coordinator; the patient on        |
|                                              | accepted and completed                         |
| status change by a coordinator (cancelled,   | receiving partner staff (they should stop)     |
| entered in error)                            |                                                |
| message by the partner                       | the sending coordinator                        |
| message by a coordinator                     | receiving partner staff                        |
| patient report                               | the sending coordinator                        |
| agency link (re)issued                       | the agency, by email (secure-link route)       |
| viewed, closed, note                         | nobody                                         |

"Receiving partner staff" depends on how the referral travels (accounts.routes): in the
network, the member agency's users; by secure link, the agency's email address, with its
link (bodies hold AGENCY_LINK, replaced at delivery by the current link: a link revoked
since is never sent); tracked by the coordinator, nobody — a reminder goes to the sending
coordinator instead, to follow up with the agency themselves.

"The sending coordinator" is `referral.sender`, or, when they are no longer active, the
other active coordinators of the sending organization. Staff get an in-app row (channel
"app", written as already sent: being written is its delivery) and, unless
STAFF_EMAIL_NOTIFICATIONS is off, an email. Patients are reached only through their
contact preference: sms -> a text, email -> an email, phone -> nothing automated (the
agency calls them), do-not-contact -> nothing, ever.

Messages leave the system, so they carry as little patient data as they can: staff
messages never name the client (they link to the referral page, behind a login), patient
messages never carry the patient's name or date of birth. The patient's status link is not
stored (its token exists only in derived form): bodies hold STATUS_LINK, which delivery
replaces with the current link.
"""
from __future__ import annotations

import logging
from typing import Iterable, Optional

from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import object_session

from referralnet.accounts.models import NetworkOrganization, Role, User
from referralnet.accounts.routes import DeliveryRoute
from referralnet.config import public_base_url
from referralnet.db import utcnow
from referralnet.directory.models import Phone
from referralnet.extensions import db
from referralnet.i18n import best_locale
from referralnet.notifications.models import Notification
from referralnet.referrals.events import event_recorded
from referralnet.referrals.models import CONSENT_WITHDRAWN, Referral, ReferralEvent, Status

log = logging.getLogger(__name__)

STATUS_LINK = "[[status_link]]"  # replaced by the patient's current status link at delivery
AGENCY_LINK = "[[agency_link]]"  # replaced by the agency's current secure link at delivery
STAFF_LOCALE = "en"  # staff pages and messages are in English (their strings are marked all the same)

# Patient messages: on these events only.
PATIENT_EVENTS = ("referral.sent", "referral.accepted", "referral.completed")


def enqueue_for_event(event: ReferralEvent) -> list[Notification]:
    """Add the outbox rows that `event` calls for and flush; return the rows added.

    Enqueuing the same event twice adds nothing the second time (`dedupe_key`).
    Never commits: the caller's transaction carries the change and its notifications. Works
    in the event's own session (which is the request's, except in tests with several).
    """
    session = object_session(event) or db.session
    if event.id is None or event.referral_id is None:
        session.flush()
    referral = event.referral or session.get(Referral, event.referral_id)
    name = _event_name(event)
    if name is None:
        return []
    staff: list[User] = []
    patient = agency = False
    partner_side, coordinator_side = event.actor_kind == "partner", event.actor_kind == "coordinator"
    if event.kind == "status" and event.to_status == Status.REQUESTED.value:
        staff, patient, agency = partner_staff(referral, session), True, True
    elif event.kind == "reminder":
        if referral.delivery_route == DeliveryRoute.TRACKED.value:
            staff = sending_coordinators(referral, session)  # nobody else can follow up
        else:
            staff, agency = partner_staff(referral, session), True
    elif event.kind == "status" and partner_side:
        staff, patient = sending_coordinators(referral, session), name in PATIENT_EVENTS
    elif event.kind == "status" and coordinator_side:
        staff, agency = partner_staff(referral, session), True
    elif event.kind == "message":
        if partner_side:
            staff = sending_coordinators(referral, session)
        else:
            staff, agency = partner_staff(referral, session), True
    elif event.kind == "report":
        staff = sending_coordinators(referral, session)
    elif event.kind == "agency-link":
        agency = True

    rows: list[Notification] = []
    for user in staff:
        if user.id == event.actor_id:
            continue  # nobody is told about what they just did
        rows.extend(_staff_rows(event, name, referral, user))
    if patient:
        rows.extend(_patient_rows(event, name, referral, session))
    if agency and referral.delivery_route == DeliveryRoute.LINK.value and referral.agency_email:
        rows.append(_agency_row(event, name, referral))

    keys = [row.dedupe_key for row in rows]
    existing = set(session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys)))) \
        if keys else set()
    added = [row for row in rows if row.dedupe_key not in existing]
    session.add_all(added)
    session.flush()
    if added:
        # Per event: DEBUG, so that bulk work (the demo load, imports) does not fill the console.
        log.debug("queued notifications %s for referral event %s", [r.id for r in added], event.id)
    return added


@event_recorded.connect
def _on_event_recorded(event: ReferralEvent, **_) -> None:
    enqueue_for_event(event)


# --- recipients ----------------------------------------------------------------------------------

def partner_staff(referral: Referral, session=None) -> list[User]:
    """Active partner users of the active network organizations receiving for this referral."""
    return list((session or db.session).scalars(
        select(User).join(NetworkOrganization, User.organization_id == NetworkOrganization.id)
        .where(NetworkOrganization.directory_organization_id == referral.receiving_organization_id,
               NetworkOrganization.active.is_(True), User.role == Role.PARTNER.value, User.active.is_(True))
        .order_by(User.id)))


def sending_coordinators(referral: Referral, session=None) -> list[User]:
    """The referral's sender; if they are inactive, the other active coordinators of the sending organization."""
    sender = referral.sender
    if sender is not None and sender.is_active and sender.organization_id == referral.sending_organization_id \
            and sender.role == Role.COORDINATOR.value:
        return [sender]
    return list((session or db.session).scalars(
        select(User).join(NetworkOrganization, User.organization_id == NetworkOrganization.id)
        .where(User.organization_id == referral.sending_organization_id, NetworkOrganization.active.is_(True),
               User.role == Role.COORDINATOR.value, User.active.is_(True))
        .order_by(User.id)))


# --- rows ----------------------------------------------------------------------------------------

def _event_name(event: ReferralEvent) -> Optional[str]:
    if event.kind == "status":
        return "referral.sent" if event.to_status == Status.REQUESTED.value else f"referral.{event.to_status}"
    return {"reminder": "referral.reminder", "message": "referral.message", "report": "referral.report",
            "agency-link": "referral.agency_link"}.get(event.kind)


def _config(key: str, default):
    return current_app.config.get(key, default) if has_app_context() else default


def _staff_rows(event: ReferralEvent, name: str, referral: Referral, user: User) -> Iterable[Notification]:
    with force_locale(STAFF_LOCALE):
        subject, text = staff_text(event, name, referral)
        url = referral_url(referral)
        email_body = "\n\n".join([text, _("Open the referral: %(url)s", url=url),
                                  _("You receive this because you work on this referral in ReferralNet.")])
    common = dict(event=name, recipient_user_id=user.id, referral_id=referral.id, language=STAFF_LOCALE,
                  subject=subject)
    # The in-app row is delivered by being written.
    yield Notification(channel="app", body=text, state="sent", sent_at=utcnow(),
                       dedupe_key=_key(event, "app", f"user:{user.id}"), **common)
    if _config("STAFF_EMAIL_NOTIFICATIONS", True) and user.email:
        yield Notification(channel="email", address=user.email, body=email_body,
                           dedupe_key=_key(event, "email", f"user:{user.id}"), **common)


def _agency_row(event: ReferralEvent, name: str, referral: Referral) -> Notification:
    """The email to an agency outside the network: what happened, and its secure link (filled in at delivery).

    Like staff messages it never names the client: the link opens the page that does.
    """
    with force_locale(STAFF_LOCALE):
        if name == "referral.agency_link":
            subject = _("A new link to a referral from %(clinic)s", clinic=referral.sending_organization.name)
            text = _("%(clinic)s sent you a new secure link to their referral of a client to %(service)s; "
                     "earlier links no longer work.", clinic=referral.sending_organization.name,
                     service=referral.service.name)
        else:
            subject, text = staff_text(event, name, referral)
        body = "\n\n".join([
            text,
            _("Open the referral (no account needed): %(link)s", link=AGENCY_LINK),
            _("From that page you can accept or decline the referral, put it on hold, record how it ended and "
              "write to the coordinator. The link is for your agency's staff only: do not forward it."),
            _("You receive this because %(clinic)s referred a client to %(agency)s through ReferralNet, a "
              "community referral network. Your agency can also ask to join the network from that page.",
              clinic=referral.sending_organization.name, agency=referral.receiving_organization.name),
        ])
    return Notification(event=name, channel="email", referral_id=referral.id, language=STAFF_LOCALE,
                        address=referral.agency_email, subject=subject, body=body,
                        dedupe_key=_key(event, "email", f"agency:{referral.id}"))


def _patient_rows(event: ReferralEvent, name: str, referral: Referral, session) -> Iterable[Notification]:
    client = referral.client
    channel = patient_channel(client)
    if channel is None:
        return
    language = best_locale(client.preferred_language)
    with force_locale(language):
        subject, text = patient_text(name, referral, session)
        if channel == "sms":
            body = text
        else:  # greets without the name: an inbox may be shared
            signature = _("— %(clinic)s, through ReferralNet", clinic=referral.sending_organization.name)
            body = "\n\n".join([_("Hello,"), text, signature])
    yield Notification(event=name, channel=channel, recipient_client_id=client.id, referral_id=referral.id,
                       address=client.phone if channel == "sms" else client.email, language=language,
                       subject=None if channel == "sms" else subject, body=body,
                       dedupe_key=_key(event, channel, f"client:{client.id}"))


def patient_channel(client) -> Optional[str]:
    """The automated channel for this client, or None (phone: the agency calls; do-not-contact: never)."""
    if client.contact_preference == "sms" and client.phone:
        return "sms"
    if client.contact_preference == "email" and client.email:
        return "email"
    return None


def _key(event: ReferralEvent, channel: str, recipient: str) -> str:
    return f"event:{event.id}:{channel}:{recipient}"


def referral_url(referral: Referral) -> str:
    """The staff referral page, absolute on config.public_base_url() (messages are read outside the app)."""
    return f"{public_base_url()}/referrals/{referral.id}"


# --- texts (rendered in the locale forced by the caller) -------------------------------------------

def staff_text(event: ReferralEvent, name: str, referral: Referral) -> tuple[str, str]:
    """Subject and text of a staff message. Never names the client, never quotes notes or messages."""
    clinic = referral.sending_organization.name
    agency = referral.receiving_organization.name
    service = referral.service.name
    if name == "referral.sent":
        return (_("New referral from %(clinic)s", clinic=clinic),
                _("%(clinic)s sent a new referral for a client to %(service)s.", clinic=clinic, service=service))
    if name == "referral.reminder":
        return (_("Reminder: a referral is waiting for your answer"),
                _("A referral from %(clinic)s to %(service)s is past its response time. Please accept or "
                  "decline it.", clinic=clinic, service=service))
    if name == "referral.message":
        author = agency if event.actor_kind == "partner" else clinic
        return (_("New message from %(author)s", author=author),
                _("%(author)s wrote about a referral for a client of %(clinic)s to %(service)s.",
                  author=author, clinic=clinic, service=service))
    if name == "referral.report":
        report = _report_label(event.report_code)
        return (_("A client reported on their referral"),
                _("A client of %(clinic)s reported on their referral to %(agency)s: %(report)s.",
                  clinic=clinic, agency=agency, report=report))
    if event.reason_code == CONSENT_WITHDRAWN:
        return (_("Referral cancelled: the client withdrew consent"),
                _("A client of %(clinic)s withdrew their consent to share their information with %(agency)s, so "
                  "their referral to %(service)s was cancelled. Please do not contact them about it.",
                  clinic=clinic, agency=agency, service=service))
    status = _status_label(event.to_status)
    actor = agency if event.actor_kind == "partner" else clinic
    return (_("Referral %(status)s", status=status.lower()),
            _("%(actor)s updated a referral for a client of %(clinic)s to %(service)s: %(status)s.",
              actor=actor, clinic=clinic, service=service, status=status.lower()))


def patient_text(name: str, referral: Referral, session=None) -> tuple[str, str]:
    """Subject and text of a patient message: the agency's name and phone and the status link, no name or DOB."""
    agency = referral.receiving_organization.name
    phone = agency_phone(referral, session)
    if name == "referral.sent":
        subject = _("Your referral to %(agency)s", agency=agency)
        text = _("You were referred to %(agency)s. They will contact you.", agency=agency)
    elif name == "referral.accepted":
        subject = _("%(agency)s accepted your referral", agency=agency)
        text = _("%(agency)s accepted your referral and will contact you.", agency=agency)
    else:
        subject = _("Your referral to %(agency)s is complete", agency=agency)
        text = _("%(agency)s marked your referral as complete. Tell us whether you got help.", agency=agency)
    parts = [text]
    if phone:
        parts.append(_("Questions? Call %(agency)s at %(phone)s.", agency=agency, phone=phone))
    parts.append(_("See your referral: %(link)s", link=STATUS_LINK))
    return subject, " ".join(parts)


def agency_phone(referral: Referral, session=None) -> Optional[str]:
    """The receiving agency's phone: the service's, else the location's, else the organization's."""
    for column, value in ((Phone.service_id, referral.service_id), (Phone.location_id, referral.location_id),
                          (Phone.organization_id, referral.receiving_organization_id)):
        if value is None:
            continue
        number = (session or db.session).scalar(select(Phone.number).where(column == value).order_by(Phone.id).limit(1))
        if number:
            return number
    return None


def _status_label(status: Optional[str]) -> str:
    labels = {
        "accepted": _("Accepted"), "rejected": _("Declined"), "in-progress": _("In progress"),
        "on-hold": _("On hold"), "completed": _("Completed"), "failed": _("Could not help"),
        "cancelled": _("Cancelled"), "entered-in-error": _("Entered in error"),
    }
    return labels.get(status or "", status or "")


def _report_label(code: Optional[str]) -> str:
    labels = {
        "contacted": _("the agency contacted them"), "got-help": _("they got help"),
        "not-heard-back": _("they have not heard back"), "no-longer-needed": _("they no longer need help"),
    }
    return labels.get(code or "", code or "")
