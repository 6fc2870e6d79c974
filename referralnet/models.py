"""Imports every model module so that metadata (and Alembic) sees all tables; and what Alembic's
autogenerate compares (`include_object`)."""
from referralnet.accounts import models as accounts_models  # noqa: F401
from referralnet.audit import models as audit_models  # noqa: F401
from referralnet.directory import models as directory_models  # noqa: F401
from referralnet.referrals import models as referrals_models  # noqa: F401
from referralnet.notifications import models as notifications_models  # noqa: F401
from referralnet.api import models as api_models  # noqa: F401
from referralnet.portal import models as portal_models  # noqa: F401
from referralnet.reports import models as reports_models  # noqa: F401
from referralnet.search import models as search_models  # noqa: F401


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object (migrations/env.py, and the schema test): autogenerate compares the models
    with the database, leaving out the postgres search backend's tables (not models: migration 0011) and
    the indexes the models make only on another database (`Index(...).ddl_if(dialect=...)`)."""
    from referralnet.extensions import db
    from referralnet.search.pg_backend import TABLES as SEARCH_TABLES

    table = obj if type_ == "table" else getattr(obj, "table", None)
    if getattr(table, "name", name if type_ == "table" else None) in SEARCH_TABLES:
        return False
    only_on = getattr(getattr(obj, "_ddl_if", None), "dialect", None) if type_ == "index" else None
    return only_on is None or only_on == db.engine.dialect.name
