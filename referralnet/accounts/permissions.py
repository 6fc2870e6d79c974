"""Role checks for views. Object-level checks live next to their models as can_* functions."""
from __future__ import annotations

from functools import wraps

from flask_login import current_user, login_required

from referralnet.accounts.models import Role
from referralnet.errors import NotPermitted


def role_required(*roles: Role):
    """Allow the view only to logged-in users holding one of `roles` (others get 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                raise NotPermitted("You do not have access to this page.")
            return view(*args, **kwargs)

        return wrapped

    return decorator
