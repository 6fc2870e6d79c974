"""HSDS 3.0 directory tables.

Table and column names follow Open Referral HSDS 3.0 so that import and export
are a mapping, not a translation. Ids are the HSDS string ids, kept as the
primary key so that re-importing a record updates it instead of duplicating it.
Columns marked `info={"hsds": False}` are ours and never exported.

Column order inside each model is the HSDS order: the tabular (CSV) export uses it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referralnet.db import Base, TimestampMixin, UTCDateTime, new_uuid

ID = String(250)

SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")
LOCATION_TYPES = ("physical", "postal", "virtual")
ADDRESS_TYPES = ("physical", "postal", "virtual")
SCHEDULE_FREQS = ("WEEKLY", "MONTHLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join("'" + v + "'" for v in values)
    return f"{column} IN ({quoted})"


def fk(target: str, *, nullable: bool = True, index: bool = True):
    """A foreign key to another HSDS table; children go with their parent."""
    return mapped_column(ID, ForeignKey(f"{target}.id", ondelete="CASCADE"), nullable=nullable, index=index)


class Organization(TimestampMixin, Base):
    __tablename__ = "organization"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(Text)
    alternate_name: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    email: Mapped[Optional[str]] = mapped_column(Text)
    website: Mapped[Optional[str]] = mapped_column(Text)
    tax_status: Mapped[Optional[str]] = mapped_column(Text)
    tax_id: Mapped[Optional[str]] = mapped_column(Text)
    year_incorporated: Mapped[Optional[int]] = mapped_column(Integer)
    legal_status: Mapped[Optional[str]] = mapped_column(Text)
    logo: Mapped[Optional[str]] = mapped_column(Text)
    uri: Mapped[Optional[str]] = mapped_column(Text)
    parent_organization_id: Mapped[Optional[str]] = mapped_column(
        ID, ForeignKey("organization.id", ondelete="SET NULL"), index=True
    )

    services: Mapped[list["Service"]] = relationship(back_populates="organization", order_by="Service.name")
    locations: Mapped[list["Location"]] = relationship(back_populates="organization", order_by="Location.name")


class Program(TimestampMixin, Base):
    __tablename__ = "program"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    organization_id: Mapped[Optional[str]] = fk("organization")
    name: Mapped[str] = mapped_column(Text)
    alternate_name: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)


class Service(TimestampMixin, Base):
    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint(_in("status", SERVICE_STATUSES), name="status"),
        CheckConstraint("minimum_age IS NULL OR minimum_age >= 0", name="minimum_age"),
        CheckConstraint(
            "minimum_age IS NULL OR maximum_age IS NULL OR maximum_age >= minimum_age", name="age_range"
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    organization_id: Mapped[Optional[str]] = fk("organization")
    program_id: Mapped[Optional[str]] = mapped_column(
        ID, ForeignKey("program.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    alternate_name: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[Optional[str]] = mapped_column(Text)
    url: Mapped[Optional[str]] = mapped_column(Text)
    email: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="active")
    interpretation_services: Mapped[Optional[str]] = mapped_column(Text)
    application_process: Mapped[Optional[str]] = mapped_column(Text)
    fees_description: Mapped[Optional[str]] = mapped_column(Text)
    wait_time: Mapped[Optional[str]] = mapped_column(Text)
    fees: Mapped[Optional[str]] = mapped_column(Text)
    accreditations: Mapped[Optional[str]] = mapped_column(Text)
    eligibility_description: Mapped[Optional[str]] = mapped_column(Text)
    minimum_age: Mapped[Optional[int]] = mapped_column(Integer)
    maximum_age: Mapped[Optional[int]] = mapped_column(Integer)
    assured_date: Mapped[Optional[date]] = mapped_column(Date)
    assurer_email: Mapped[Optional[str]] = mapped_column(Text)
    licenses: Mapped[Optional[str]] = mapped_column(Text)
    alert: Mapped[Optional[str]] = mapped_column(Text)
    last_modified: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Ours, not HSDS: the partner's "accepting referrals" switch, shown and filtered on in search.
    accepting_referrals: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(),
                                                      info={"hsds": False})

    organization: Mapped[Optional[Organization]] = relationship(back_populates="services")
    service_at_locations: Mapped[list["ServiceAtLocation"]] = relationship(back_populates="service")


class Location(TimestampMixin, Base):
    __tablename__ = "location"
    __table_args__ = (
        CheckConstraint(_in("location_type", LOCATION_TYPES), name="location_type"),
        CheckConstraint("latitude IS NULL OR (latitude >= -90 AND latitude <= 90)", name="latitude"),
        CheckConstraint("longitude IS NULL OR (longitude >= -180 AND longitude <= 180)", name="longitude"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    location_type: Mapped[str] = mapped_column(String(16), default="physical")
    url: Mapped[Optional[str]] = mapped_column(Text)
    organization_id: Mapped[Optional[str]] = fk("organization")
    name: Mapped[Optional[str]] = mapped_column(Text)
    alternate_name: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[Optional[str]] = mapped_column(Text)
    transportation: Mapped[Optional[str]] = mapped_column(Text)
    latitude: Mapped[Optional[float]] = mapped_column(Float)
    longitude: Mapped[Optional[float]] = mapped_column(Float)
    external_identifier: Mapped[Optional[str]] = mapped_column(Text)
    external_identifier_type: Mapped[Optional[str]] = mapped_column(Text)
    # Ours, not HSDS: a confidential site (e.g. a domestic-violence shelter). Its address and
    # coordinates are never indexed, shown or exported through the APIs.
    address_confidential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(),
                                                       info={"hsds": False})

    organization: Mapped[Optional[Organization]] = relationship(back_populates="locations")
    addresses: Mapped[list["Address"]] = relationship(order_by="Address.address_type")


class ServiceAtLocation(TimestampMixin, Base):
    __tablename__ = "service_at_location"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    service_id: Mapped[Optional[str]] = fk("service")
    location_id: Mapped[Optional[str]] = fk("location")
    description: Mapped[Optional[str]] = mapped_column(Text)

    service: Mapped[Optional[Service]] = relationship(back_populates="service_at_locations")
    location: Mapped[Optional[Location]] = relationship()


class Address(TimestampMixin, Base):
    __tablename__ = "address"
    __table_args__ = (CheckConstraint(_in("address_type", ADDRESS_TYPES), name="address_type"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    location_id: Mapped[Optional[str]] = fk("location")
    attention: Mapped[Optional[str]] = mapped_column(Text)
    address_1: Mapped[str] = mapped_column(Text)
    address_2: Mapped[Optional[str]] = mapped_column(Text)
    city: Mapped[str] = mapped_column(Text)
    region: Mapped[Optional[str]] = mapped_column(Text)
    state_province: Mapped[str] = mapped_column(Text)
    postal_code: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2))
    address_type: Mapped[str] = mapped_column(String(16), default="physical")


class Contact(TimestampMixin, Base):
    __tablename__ = "contact"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    organization_id: Mapped[Optional[str]] = fk("organization")
    service_id: Mapped[Optional[str]] = fk("service")
    service_at_location_id: Mapped[Optional[str]] = fk("service_at_location")
    location_id: Mapped[Optional[str]] = fk("location")
    name: Mapped[Optional[str]] = mapped_column(Text)
    title: Mapped[Optional[str]] = mapped_column(Text)
    department: Mapped[Optional[str]] = mapped_column(Text)
    email: Mapped[Optional[str]] = mapped_column(Text)


class Phone(TimestampMixin, Base):
    __tablename__ = "phone"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    location_id: Mapped[Optional[str]] = fk("location")
    service_id: Mapped[Optional[str]] = fk("service")
    organization_id: Mapped[Optional[str]] = fk("organization")
    contact_id: Mapped[Optional[str]] = fk("contact")
    service_at_location_id: Mapped[Optional[str]] = fk("service_at_location")
    number: Mapped[str] = mapped_column(Text)
    extension: Mapped[Optional[int]] = mapped_column(Integer)
    type: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[Optional[str]] = mapped_column(Text)


class Schedule(TimestampMixin, Base):
    __tablename__ = "schedule"
    __table_args__ = (
        CheckConstraint("freq IS NULL OR " + _in("freq", SCHEDULE_FREQS), name="freq"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    service_id: Mapped[Optional[str]] = fk("service")
    location_id: Mapped[Optional[str]] = fk("location")
    service_at_location_id: Mapped[Optional[str]] = fk("service_at_location")
    valid_from: Mapped[Optional[date]] = mapped_column(Date)
    valid_to: Mapped[Optional[date]] = mapped_column(Date)
    dtstart: Mapped[Optional[date]] = mapped_column(Date)
    timezone: Mapped[Optional[float]] = mapped_column(Float)
    until: Mapped[Optional[date]] = mapped_column(Date)
    count: Mapped[Optional[int]] = mapped_column(Integer)
    wkst: Mapped[Optional[str]] = mapped_column(String(3))
    freq: Mapped[Optional[str]] = mapped_column(String(8))
    interval: Mapped[Optional[int]] = mapped_column(Integer)
    byday: Mapped[Optional[str]] = mapped_column(Text)
    byweekno: Mapped[Optional[str]] = mapped_column(Text)
    bymonthday: Mapped[Optional[str]] = mapped_column(Text)
    byyearday: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[Optional[str]] = mapped_column(Text)
    opens_at: Mapped[Optional[str]] = mapped_column(String(8))
    closes_at: Mapped[Optional[str]] = mapped_column(String(8))
    schedule_link: Mapped[Optional[str]] = mapped_column(Text)
    attending_type: Mapped[Optional[str]] = mapped_column(Text)
    notes: Mapped[Optional[str]] = mapped_column(Text)


class Funding(TimestampMixin, Base):
    __tablename__ = "funding"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    organization_id: Mapped[Optional[str]] = fk("organization")
    service_id: Mapped[Optional[str]] = fk("service")
    source: Mapped[Optional[str]] = mapped_column(Text)


class ServiceArea(TimestampMixin, Base):
    __tablename__ = "service_area"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    service_id: Mapped[Optional[str]] = fk("service")
    name: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[Optional[str]] = mapped_column(Text)
    extent: Mapped[Optional[str]] = mapped_column(Text)
    extent_type: Mapped[Optional[str]] = mapped_column(Text)
    uri: Mapped[Optional[str]] = mapped_column(Text)


class RequiredDocument(TimestampMixin, Base):
    __tablename__ = "required_document"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    service_id: Mapped[Optional[str]] = fk("service")
    document: Mapped[Optional[str]] = mapped_column(Text)
    uri: Mapped[Optional[str]] = mapped_column(Text)


class Language(TimestampMixin, Base):
    __tablename__ = "language"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    service_id: Mapped[Optional[str]] = fk("service")
    location_id: Mapped[Optional[str]] = fk("location")
    phone_id: Mapped[Optional[str]] = fk("phone")
    name: Mapped[Optional[str]] = mapped_column(Text)
    code: Mapped[Optional[str]] = mapped_column(String(35))
    note: Mapped[Optional[str]] = mapped_column(Text)


class Accessibility(TimestampMixin, Base):
    __tablename__ = "accessibility"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    location_id: Mapped[Optional[str]] = fk("location")
    description: Mapped[Optional[str]] = mapped_column(Text)
    details: Mapped[Optional[str]] = mapped_column(Text)
    url: Mapped[Optional[str]] = mapped_column(Text)


class Taxonomy(TimestampMixin, Base):
    __tablename__ = "taxonomy"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    uri: Mapped[Optional[str]] = mapped_column(Text)
    version: Mapped[Optional[str]] = mapped_column(Text)


class TaxonomyTerm(TimestampMixin, Base):
    __tablename__ = "taxonomy_term"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    code: Mapped[Optional[str]] = mapped_column(Text, index=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[Optional[str]] = mapped_column(
        ID, ForeignKey("taxonomy_term.id", ondelete="SET NULL"), index=True
    )
    taxonomy: Mapped[Optional[str]] = mapped_column(Text)
    language: Mapped[Optional[str]] = mapped_column(String(35))
    taxonomy_id: Mapped[Optional[str]] = fk("taxonomy")
    term_uri: Mapped[Optional[str]] = mapped_column(Text)


class Attribute(TimestampMixin, Base):
    """Links any HSDS record (link_entity + link_id) to a taxonomy term, optionally with a value."""

    __tablename__ = "attribute"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    link_id: Mapped[Optional[str]] = mapped_column(ID, index=True)
    taxonomy_term_id: Mapped[Optional[str]] = fk("taxonomy_term")
    link_type: Mapped[Optional[str]] = mapped_column(Text)
    link_entity: Mapped[Optional[str]] = mapped_column(String(64))
    value: Mapped[Optional[str]] = mapped_column(Text)

    taxonomy_term: Mapped[Optional[TaxonomyTerm]] = relationship()


class CostOption(TimestampMixin, Base):
    __tablename__ = "cost_option"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    service_id: Mapped[Optional[str]] = fk("service")
    valid_from: Mapped[Optional[date]] = mapped_column(Date)
    valid_to: Mapped[Optional[date]] = mapped_column(Date)
    option: Mapped[Optional[str]] = mapped_column(Text)
    currency: Mapped[Optional[str]] = mapped_column(String(3))
    amount: Mapped[Optional[float]] = mapped_column(Float)
    amount_description: Mapped[Optional[str]] = mapped_column(Text)


class OrganizationIdentifier(TimestampMixin, Base):
    __tablename__ = "organization_identifier"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    organization_id: Mapped[Optional[str]] = fk("organization")
    identifier_scheme: Mapped[Optional[str]] = mapped_column(Text)
    identifier_type: Mapped[str] = mapped_column(Text)
    identifier: Mapped[str] = mapped_column(Text)


class Metadata(TimestampMixin, Base):
    """HSDS change history of a record (who changed which field when)."""

    __tablename__ = "metadata"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    resource_id: Mapped[str] = mapped_column(ID, index=True)
    resource_type: Mapped[Optional[str]] = mapped_column(String(64))
    last_action_date: Mapped[date] = mapped_column(Date)
    last_action_type: Mapped[str] = mapped_column(Text)
    field_name: Mapped[str] = mapped_column(Text)
    previous_value: Mapped[str] = mapped_column(Text)
    replacement_value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(Text)


class ServiceCapacity(TimestampMixin, Base):
    """HSDS 3.1 service_capacity: how much of a service is available now (beds, slots...)."""

    __tablename__ = "service_capacity"
    __table_args__ = (
        CheckConstraint("available IS NULL OR available >= 0", name="available"),
        CheckConstraint("maximum IS NULL OR maximum >= 0", name="maximum"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_uuid)
    service_id: Mapped[str] = fk("service", nullable=False)
    unit: Mapped[Optional[str]] = mapped_column(Text)
    available: Mapped[Optional[float]] = mapped_column(Float)
    maximum: Mapped[Optional[float]] = mapped_column(Float)
    description: Mapped[Optional[str]] = mapped_column(Text)
    updated: Mapped[datetime] = mapped_column(UTCDateTime())
