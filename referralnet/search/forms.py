"""The coordinator's search form (GET, so no CSRF token: it changes nothing)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from referralnet.directory.hours import DAY_NAMES
from referralnet.directory.sdoh import sdoh_terms

RADII = ["", "1", "2", "5", "10", "25", "50"]
LANGUAGES = [("", "Any language"), ("en", "English"), ("es", "Spanish"), ("zh", "Chinese"), ("tl", "Tagalog"),
             ("vi", "Vietnamese"), ("ru", "Russian"), ("ar", "Arabic"), ("ko", "Korean"), ("to", "Tongan"),
             ("sm", "Samoan"), ("fa", "Farsi"), ("hi", "Hindi"), ("pt", "Portuguese"), ("fr", "French")]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("What does the person need?")
    near = StringField("Near (ZIP code, address or city)")
    radius = SelectField("Within", default="", choices=[SelectChoice(r, f"{r} miles" if r else "Any distance") for r in RADII])
    domain = MultiCheckboxField("Type of need", choices=[])
    language = SelectField("Language spoken", default="", choices=[SelectChoice(v, label) for v, label in LANGUAGES])
    when = RadioField("When", default="any", choices=[SelectChoice("any", "Any time"), SelectChoice("now", "Open now"),
                                                      SelectChoice("at", "Open at a day and time")])
    day = SelectField("Day", default="0", choices=[SelectChoice(str(i), name) for i, name in enumerate(DAY_NAMES)])
    time = StringField("Time (HH:MM)")
    accepting = BooleanField("Accepting referrals now")
    free = BooleanField("Free of charge")
    age = IntegerField("Person's age", validators=[Optional(), NumberRange(0, 130, "Enter an age from 0 to 130.")])
    sort = SelectField("Sort by", default="relevance", choices=[SelectChoice("relevance", "Best match"),
                                           SelectChoice("distance", "Nearest first")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.domain.choices = [SelectChoice(code, term["name"]) for code, term in sdoh_terms().items()]
