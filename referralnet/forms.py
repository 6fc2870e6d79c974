"""Form pieces shared by several packages' forms (so that none imports another feature's forms)."""
from __future__ import annotations

from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

# The languages offered wherever one is chosen (a client's preferred language, a search filter).
LANGUAGES = [("", "Any language"), ("en", "English"), ("es", "Spanish"), ("zh", "Chinese"), ("tl", "Tagalog"),
             ("vi", "Vietnamese"), ("ru", "Russian"), ("ar", "Arabic"), ("ko", "Korean"), ("to", "Tongan"),
             ("sm", "Samoan"), ("fa", "Farsi"), ("hi", "Hindi"), ("pt", "Portuguese"), ("fr", "French")]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
