"""The REST API under /api/v1 (token auth, OpenAPI 3 at /api/v1/openapi.json).

See `common.py` for what every endpoint shares (authentication, scopes, errors, paging,
rate limit) and README "REST API" for the operator's view.
"""
from __future__ import annotations

from flask import Flask

SPEC = {
    "API_TITLE": "ReferralNet REST API",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}


def init_app(app: Flask) -> None:
    """Register the /api/v1 blueprints (CSRF-exempt: bearer tokens, no cookies) and the OpenAPI document."""
    from referralnet.api.v1 import clients, directory, listings, referrals, reports
    from referralnet.api.v1.common import (SECURITY_SCHEME, ReferralNetApi, SchemaExtrasPlugin,
                                           register_error_responses)
    from referralnet.extensions import csrf

    for key, value in SPEC.items():
        app.config.setdefault(key, value)
    api = ReferralNetApi(app, spec_kwargs={"marshmallow_plugin": SchemaExtrasPlugin(), "info": {"description": (
        "Authenticate with `Authorization: Bearer <token>` (tokens are issued by network admins). "
        "Errors are `{code, status, message, errors}`; each operation lists the statuses it answers with. "
        "Lists are `{items, total, page, per_page, pages}`.")}})
    api.spec.components.security_scheme(SECURITY_SCHEME, {"type": "http", "scheme": "bearer"})
    register_error_responses(api)
    for module in (directory, clients, referrals, listings, reports):
        csrf.exempt(module.bp)
        api.register_blueprint(module.bp)
    app.extensions["referralnet-api-v1"] = api
