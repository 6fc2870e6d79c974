"""Every state-changing service of directory, accounts and API tokens writes an audit row.

`CHANGES` walks each one and checks its row (action, object, actor; the details are ids and
codes because `audit()` refuses anything else). `READ_ONLY` names the public functions that
change nothing. A new public function in these modules fails
`test_every_public_function_is_walked_or_read_only` until it is put in one of the two.
"""
from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referralnet.accounts import services as accounts
from referralnet.api import tokens
from referralnet.audit.models import AuditLog
from referralnet.db import utcnow
from referralnet.portal import listings
from referralnet.directory import services as directory
from tests.referrals.conftest import world  # noqa: F401  (fixture)

MODULES = (accounts, directory, listings, tokens)


def _new_token(w):
    token, _ = tokens.create_api_token(w.admin, w.clinic, name="EHR", scopes=["referrals:read"])
    return token


def _stale_token(w):
    token = _new_token(w)
    token.last_used_at = utcnow() - timedelta(hours=1)
    return token


def _org_listing(w):
    return directory.create_organization_listing(name="Harbor Aid", description="Help.", actor=w.admin)


def _location(w):
    return directory.create_location(name="Harbor Hall", organization_id="org-eastside", location_type="virtual",
                                     actor=w.admin)


# name -> (call(world) -> the changed object, action, object type, actor attribute or None for the system)
CHANGES = {
    "accounts.create_organization": (
        lambda w: accounts.create_organization(name="Harbor Clinic", kind="referrer", actor=w.admin),
        "organization.create", "network_organization", "admin"),
    "accounts.create_user": (
        lambda w: accounts.create_user(email="new@example.org", name="New Person", password="x" * 12,
                                       role="coordinator", organization_id=w.clinic.id, actor=w.admin),
        "user.create", "user", "admin"),
    "accounts.set_user_active": (
        lambda w: accounts.set_user_active(w.coordinator, False, actor=w.admin),
        "user.deactivate", "user", "admin"),
    "accounts.set_organization_active": (
        lambda w: accounts.set_organization_active(w.other_clinic, False, actor=w.admin),
        "organization.deactivate", "network_organization", "admin"),
    "directory.create_organization_listing": (
        _org_listing, "directory.organization.create", "organization", "admin"),
    "directory.update_organization_listing": (
        lambda w: directory.update_organization_listing(w.eastside, name="Eastside Food Bank", description="New.",
                                                        actor=w.admin),
        "directory.organization.update", "organization", "admin"),
    "directory.create_service": (
        lambda w: directory.create_service(organization_id="org-eastside", name="Eastside Groceries",
                                           location_ids=["loc-eastside"], actor=w.admin),
        "directory.service.create", "service", "admin"),
    "directory.update_service": (
        lambda w: directory.update_service(w.meals, organization_id="org-eastside", name="Eastside Meals",
                                           status="active", actor=w.admin),
        "directory.service.update", "service", "admin"),
    "directory.create_location": (_location, "directory.location.create", "location", "admin"),
    "directory.update_location": (
        lambda w: directory.update_location(w.site, name="Main St Pantry", organization_id="org-eastside",
                                            location_type="virtual", actor=w.admin),
        "directory.location.update", "location", "admin"),
    "listings.set_accepting": (
        lambda w: listings.set_accepting(w.partner, "svc-pantry", False), "listing.update", "service", "partner"),
    "listings.confirm_listing": (
        lambda w: listings.confirm_listing(w.partner, "svc-pantry"), "listing.update", "service", "partner"),
    "listings.update_capacity": (
        lambda w: (listings.update_capacity(w.partner, "svc-pantry", available=3, maximum=10), w.pantry)[1],
        "listing.update", "service", "partner"),
    "listings.set_weekly_hours": (
        lambda w: (listings.set_weekly_hours(w.partner, "svc-pantry", [{"day": "MO", "opens": "09:00",
                                                                        "closes": "17:00"}]), w.pantry)[1],
        "listing.update", "service", "partner"),
    "tokens.create_api_token": (_new_token, "api_token.create", "api_token", "admin"),
    "tokens.revoke_api_token": (
        lambda w: tokens.revoke_api_token(w.admin, _new_token(w)), "api_token.revoke", "api_token", "admin"),
    "tokens.record_token_use": (
        lambda w: (token := _stale_token(w), tokens.record_token_use(token))[0], "api_token.use", "api_token", None),
    "tokens.service_account_for": (
        lambda w: tokens.service_account_for(w.clinic), "user.create", "user", None),
}

# Public functions that change nothing (reads, checks, parsing), or why a change is not audited.
READ_ONLY = {
    "accounts": {"get_organization", "get_user",
                 # A sign-in sets last_login_at only; it changes nothing an admin manages.
                 "authenticate",
                 # Cleans a typed phone number; writes nothing.
                 "check_work_phone"},
    "directory": {"clean_text", "get_location", "get_location_details", "get_organization_details",
                  "get_organization_listing", "get_service", "get_service_details", "get_service_location_ids",
                  "get_service_sdoh_term_ids", "list_location_choices", "list_locations", "list_organization_choices",
                  "list_organization_listings", "list_sdoh_domain_terms", "list_services", "physical_address",
                  "raise_if_errors", "whole_number"},
    "listings": {"clean_weekly_rows", "get_capacity", "get_hours_for_edit", "get_own_service",
                 "list_own_listings", "own_directory_organization", "service_timezone",
                 # the home page's "listings to verify" and its settings
                 "listings_to_verify", "listing_verify_days", "verify_cutoff"},
    "tokens": {"authenticate_token", "get_api_token", "hash_token", "is_service_account", "list_api_tokens",
               "may_manage_tokens", "parse_bearer", "service_account_email", "token_state"},
}


def _short(module) -> str:
    return module.__name__.rsplit(".", 1)[-1] if module is not accounts and module is not directory \
        else module.__name__.split(".")[1]


def test_every_public_function_is_walked_or_read_only():
    for module in MODULES:
        short = _short(module)
        public = {name for name, fn in inspect.getmembers(module, inspect.isfunction)
                  if fn.__module__ == module.__name__ and not name.startswith("_")}
        walked = {name.split(".", 1)[1] for name in CHANGES if name.split(".", 1)[0] == short}
        assert walked.isdisjoint(READ_ONLY[short])
        assert public == walked | READ_ONLY[short], f"{module.__name__}: classify {public ^ (walked | READ_ONLY[short])}"


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_change_writes_an_audit_row(db, world, name):
    call, action, object_type, actor = CHANGES[name]
    before = db.session.scalar(select(func.coalesce(func.max(AuditLog.id), 0)))
    changed = call(world)
    rows = db.session.scalars(select(AuditLog).where(AuditLog.id > before, AuditLog.action == action)
                              .order_by(AuditLog.id)).all()
    assert rows, f"{name} wrote no {action} row"
    row = rows[-1]
    assert (row.object_type, row.object_id) == (object_type, str(changed.id))
    assert row.user_id == (getattr(world, actor).id if actor else None)
