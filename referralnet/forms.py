"""Form pieces shared by several packages' forms (so that none imports another feature's forms)."""
from __future__ import annotations

from markupsafe import Markup, escape
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.widgets.core import clean_key, html_params

# The languages offered wherever one is chosen (a client's preferred language, a search filter).
LANGUAGES = [("", "Any language"), ("en", "English"), ("es", "Spanish"), ("zh", "Chinese"), ("tl", "Tagalog"),
             ("vi", "Vietnamese"), ("ru", "Russian"), ("ar", "Arabic"), ("ko", "Korean"), ("to", "Tongan"),
             ("sm", "Samoan"), ("fa", "Farsi"), ("hi", "Hindi"), ("pt", "Portuguese"), ("fr", "French")]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- rendering speed -------------------------------------------------------------------------------
# WTForms builds every attribute of every rendered field with Markup('{k}="{v}"').format(...), which goes
# through string.Formatter: ~100 us for a checkbox's five attributes, measured in a request. The search
# form's need checkboxes, its selects and the referral page's action forms render ~85 and ~16 of them
# (profile: html_params ~25% of the search page's rendering). This does the same with plain strings
# (~22 us): the same attributes, sorted and escaped the same way (tests/core/test_form_rendering.py
# compares the two on every kind of value).

def fast_html_params(**kwargs) -> Markup:
    """What wtforms.widgets.html_params returns, without string.Formatter."""
    params = []
    for key, value in sorted(kwargs.items()):
        key = clean_key(key)
        if value is True:
            params.append(str(escape(key)))
        elif value is not False:
            params.append(f'{escape(key)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))


WTFORMS_HTML_PARAMS = html_params  # WTForms' own, kept for the equivalence test


def install_fast_html_params() -> None:
    """Make WTForms' widgets and labels use fast_html_params (they look it up as a module global, or as
    the Input and Button widgets' class attribute)."""
    import wtforms.widgets
    import wtforms.widgets.core

    wtforms.widgets.core.html_params = wtforms.widgets.html_params = fast_html_params
    wtforms.widgets.core.Input.html_params = wtforms.widgets.core.Button.html_params = staticmethod(fast_html_params)
