"""Clients, consent, referrals and their timeline, closures and messages.

The vocabularies the tables store (statuses, priorities, reasons, outcomes...) are
defined here because each one is also a database CHECK constraint: a value the
code does not know cannot reach the database, whichever code path writes it.
`referrals.states` re-exports `Status` and the reason lists and owns the rules for
moving between statuses; nothing else assigns `Referral.status`.

Timestamps are timezone-aware UTC (`UTCDateTime`). The timeline (`referral_event`) is
append-only, like the audit log (`referralnet.audit`): the ORM refuses to update or delete its rows.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, Optional

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, event,
                        false, inspect)
from sqlalchemy import literal as sa_literal
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from referralnet.accounts.models import NetworkOrganization, User
from referralnet.accounts.routes import DeliveryRoute
from referralnet.db import Base, TimestampMixin, UTCDateTime, utcnow
from referralnet.directory.models import ID, Location, Organization, Service
from referralnet.referrals import timing


class Status(str, enum.Enum):
    """The SDOHCC referral Task statuses we use (TaskStatus minus draft, ready, received)."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    FAILED = "failed"
    ENTERED_IN_ERROR = "entered-in-error"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    Status.REQUESTED: "Requested", Status.ACCEPTED: "Accepted", Status.REJECTED: "Rejected",
    Status.CANCELLED: "Cancelled", Status.IN_PROGRESS: "In progress", Status.ON_HOLD: "On hold",
    Status.COMPLETED: "Completed", Status.FAILED: "Failed", Status.ENTERED_IN_ERROR: "Entered in error",
}

PRIORITIES = ("routine", "urgent", "asap", "stat")  # FHIR request-priority
MAX_TEXT = 4000  # free text people write: notes, messages, reasons
CONTACT_PREFERENCES = ("sms", "email", "phone", "do-not-contact")
CONSENT_METHODS = ("verbal", "written", "electronic")
OUTCOMES = ("got-help", "partly", "did-not-get-help")  # the partner's, with completed / failed
VERIFIED_OUTCOMES = OUTCOMES + ("could-not-reach",)  # the coordinator's, when closing the loop
ACTOR_KINDS = ("coordinator", "partner", "patient", "system")
# "agency-link": a secure link was (re)issued to an agency outside the network and emailed to it.
EVENT_KINDS = ("status", "viewed", "message", "closed", "reminder", "note", "report", "agency-link")
# Whose move a coordinator recorded for them (a tracked referral: the agency or client told the coordinator).
ON_BEHALF_OF = ("agency", "patient")
# What a patient can tell us from their status page (a "report" event's report_code).
PATIENT_REPORTS = ("contacted", "got-help", "not-heard-back", "no-longer-needed")

# Status reasons: a fixed list per status ("other" needs free text; see states.py).
REJECT_REASONS = ("not-eligible", "no-capacity", "out-of-service-area", "could-not-contact", "client-declined",
                  "other")
CANCEL_REASONS = ("client-request", "duplicate", "referred-elsewhere", "no-longer-needed", "other")
HOLD_REASONS = ("waiting-on-client", "waiting-on-documents", "waitlist", "other")
FAIL_REASONS = ("could-not-contact", "client-declined", "not-eligible", "no-capacity", "other")
# Given only by the system: a referral not yet accepted is cancelled when the client withdraws their
# consent to share with its agency (referrals.services.revoke_consent). Not offered on any form.
CONSENT_WITHDRAWN = "consent-withdrawn"
SYSTEM_CANCEL_REASONS = (CONSENT_WITHDRAWN,)
ALL_REASONS = tuple(dict.fromkeys(REJECT_REASONS + CANCEL_REASONS + HOLD_REASONS + FAIL_REASONS
                                  + SYSTEM_CANCEL_REASONS))

# Terminal statuses in which the coordinator may close the loop (entered-in-error is not a result).
CLOSABLE_STATUSES = (Status.REJECTED, Status.COMPLETED, Status.FAILED, Status.CANCELLED)


def _in(column: str, values, *, nullable: bool = False) -> str:
    quoted = ", ".join("'" + getattr(v, "value", v) + "'" for v in values)
    check = f"{column} IN ({quoted})"
    return f"{column} IS NULL OR {check}" if nullable else check


class Client(TimestampMixin, Base):
    """The person referred. Belongs to the coordinator's organization, which keeps their record."""

    __tablename__ = "client"
    __table_args__ = (
        CheckConstraint(_in("contact_preference", CONTACT_PREFERENCES), name="contact_preference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("network_organization.id"), index=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    phone: Mapped[Optional[str]] = mapped_column(String(32))
    email: Mapped[Optional[str]] = mapped_column(String(254))
    preferred_language: Mapped[str] = mapped_column(String(35), default="en")  # BCP 47 / ISO 639 code
    contact_preference: Mapped[str] = mapped_column(String(16))
    zip_code: Mapped[Optional[str]] = mapped_column(String(10))
    address: Mapped[Optional[str]] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    organization: Mapped[NetworkOrganization] = relationship()
    created_by: Mapped[User] = relationship()
    consents: Mapped[list["Consent"]] = relationship(back_populates="client", order_by="Consent.recorded_at")

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Consent(Base):
    """The client's consent to share their information with one receiving (directory) organization."""

    __tablename__ = "consent"
    __table_args__ = (CheckConstraint(_in("method", CONSENT_METHODS), name="method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    receiving_organization_id: Mapped[str] = mapped_column(ID, ForeignKey("organization.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[Optional[str]] = mapped_column(Text)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    client: Mapped[Client] = relationship(back_populates="consents")
    receiving_organization: Mapped[Organization] = relationship()
    recorded_by: Mapped[User] = relationship()


# The reports' indexes: grouped by the first five columns, filtered by the rest; each duration with the filters.
DURATION_INDEX_COLUMNS = ("sent_day", "status", "category", "priority", "sending_organization_id",
                          "receiving_organization_id", "delivery_route")
REPORT_INDEX_COLUMNS = ("sent_day", "status", "category", "status_reason_code", "report_flags", "priority",
                        "sending_organization_id", "receiving_organization_id", "delivery_route", "response_due_at")
# The durations the reports read percentiles of (reports.services._DURATIONS_NEEDED).
REPORTED_DURATIONS = tuple(column for column in timing.COLUMNS if column != "business_seconds_to_close")
AGENCY_INDEX_COLUMNS = ("receiving_organization_id", "status", "report_flags", "sent_day", "category", "priority",
                        "sending_organization_id", "delivery_route", "response_due_at")


class Referral(TimestampMixin, Base):
    """A referral of one client to one service (an SDOHCC Task for referral management).

    `version` is SQLAlchemy's optimistic lock: every UPDATE of the row checks and bumps it,
    so a write based on a stale read fails instead of silently overwriting.
    """

    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint(_in("status", Status), name="status"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(_in("status_reason_code", ALL_REASONS, nullable=True), name="status_reason_code"),
        CheckConstraint(_in("outcome", OUTCOMES, nullable=True), name="outcome"),
        CheckConstraint(_in("verified_outcome", VERIFIED_OUTCOMES, nullable=True), name="verified_outcome"),
        # An outcome goes with completed and failed, and only with them.
        CheckConstraint("(status IN ('completed', 'failed')) = (outcome IS NOT NULL)", name="outcome_status"),
        CheckConstraint("loop_closed_at IS NULL OR " + _in("status", CLOSABLE_STATUSES), name="loop_closed_status"),
        CheckConstraint(_in("delivery_route", DeliveryRoute), name="delivery_route"),
        # The secure-link route is the one that emails an address, and it always has one.
        CheckConstraint("(delivery_route = 'link') = (agency_email IS NOT NULL)", name="agency_email_route"),
        Index("ix_referral_sending_organization_id_status", "sending_organization_id", "status"),
        # The reports' agency comparison: each agency's median time to answer, read in order (covering:
        # the period, status and every report filter are in it, so no row of the table is read).
        Index("ix_referral_receiving_organization_id_seconds_to_answer", "receiving_organization_id",
              "seconds_to_answer", "requested_at", "status", "category", "priority", "sending_organization_id",
              "delivery_route"),
        # The reports' counts (reports.services): one pass over this index, in its order, groups a period's
        # referrals by day, status, need, reason and flags with no sort and no row of the table read.
        Index("ix_referral_report", *REPORT_INDEX_COLUMNS),
        # SQLite only: each duration in order, for the reports' percentiles (PostgreSQL has percentile_disc).
        *(Index(f"ix_referral_report_{column}", column, *DURATION_INDEX_COLUMNS).ddl_if(dialect="sqlite")
          for column in REPORTED_DURATIONS),
        # Referrals by need and client ZIP code, grouped in order (the unmet-distance table).
        Index("ix_referral_report_client_zip_code", "category", "client_zip_code",
              *(c for c in DURATION_INDEX_COLUMNS if c != "category")),
        # An agency's referrals by status (its inbox), and the reports' agency comparison: every agency's
        # counts in one pass in this order, grouped by (agency, status, flags) with no sort and no table row.
        Index("ix_referral_report_agency", *AGENCY_INDEX_COLUMNS),
        # PostgreSQL only: a period's durations without the table, for percentile_disc (SQLite has the above).
        Index("ix_referral_report_durations", "sent_day", "status",
              postgresql_include=[*REPORTED_DURATIONS, *DURATION_INDEX_COLUMNS[2:]]).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    service_id: Mapped[str] = mapped_column(ID, ForeignKey("service.id"), index=True)
    location_id: Mapped[Optional[str]] = mapped_column(ID, ForeignKey("location.id"), index=True)
    receiving_organization_id: Mapped[str] = mapped_column(ID, ForeignKey("organization.id"))
    sending_organization_id: Mapped[int] = mapped_column(ForeignKey("network_organization.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id"), index=True)
    category: Mapped[str] = mapped_column(String(64))  # an SDOH domain code (directory.sdoh)
    priority: Mapped[str] = mapped_column(String(8), default="routine")
    note_to_partner: Mapped[Optional[str]] = mapped_column(Text)
    client_availability: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    status_reason_code: Mapped[Optional[str]] = mapped_column(String(32))
    status_reason_text: Mapped[Optional[str]] = mapped_column(Text)
    outcome: Mapped[Optional[str]] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    response_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    responded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    first_viewed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    loop_closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Whole seconds from requested_at to first_viewed_at, responded_at and loop_closed_at, calendar
    # and business (weekdays in the network's time zone): derived from those timestamps whenever
    # they are written (referrals.timing), for the reports' medians and percentiles.
    seconds_to_view: Mapped[Optional[int]] = mapped_column(Integer)
    business_seconds_to_view: Mapped[Optional[int]] = mapped_column(Integer)
    seconds_to_answer: Mapped[Optional[int]] = mapped_column(Integer)
    business_seconds_to_answer: Mapped[Optional[int]] = mapped_column(Integer)
    seconds_to_close: Mapped[Optional[int]] = mapped_column(Integer)
    business_seconds_to_close: Mapped[Optional[int]] = mapped_column(Integer)
    # The local date it was sent (days since 1970-01-01, network time zone), written with the durations;
    # and the facts the reports count, one bit each (referrals.timing.FLAGS), written with them.
    sent_day: Mapped[Optional[int]] = mapped_column(Integer)
    report_flags: Mapped[Optional[int]] = mapped_column(Integer)
    # The client's ZIP code, kept equal to it (set when sent; a change to the client's rewrites it on all
    # their referrals): the reports' unmet-distance table counts referrals by it without a join.
    client_zip_code: Mapped[Optional[str]] = mapped_column(String(10))
    # The coordinator's verified outcome when the loop was closed (its Closure's), kept equal to it by the
    # session event below: a report flag, so the reports count verified outcomes without a join.
    verified_outcome: Mapped[Optional[str]] = mapped_column(String(20))
    previous_referral_id: Mapped[Optional[int]] = mapped_column(ForeignKey("referral.id"), index=True)
    # The patient's status-page link. The token is HMAC(SECRET_KEY, id, salt): the database holds
    # only the salt and sha256(token) for lookup, so a copy of the database alone opens no link.
    # Reissuing changes the salt (the old link stops working); revoking clears both.
    patient_token_hash: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    patient_token_salt: Mapped[Optional[str]] = mapped_column(String(32))
    patient_link_issued_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # How it reached the agency (accounts.routes.DeliveryRoute), decided when sent; with the
    # secure-link route, the address the agency's link is emailed to.
    delivery_route: Mapped[str] = mapped_column(String(16), default=DeliveryRoute.NETWORK.value,
                                                server_default=DeliveryRoute.NETWORK.value)
    agency_email: Mapped[Optional[str]] = mapped_column(String(254))

    __mapper_args__ = {"version_id_col": version}

    client: Mapped[Client] = relationship()
    service: Mapped[Service] = relationship()
    location: Mapped[Optional[Location]] = relationship()
    receiving_organization: Mapped[Organization] = relationship()
    sending_organization: Mapped[NetworkOrganization] = relationship()
    sender: Mapped[User] = relationship()
    consent: Mapped[Consent] = relationship()
    previous_referral: Mapped[Optional["Referral"]] = relationship(remote_side=[id])
    events: Mapped[list["ReferralEvent"]] = relationship(
        back_populates="referral", order_by=lambda: (ReferralEvent.at, ReferralEvent.id)
    )
    closure: Mapped[Optional["Closure"]] = relationship(back_populates="referral")
    messages: Mapped[list["ReferralMessage"]] = relationship(
        back_populates="referral", order_by=lambda: (ReferralMessage.created_at, ReferralMessage.id)
    )

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def route(self) -> DeliveryRoute:
        return DeliveryRoute(self.delivery_route)


class ReferralEvent(Base):
    """One entry of a referral's append-only timeline."""

    __tablename__ = "referral_event"
    __table_args__ = (
        CheckConstraint(_in("actor_kind", ACTOR_KINDS), name="actor_kind"),
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(_in("from_status", Status, nullable=True), name="from_status"),
        CheckConstraint(_in("to_status", Status, nullable=True), name="to_status"),
        CheckConstraint(_in("reason_code", ALL_REASONS, nullable=True), name="reason_code"),
        CheckConstraint("kind <> 'status' OR to_status IS NOT NULL", name="status_has_to_status"),
        CheckConstraint(_in("report_code", PATIENT_REPORTS, nullable=True), name="report_code"),
        CheckConstraint("(kind = 'report') = (report_code IS NOT NULL)", name="report_has_code"),
        CheckConstraint(_in("on_behalf_of", ON_BEHALF_OF, nullable=True), name="on_behalf_of"),
        # Someone acts on a referral as a user, or as the agency through its link; not both.
        CheckConstraint("actor_id IS NULL OR agency_link_id IS NULL", name="one_actor"),
        # Events of one kind (patient reports, for the reports and the worklist) without reading them all.
        Index("ix_referral_event_kind_report_code", "kind", "report_code", "referral_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))
    actor_kind: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[Optional[str]] = mapped_column(String(20))
    to_status: Mapped[Optional[str]] = mapped_column(String(20))
    reason_code: Mapped[Optional[str]] = mapped_column(String(32))
    reason_text: Mapped[Optional[str]] = mapped_column(Text)
    note: Mapped[Optional[str]] = mapped_column(Text)
    report_code: Mapped[Optional[str]] = mapped_column(String(32))  # a patient report (kind "report")
    # The agency acting through its secure link (no user account: actor_id is NULL), or the
    # coordinator (actor_id) recording the agency's or the client's move on their behalf.
    agency_link_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agency_link.id"), index=True)
    on_behalf_of: Mapped[Optional[str]] = mapped_column(String(16))
    # Whether the patient's status page may show this event: its kind, statuses and reason label.
    # reason_text and note are staff-to-staff free text and are never shown to the patient.
    patient_visible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    referral: Mapped[Referral] = relationship(back_populates="events")
    actor: Mapped[Optional[User]] = relationship()
    agency_link: Mapped[Optional["AgencyLink"]] = relationship()


class Closure(Base):
    """Closing the loop: the coordinator's verified outcome of a finished referral (at most one)."""

    __tablename__ = "closure"
    __table_args__ = (CheckConstraint(_in("verified_outcome", VERIFIED_OUTCOMES), name="verified_outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), unique=True)
    verified_outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[Optional[str]] = mapped_column(Text)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="closure")
    closed_by: Mapped[User] = relationship()


class ReferralMessage(Base):
    """A message between the sending coordinator and the receiving agency about one referral.

    Written by a user, or by the agency's staff through its secure link (`agency_link_id`).
    """

    __tablename__ = "referral_message"
    __table_args__ = (CheckConstraint("(author_id IS NULL) <> (agency_link_id IS NULL)", name="one_author"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))
    agency_link_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agency_link.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="messages")
    author: Mapped[Optional[User]] = relationship()
    agency_link: Mapped[Optional["AgencyLink"]] = relationship()


class AgencyLink(Base):
    """A secure link that lets an agency outside the network work one referral without an account.

    Like the patient's link (referrals.patient_links): the token is derived from SECRET_KEY,
    the row's id and a random salt; the database keeps only the salt and sha256(token).
    A link also expires. Reissuing revokes this row and adds a new one (so events and
    messages keep pointing at the link that made them); revoking clears the salt and hash.
    """

    __tablename__ = "agency_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))  # where it was sent
    token_hash: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    token_salt: Mapped[Optional[str]] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    referral: Mapped[Referral] = relationship()
    issued_by: Mapped[User] = relationship()

    def is_open(self, now: datetime) -> bool:
        """Whether the link still opens its referral page (not revoked, reissued or expired)."""
        return self.revoked_at is None and self.token_salt is not None and now < self.expires_at


def _append_only(mapper, connection, target) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are append-only; add a new row instead.")


event.listen(ReferralEvent, "before_update", _append_only)
event.listen(ReferralEvent, "before_delete", _append_only)


def _timing_on_insert(mapper, connection, referral: Referral) -> None:
    for column, value in timing.changed_durations(referral, {"requested_at"}).items():
        setattr(referral, column, value)
    if referral.client_zip_code is None:  # the client's, read by the INSERT itself
        referral.client_zip_code = (sa_select(Client.zip_code).where(Client.id == referral.client_id)
                                    .scalar_subquery())
    referral.report_flags = timing.flags({name: getattr(referral, name) for name in timing.FLAG_INPUTS})


def _timing_on_update(mapper, connection, referral: Referral) -> None:
    # Only the timestamps that changed are read: one the first view's UPDATE expired is not loaded.
    state = inspect(referral)
    changed = {name for name in ("requested_at", *timing.ENDS) if state.attrs[name].history.has_changes()}
    for column, value in timing.changed_durations(referral, changed).items():
        setattr(referral, column, value)
    flag_changes = {name: getattr(referral, name) for name in timing.FLAG_INPUTS
                    if state.attrs[name].history.has_changes()}
    if flag_changes:  # the UPDATE computes the flags from the row and the values it writes
        referral.report_flags = report_flags_after(flag_changes)


def report_flags_after(changes: dict) -> Any:
    """report_flags as an expression for an UPDATE that writes `changes` ({FLAG_INPUTS name: new value}):
    the new values bound, the row's own columns for the rest (an UPDATE's SET reads the old row)."""
    columns = SimpleNamespace(**{name: sa_literal(changes[name], Referral.__table__.c[name].type)
                                 if name in changes else Referral.__table__.c[name] for name in timing.FLAG_INPUTS})
    return timing.flags_expression(columns)


def _client_zip_on_update(mapper, connection, client: Client) -> None:
    """A client's new ZIP code goes to all their referrals (Referral.client_zip_code), in the same flush."""
    if inspect(client).attrs["zip_code"].history.has_changes():
        connection.execute(Referral.__table__.update().where(Referral.__table__.c.client_id == client.id)
                           .values(client_zip_code=client.zip_code))


def _verified_outcome_to_referral(session: Session, _context, _instances) -> None:
    """Before a flush: a closure's verified outcome (new or changed) goes to its referral
    (Referral.verified_outcome), whose UPDATE in the same flush then writes its report flags."""
    with session.no_autoflush:
        for closure in (*session.new, *session.dirty):
            if isinstance(closure, Closure) and inspect(closure).attrs["verified_outcome"].history.has_changes():
                referral = closure.referral or session.get(Referral, closure.referral_id)
                if referral is not None and referral.verified_outcome != closure.verified_outcome:
                    referral.verified_outcome = closure.verified_outcome


event.listen(Client, "after_update", _client_zip_on_update)
event.listen(Session, "before_flush", _verified_outcome_to_referral)
event.listen(Referral, "before_insert", _timing_on_insert)
event.listen(Referral, "before_update", _timing_on_update)
