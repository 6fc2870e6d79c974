"""Who acts on a referral when it is not simply a signed-in user acting for their organization.

- `AgencyLinkActor`: the staff of an agency outside the network, acting through the secure
  link emailed to it (referrals.agency_links). They have no user account: the timeline
  records the link (`referral_event.agency_link_id`, actor_id NULL), and the audit log a row
  with no user and `via="agency-link"`, `agency_link_id`. They are the receiving party,
  with exactly the powers of a member agency's staff (states.parties_of).
- `OnBehalf`: a sending coordinator recording what the agency (or the client) told them,
  on a referral that does not travel in the network. The timeline records the coordinator
  as the actor and `on_behalf_of`; the move counts as the agency's (or the client's).

Every function that takes an actor (states.transition, services.change_status,
mark_viewed, post_message) accepts a `User` or one of these.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

from referralnet.accounts.models import User
from referralnet.audit.services import audit
from referralnet.referrals.models import AgencyLink


@dataclass(frozen=True, eq=False)
class AgencyLinkActor:
    """The receiving agency, acting through its secure link."""

    link: AgencyLink


@dataclass(frozen=True, eq=False)
class OnBehalf:
    """A coordinator recording the move of someone without access (`of`: "agency" or "patient")."""

    user: User
    of: str


Actor = Union[User, AgencyLinkActor, OnBehalf]


def acting_user(actor: Optional[Actor]) -> Optional[User]:
    """The user account behind the actor (None for the agency's link and the system)."""
    if isinstance(actor, AgencyLinkActor):
        return None
    if isinstance(actor, OnBehalf):
        return actor.user
    return actor


def event_columns(actor: Optional[Actor]) -> dict[str, Any]:
    """The referral_event columns that say who acted."""
    if isinstance(actor, AgencyLinkActor):
        return {"actor_id": None, "agency_link_id": actor.link.id}
    if isinstance(actor, OnBehalf):
        return {"actor_id": actor.user.id, "on_behalf_of": actor.of}
    return {"actor_id": actor.id if actor is not None else None}


def audit_as(actor: Optional[Actor], action: str, object_type: str, object_id, **details):
    """audit() for any actor: the agency's link is recorded by its id, an on-behalf move as such."""
    if isinstance(actor, AgencyLinkActor):
        details.update(via="agency-link", agency_link_id=actor.link.id)
    elif isinstance(actor, OnBehalf):
        details.update(on_behalf_of=actor.of)
    return audit(acting_user(actor), action, object_type, object_id, **details)
