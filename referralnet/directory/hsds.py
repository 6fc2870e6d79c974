"""The HSDS 3.0 table registry: which model holds which HSDS object, how objects nest, file names.

Import and export are driven from here, so adding an HSDS table is one entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import inspect as sa_inspect

from referralnet.directory import models as m


@dataclass(frozen=True)
class Table:
    name: str  # HSDS object name, also the database table name
    model: type
    csv_file: str  # file name in the HSDS tabular package
    list_key: str  # key of an array of these objects nested in a parent document

    @cached_property
    def columns(self):
        """HSDS columns, in HSDS order (ours excluded)."""
        return [c for c in sa_inspect(self.model).columns if c.info.get("hsds", True)]

    @cached_property
    def field_names(self) -> list[str]:
        return [c.key for c in self.columns]

    @cached_property
    def foreign_keys(self) -> dict[str, str]:
        """Column name -> referenced HSDS table name."""
        out = {}
        for c in self.columns:
            for fk in c.foreign_keys:
                out[c.key] = fk.column.table.name
        return out


# Parents before children: the order rows are written in.
TABLES: list[Table] = [
    Table("organization", m.Organization, "organizations.csv", "organizations"),
    Table("program", m.Program, "programs.csv", "programs"),
    Table("taxonomy", m.Taxonomy, "taxonomies.csv", "taxonomies"),
    Table("taxonomy_term", m.TaxonomyTerm, "taxonomy_terms.csv", "taxonomy_terms"),
    Table("service", m.Service, "services.csv", "services"),
    Table("location", m.Location, "locations.csv", "locations"),
    Table("service_at_location", m.ServiceAtLocation, "service_at_location.csv", "service_at_locations"),
    Table("address", m.Address, "addresses.csv", "addresses"),
    Table("contact", m.Contact, "contacts.csv", "contacts"),
    Table("phone", m.Phone, "phones.csv", "phones"),
    Table("schedule", m.Schedule, "schedules.csv", "schedules"),
    Table("funding", m.Funding, "funding.csv", "funding"),
    Table("service_area", m.ServiceArea, "service_areas.csv", "service_areas"),
    Table("required_document", m.RequiredDocument, "required_documents.csv", "required_documents"),
    Table("language", m.Language, "languages.csv", "languages"),
    Table("accessibility", m.Accessibility, "accessibility.csv", "accessibility"),
    Table("cost_option", m.CostOption, "cost_options.csv", "cost_options"),
    Table("organization_identifier", m.OrganizationIdentifier, "organization_identifiers.csv",
          "organization_identifiers"),
    Table("attribute", m.Attribute, "attributes.csv", "attributes"),
    Table("service_capacity", m.ServiceCapacity, "service_capacity.csv", "capacities"),
    Table("metadata", m.Metadata, "metadata.csv", "metadata"),
]

BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
BY_LIST_KEY: dict[str, Table] = {t.list_key: t for t in TABLES}
BY_CSV: dict[str, Table] = {t.csv_file.removesuffix(".csv"): t for t in TABLES}
# Alternative spellings seen in HSDS packages (plural/singular, HSDS 2 names).
BY_CSV.update({
    "service_at_locations": BY_NAME["service_at_location"],
    "fundings": BY_NAME["funding"],
    "accessibility_for_disabilities": BY_NAME["accessibility"],
    "service_capacities": BY_NAME["service_capacity"],
    "taxonomy": BY_NAME["taxonomy"],
})

# Singular objects nested in a document: key -> (table, column on the *parent* that refers to it).
NESTED_OBJECTS: dict[str, tuple[str, str]] = {
    "organization": ("organization", "organization_id"),
    "program": ("program", "program_id"),
    "location": ("location", "location_id"),
    "service": ("service", "service_id"),
    "taxonomy_term": ("taxonomy_term", "taxonomy_term_id"),
    "taxonomy_detail": ("taxonomy", "taxonomy_id"),
}

# Tables present in HSDS packages that ReferralNet does not keep; reported as ignored.
IGNORED_TABLES = {"meta_table_description", "meta_table_descriptions"}

# What each exported top-level document nests (beyond attributes and metadata).
DOCUMENT_CHILDREN: dict[str, list[str]] = {
    "organization": ["funding", "contacts", "phones", "locations", "programs", "organization_identifiers"],
    "program": [],
    "location": ["languages", "addresses", "contacts", "accessibility", "phones", "schedules"],
    "service": ["phones", "schedules", "service_areas", "service_at_locations", "languages", "funding",
                "cost_options", "required_documents", "contacts", "capacities"],
    "service_at_location": ["contacts", "phones", "schedules"],
    "contact": ["phones"],
    "phone": ["languages"],
    "taxonomy": [],
    "taxonomy_term": [],
}
