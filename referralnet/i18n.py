"""Languages: English and Spanish (Flask-Babel, catalogs in referralnet/translations).

Staff pages are in English (their strings are marked for translation, so adding a
staff language is a catalog, not a code change). Patient-facing pages and messages
use the patient's language: a view sets it with `use_locale(code)`; messages rendered
outside a request use `flask_babel.force_locale`.
"""
from __future__ import annotations

from flask import Flask, g, has_request_context
from flask_babel import get_translations
from jinja2 import pass_eval_context
from markupsafe import Markup

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


# --- the templates' gettext ----------------------------------------------------------------------------
# Flask-Babel's template callables look the request's translations up on every call (~17 µs: nine
# context-local lookups), and Jinja's i18n wrappers add two more generic calls around each: ~33 µs per
# `_()` of CPU, measured in a request. A search page makes ~200 of them, the referral page ~60. These
# keep the translations found once per request and locale and do what Jinja's "newstyle" gettext does.


def current_translations():
    """flask_babel.get_translations(), remembered for the rest of the request while the locale stays the
    same (use_locale() and flask_babel.force_locale() change it; either way it is looked up again)."""
    ctx = g.get("_flask_babel") if g else None
    locale = getattr(ctx, "babel_locale", None)
    if locale is None:
        return get_translations()  # the request's first: Flask-Babel selects the locale
    remembered = getattr(ctx, "referralnet_translations", None)
    if remembered is not None and remembered[0] is locale:
        return remembered[1]
    translations = get_translations()
    ctx.referralnet_translations = (locale, translations)
    return translations


@pass_eval_context
def template_gettext(eval_ctx, string: str, **variables) -> str:
    """`_()` / `gettext()` in templates, as Jinja's newstyle gettext: escaped with autoescape, always
    %-formatted (so "%%" is "%" in every message)."""
    translated = current_translations().ugettext(string)
    if eval_ctx.autoescape:
        translated = Markup(translated)
    return translated % variables


@pass_eval_context
def template_ngettext(eval_ctx, singular: str, plural: str, num: int, **variables) -> str:
    """`ngettext()` in templates, as Jinja's newstyle ngettext (`num` is a variable of the message too)."""
    variables.setdefault("num", num)
    translated = current_translations().ungettext(singular, plural, num)
    if eval_ctx.autoescape:
        translated = Markup(translated)
    return translated % variables


def install_template_gettext(app: Flask) -> None:
    """Replace the template callables Flask-Babel installed (call after babel.init_app)."""
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext, ngettext=template_ngettext)
