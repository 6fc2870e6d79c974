"""Small helpers shared by the HTML views of every package (core: imports no feature package)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, request

from referralnet.errors import ValidationFailed

def page_arg() -> int:
    """The `page` query argument as a page number from 1 (anything else is page 1)."""
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def attach_errors(form, exc: ValidationFailed) -> None:
    """Show a service's field errors on the form's fields (or at the top when no field matches)."""
    for field_name, messages in (exc.errors or {}).items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
        else:
            flash(f"{field_name}: " + "; ".join(messages), "error")
    if not exc.errors:
        flash(exc.message, "error")




_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (names are typed by people)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def search_return_url(raw: str | None) -> str | None:
    """`raw` when it is a search page of this site (a path under /search with its query), else None:
    where "Back to search" and a "Refer" with nothing ticked go, never another site (an open redirect)."""
    if not raw or len(raw) > 2000 or "\\" in raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.path != "/search":
        return None
    return raw
