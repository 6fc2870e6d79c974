"""Small helpers shared by the HTML views of every package (core: imports no feature package)."""
from __future__ import annotations

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
