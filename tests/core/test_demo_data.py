"""The demo data that `make run` loads: real San Mateo directory, fictional agencies for every SDOH domain."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from referralnet.accounts.models import Role, User
from referralnet.demo import DEMO_USERS, SEED_DIR, load_demo_data
from referralnet.directory import models as m
from referralnet.directory.sdoh import sdoh_terms
from tests.hsds_schema import schema_errors

GRAVITY_DOMAINS = ["food-insecurity", "housing-instability", "homelessness", "inadequate-housing",
                   "transportation-insecurity", "financial-insecurity", "utility-insecurity", "employment-status",
                   "educational-attainment", "health-insurance-coverage-status", "intimate-partner-violence",
                   "elder-abuse", "social-connection", "stress", "digital-access"]


@pytest.mark.parametrize("folder", ["san-mateo-hsds", "demo-agencies-hsds"])
def test_seed_files_validate_against_official_schemas(folder):
    for file, schema in [("services.json", "service.json"), ("organizations.json", "organization.json")]:
        for document in json.loads((SEED_DIR / folder / file).read_text()):
            assert not schema_errors(document, schema), (folder, file, document["id"])


def test_san_mateo_seed_keeps_its_licence():
    text = (SEED_DIR / "san-mateo-hsds/LICENSE.md").read_text()
    assert "Copyright (c) 2013, Code for America" in text


def test_demo_load_fills_an_empty_database_once(db):
    assert load_demo_data(echo=lambda *_: None) is True
    db.session.commit()
    assert load_demo_data(echo=lambda *_: None) is False
    roles = Counter(db.session.scalars(select(User.role)))
    assert set(roles) == {r.value for r in Role}
    assert db.session.scalar(select(func.count()).select_from(User)) == len(DEMO_USERS)


def test_every_sdoh_domain_has_several_complete_services(db):
    load_demo_data(echo=lambda *_: None)
    db.session.commit()
    term_ids = {sdoh_terms()[code]["id"]: code for code in GRAVITY_DOMAINS}
    rows = db.session.execute(
        select(m.Attribute.taxonomy_term_id, m.Service)
        .join(m.Service, m.Service.id == m.Attribute.link_id)
        .where(m.Attribute.taxonomy_term_id.in_(term_ids), m.Service.status == "active")
    ).all()
    per_domain = Counter(term_ids[term] for term, _ in rows)
    for code in GRAVITY_DOMAINS:
        assert per_domain[code] >= 3, f"{code} has {per_domain[code]} active services"
    for _, service in rows:
        assert service.description and service.eligibility_description, service.name
        locations = [sal.location for sal in service.service_at_locations]
        assert locations, service.name
    # Fictional agencies have weekly hours, languages, capacity, and places with coordinates.
    assert db.session.scalar(select(func.count()).select_from(m.ServiceCapacity)) >= 20
    assert db.session.scalar(select(func.count()).select_from(m.Schedule).where(m.Schedule.freq == "WEEKLY")) > 100
    assert db.session.scalar(select(func.count()).select_from(m.Language)) > 100
    with_coordinates = db.session.scalar(select(func.count()).select_from(m.Location)
                                         .where(m.Location.latitude.is_not(None)))
    assert with_coordinates >= 50


def test_demo_partner_organizations_link_to_their_listings(db):
    load_demo_data(echo=lambda *_: None)
    db.session.commit()
    for user in db.session.scalars(select(User).where(User.role == "partner")):
        listing = user.organization.directory_organization
        assert listing is not None and listing.name == user.organization.name


def test_saved_demo_rows_are_restored_parents_first_in_whatever_order_they_were_read(demo):
    """The `demo` fixture reads its saved rows back without ORDER BY; on PostgreSQL an updated
    parent term can lie on disk after its children, and restoring them in that order broke the
    fixture (a foreign key error in every test that followed)."""
    from tests.conftest import _demo_rows, _restore_rows

    shuffled = dict(_demo_rows)
    for table in ("taxonomy_term", "organization"):
        shuffled[table] = list(reversed(_demo_rows[table]))
    assert any(row["parent_id"] for row in shuffled["taxonomy_term"])
    _restore_rows(demo.session, shuffled)
    demo.session.commit()
    assert demo.session.scalar(select(func.count()).select_from(m.TaxonomyTerm)) == len(_demo_rows["taxonomy_term"])
