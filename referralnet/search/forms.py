"""The coordinator's search form (GET, so no CSRF token: it changes nothing)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import NumberRange, Optional

from referralnet.directory.hours import DAY_NAMES
from referralnet.directory.sdoh import sdoh_terms
from referralnet.forms import LANGUAGES, MultiCheckboxField

RADII = ["", "1", "2", "5", "10", "25", "50"]


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("What does the person need?")
    near = StringField("Near (ZIP code, address or city)")
    radius = SelectField("Within", default="", choices=[SelectChoice(r, (f"{r} mile" if r == "1" else f"{r} miles") if r else "Any distance") for r in RADII])
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
