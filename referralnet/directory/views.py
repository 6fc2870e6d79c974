"""Admin pages for the directory (placeholder list; full CRUD follows)."""
from flask import Blueprint, render_template

from referralnet.accounts.models import Role
from referralnet.accounts.permissions import role_required

bp = Blueprint("directory", __name__, url_prefix="/admin/directory")


@bp.get("/organizations")
@role_required(Role.ADMIN)
def organizations():
    return render_template("error.html", status=200, message="todo", errors={})


@bp.get("/organizations/<org_id>")
@role_required(Role.ADMIN)
def organization(org_id):
    return render_template("error.html", status=200, message="todo", errors={})
