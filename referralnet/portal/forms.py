"""Forms of the partner listing pages (CSRF-protected through Flask-WTF).

As in `directory.forms`, the forms only turn text into values; every rule lives
in `portal.listings`, whose error keys are these fields' names.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional
from wtforms.widgets import NumberInput

from referralnet.directory.forms import WholeNumberField
from referralnet.directory.hours import DAY_NAMES, DAYS
from referralnet.directory.models import ServiceCapacity

BLANK_HOURS_ROWS = 4


class AcceptingForm(FlaskForm):
    """The per-service switch: `accepting` is "yes" or "no" (the state asked for, not a toggle, so a
    double submit or a stale page cannot flip it back)."""

    accepting = HiddenField(validators=[AnyOf(["yes", "no"], message="Choose to accept referrals or not.")])


class VerifyForm(FlaskForm):
    """"This listing is current": nothing but the CSRF token; the service is in the URL."""


class CapacityForm(FlaskForm):
    available = WholeNumberField("Available now", validators=[Optional()], widget=NumberInput(min=0),
                                 parse_message="Enter the number available as a whole number, like 12.")
    maximum = WholeNumberField("Maximum", validators=[Optional()], widget=NumberInput(min=0),
                               parse_message="Enter the maximum as a whole number, like 20.")
    unit = StringField("Unit")
    description = TextAreaField("Description")

    FIELDS = ("available", "maximum", "unit", "description")

    @classmethod
    def build(cls, capacity: ServiceCapacity | None) -> "CapacityForm":
        """The form for the service's current capacity (HSDS stores numbers; these are whole ones)."""
        if capacity is None:
            return cls()

        def whole(number):
            return int(number) if number is not None and float(number).is_integer() else number

        return cls(available=whole(capacity.available), maximum=whole(capacity.maximum), unit=capacity.unit,
                   description=capacity.description)

    def values(self) -> dict:
        """Keyword arguments for update_capacity."""
        return {name: self[name].data for name in self.FIELDS}


_CLOCK = {"inputmode": "numeric", "pattern": "([01]?[0-9]|2[0-4]):[0-5][0-9]", "placeholder": "HH:MM",
          "maxlength": "5", "size": "5", "autocomplete": "off"}


class HoursRowForm(Form):
    """One time range. A plain Form: the CSRF token belongs to the enclosing HoursForm."""

    # validate_choice=False: an unknown day is the service's check, with a message next to the row.
    day = SelectField("Day", validate_choice=False,
                      choices=[SelectChoice("", "Choose a day")]
                      + [SelectChoice(code, name) for code, name in zip(DAYS, DAY_NAMES)])
    # Text, not type="time": browsers show that on the user's 12-hour clock, and the page promises a 24-hour one.
    opens = StringField("Opens", render_kw=_CLOCK)
    closes = StringField("Closes", render_kw=_CLOCK)


class HoursForm(FlaskForm):
    rows = FieldList(FormField(HoursRowForm))

    @classmethod
    def build(cls, rows: list[dict[str, str]] | None = None) -> "HoursForm":
        """On GET: the current rows plus a few blank ones to add ranges; on POST: the submitted rows."""
        form = cls()
        if not form.is_submitted():
            form = cls(rows=list(rows or []) + [{}] * BLANK_HOURS_ROWS)
        return form

    def add_row(self, limit: int) -> bool:
        """One more blank row ("Add another row"), up to `limit` rows; False when there are that many already."""
        if len(self.rows.entries) >= limit:
            return False
        self.rows.append_entry({})
        return True

    def values(self) -> list[dict[str, str | None]]:
        """The `rows` argument of set_weekly_hours, in the order shown."""
        return [dict(entry.form.data) for entry in self.rows.entries]


class JoinForm(FlaskForm):
    """An agency outside the network asks to join it (from its secure-link page)."""

    contact_name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter your name.")), Length(max=200)])
    contact_email = StringField(_l("Your work email"), validators=[DataRequired(_l("Enter your work email address.")),
                                                                    Length(max=254)])
    message = TextAreaField(_l("Anything the network should know (optional)"),
                            validators=[Optional(), Length(max=4000)])
    submit = SubmitField(_l("Ask to join the network"))


class DecideJoinForm(FlaskForm):
    """A network admin approves a request to join (the first user's name and email may be corrected)."""

    organization_name = StringField(_l("Member organization name"), validators=[Optional(), Length(max=200)])
    user_name = StringField(_l("First user's name"), validators=[Optional(), Length(max=200)])
    user_email = StringField(_l("First user's email"), validators=[Optional(), Length(max=254)])
