"""Languages: English and Spanish (Flask-Babel, catalogs in referralnet/translations).

Staff pages are in English (their strings are marked for translation, so adding a
staff language is a catalog, not a code change). Patient-facing pages and messages
use the patient's language: a view sets it with `use_locale(code)`; messages rendered
outside a request use `flask_babel.force_locale`.
"""
from __future__ import annotations

from flask import g, has_request_context

SUPPORTED_LOCALES = ("en", "es")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def best_locale(code: str | None) -> str:
    """The supported locale for a BCP 47 / ISO 639 code ('es-MX' -> 'es'); English otherwise."""
    primary = (code or "").split("-")[0].split("_")[0].lower()
    return primary if primary in SUPPORTED_LOCALES else "en"


def use_locale(code: str | None) -> str:
    """Render the rest of this request in `code` (falling back to English); returns the locale used."""
    locale = best_locale(code)
    g.locale = locale
    from flask_babel import refresh

    refresh()
    return locale


def select_locale() -> str:
    if has_request_context() and getattr(g, "locale", None):
        return g.locale
    return "en"
