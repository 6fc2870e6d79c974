"""Imports every model module so that metadata (and Alembic) sees all tables."""
from referralnet.accounts import models as accounts_models  # noqa: F401
from referralnet.audit import models as audit_models  # noqa: F401
from referralnet.directory import models as directory_models  # noqa: F401
from referralnet.referrals import models as referrals_models  # noqa: F401
from referralnet.notifications import models as notifications_models  # noqa: F401
from referralnet.api import models as api_models  # noqa: F401
from referralnet.portal import models as portal_models  # noqa: F401
from referralnet.reports import models as reports_models  # noqa: F401
from referralnet.search import models as search_models  # noqa: F401
