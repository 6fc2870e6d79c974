"""Who sees which referrals and clients: one place, and NotFound (never 403) outside it."""
from __future__ import annotations

import pytest

from referralnet.errors import NotFound
from referralnet.extensions import db as _db
from referralnet.referrals.access import (get_visible_client_or_404, get_visible_referral_or_404, visible_clients,
                                          visible_referrals)


def ids(query) -> set[int]:
    return {row.id for row in _db.session.scalars(query)}


@pytest.fixture()
def network(world, make_client, make_referral):
    """Referrals in every direction: both clinics to both partner agencies, plus a client never referred."""
    w = world
    w.ours_to_eastside = make_referral()
    w.ours_to_westside = make_referral(service=w.housing)
    w.theirs_to_eastside = make_referral(sending_org=w.other_clinic, sender=w.other_coordinator)
    w.theirs_to_westside = make_referral(service=w.housing, sending_org=w.other_clinic, sender=w.other_coordinator)
    w.unreferred = make_client()
    return w


def test_coordinators_see_their_organizations_referrals_and_clients(network):
    w = network
    assert ids(visible_referrals(w.coordinator)) == {w.ours_to_eastside.id, w.ours_to_westside.id}
    assert ids(visible_clients(w.coordinator)) == {w.ours_to_eastside.client_id, w.ours_to_westside.client_id,
                                                   w.unreferred.id}
    assert ids(visible_referrals(w.other_coordinator)) == {w.theirs_to_eastside.id, w.theirs_to_westside.id}
    assert ids(visible_clients(w.other_coordinator)) == {w.theirs_to_eastside.client_id,
                                                         w.theirs_to_westside.client_id}


def test_partners_see_referrals_sent_to_them_and_those_clients_only(network):
    w = network
    assert ids(visible_referrals(w.partner)) == {w.ours_to_eastside.id, w.theirs_to_eastside.id}
    assert ids(visible_clients(w.partner)) == {w.ours_to_eastside.client_id, w.theirs_to_eastside.client_id}
    assert ids(visible_referrals(w.other_partner)) == {w.ours_to_westside.id, w.theirs_to_westside.id}
    assert ids(visible_clients(w.other_partner)) == {w.ours_to_westside.client_id, w.theirs_to_westside.client_id}


def test_get_or_404_inside_scope(network):
    w = network
    assert get_visible_referral_or_404(w.partner, w.ours_to_eastside.id) is w.ours_to_eastside
    assert get_visible_referral_or_404(w.coordinator, str(w.ours_to_eastside.id)) is w.ours_to_eastside
    assert get_visible_client_or_404(w.partner, w.ours_to_eastside.client_id) is w.ours_to_eastside.client
    assert get_visible_client_or_404(w.coordinator, w.unreferred.id) is w.unreferred


@pytest.mark.parametrize("outsider", ["other_partner", "other_coordinator", "admin"])
def test_outsiders_see_nothing_of_our_referral(network, outsider):
    """Mission Clinic -> Eastside: Westside's staff, Bayview's coordinator and the admin get 404s."""
    w = network
    user = getattr(w, outsider)
    referral = w.ours_to_eastside
    assert referral.id not in ids(visible_referrals(user))
    assert referral.client_id not in ids(visible_clients(user))
    with pytest.raises(NotFound):
        get_visible_referral_or_404(user, referral.id)
    with pytest.raises(NotFound):
        get_visible_client_or_404(user, referral.client_id)
    with pytest.raises(NotFound):
        get_visible_client_or_404(user, w.unreferred.id)


def test_admins_see_no_referrals_or_clients_at_all(network):
    assert ids(visible_referrals(network.admin)) == set()
    assert ids(visible_clients(network.admin)) == set()


def test_an_unlinked_partner_sees_nothing(db, network):
    network.partner_org.directory_organization_id = None
    db.session.flush()
    assert ids(visible_referrals(network.partner)) == set()
    assert ids(visible_clients(network.partner)) == set()


def test_deactivated_users_and_organizations_see_nothing(db, network):
    network.partner.active = False
    assert ids(visible_referrals(network.partner)) == set()
    network.clinic.active = False
    assert ids(visible_referrals(network.coordinator)) == set()
    assert ids(visible_clients(network.coordinator)) == set()


@pytest.mark.parametrize("bad_id", [None, "", "abc", "1; drop table referral", -1, 0, 2**31, 10**20, 999999])
def test_malformed_or_unknown_ids_are_not_found(network, bad_id):
    with pytest.raises(NotFound):
        get_visible_referral_or_404(network.coordinator, bad_id)
    with pytest.raises(NotFound):
        get_visible_client_or_404(network.coordinator, bad_id)


def test_scope_composes_with_other_filters(network):
    from referralnet.referrals.models import Referral

    w = network
    query = visible_referrals(w.partner).where(Referral.sending_organization_id == w.other_clinic.id)
    assert ids(query) == {w.theirs_to_eastside.id}
