"""A partner agency's own listings (scope referrals:write): capacity and the accepting-referrals switch.

Through portal.listings, so the same rules as the partner pages: only the
services of the agency's own directory organization (anything else is 404).
"""
from __future__ import annotations

from referralnet.api.v1.common import actor, make_blueprint, scoped
from referralnet.api.v1.schemas import ListingSchema, ListingUpdateSchema
from referralnet.portal import listings as partner_listings

bp = make_blueprint("api_v1_listings", "A partner agency keeps its own listings current.")


@bp.route("/listings/<service_id>", methods=["PATCH"])
@scoped("referrals:write")
@bp.arguments(ListingUpdateSchema)
@bp.response(200, ListingSchema)
def update_listing(body: dict, service_id: str):
    """Switch accepting referrals on or off and/or record current capacity (its `updated` becomes now)."""
    who = actor()
    if "accepting_referrals" in body:
        partner_listings.set_accepting(who, service_id, body["accepting_referrals"])
    if body.get("capacity") is not None:
        partner_listings.update_capacity(who, service_id, **{"available": None, "maximum": None,
                                                              **body["capacity"]})
    service = partner_listings.get_own_service(who, service_id)
    return {"id": service.id, "name": service.name, "status": service.status,
            "accepting_referrals": service.accepting_referrals,
            "capacity": partner_listings.get_capacity(who, service_id)}
