"""Forms of the referral pages (CSRF-protected through Flask-WTF).

Forms check the shape of the input (required, choices, lengths); the rules about what
the values mean (valid date of birth, a phone number for SMS, consent before sending)
live in `referrals.services`, whose ValidationFailed errors are shown on these fields.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, IntegerField, RadioField, SelectField, StringField, SubmitField,
                     TextAreaField)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from referralnet.directory.sdoh import sdoh_terms
from referralnet.referrals.models import CONSENT_METHODS, PRIORITIES
from referralnet.referrals.states import OUTCOME_LABELS, REASON_LABELS, REASONS, Status
from referralnet.search.forms import LANGUAGES, MultiCheckboxField

CLIENT_LANGUAGES = [choice for choice in LANGUAGES if choice[0]]
CONTACT_LABELS = {"sms": "Text message (SMS)", "email": "Email", "phone": "Phone call",
                  "do-not-contact": "Do not contact"}
PRIORITY_LABELS = {"routine": "Routine", "urgent": "Urgent", "asap": "As soon as possible", "stat": "Immediately"}
CONSENT_LABELS = {"verbal": "Verbally", "written": "In writing (signed form)", "electronic": "Electronically"}
VERIFIED_OUTCOME_LABELS = {**OUTCOME_LABELS, "could-not-reach": "Could not reach the client"}


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def language_label(code: str) -> str:
    return dict(CLIENT_LANGUAGES).get(code, code)


class ClientForm(FlaskForm):
    given_name = StringField("Given name", validators=[DataRequired("Enter the client's given name."),
                                                       Length(max=100)])
    family_name = StringField("Family name", validators=[DataRequired("Enter the client's family name."),
                                                         Length(max=100)])
    date_of_birth = StringField("Date of birth", validators=[DataRequired("Enter the client's date of birth.")])
    phone = StringField("Phone", validators=[Optional(), Length(max=32)])
    email = StringField("Email", validators=[Optional(), Length(max=254)])
    preferred_language = SelectField("Preferred language", default="en",
                                     choices=[SelectChoice(v, label) for v, label in CLIENT_LANGUAGES])
    contact_preference = SelectField("How to contact them", default="",
                                     choices=[SelectChoice("", "Choose from what they gave")]
                                     + _choices(CONTACT_LABELS), validators=[Optional()])
    zip_code = StringField("ZIP code", validators=[Optional(), Length(max=10)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=500)])
    create_anyway = BooleanField("This is a different person: create a new record")
    submit = SubmitField("Save client")

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "given_name", "family_name", "date_of_birth", "phone", "email", "preferred_language",
            "contact_preference", "zip_code", "address")}


class SendForm(FlaskForm):
    """Send one referral per chosen service, recording consent for agencies that lack it."""

    service_ids = MultiCheckboxField("Services", choices=[])
    category = SelectField("Need", choices=[])
    priority = SelectField("Priority", default="routine", choices=_choices(PRIORITY_LABELS))
    note_to_partner = TextAreaField("Note to the agency", validators=[Optional(), Length(max=4000)])
    client_availability = TextAreaField("When the client can be reached or go",
                                        validators=[Optional(), Length(max=1000)])
    consent_method = SelectField("How the client gave consent", default="verbal",
                                 choices=_choices(CONSENT_LABELS))
    consent_org_ids = MultiCheckboxField("Consent to share", choices=[])
    previous = HiddenField()
    submit = SubmitField("Send referrals")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice("", "Choose the need")] + \
            [SelectChoice(code, term["name"]) for code, term in sdoh_terms().items()]


class TransitionForm(FlaskForm):
    version = IntegerField(validators=[Optional()])
    reason = SelectField("Reason", default="", validators=[Optional()],
                         choices=[SelectChoice("", "Choose a reason")] + _choices(REASON_LABELS))
    reason_text = TextAreaField("Details", validators=[Optional(), Length(max=4000)])
    outcome = SelectField("Outcome", default="", validators=[Optional()],
                          choices=[SelectChoice("", "Choose the outcome")] + _choices(OUTCOME_LABELS))
    note = TextAreaField("Note", validators=[Optional(), Length(max=4000)])
    submit = SubmitField("Save")

    def for_status(self, status: Status) -> "TransitionForm":
        """Narrow the reason choices to the ones this status allows."""
        allowed = REASONS.get(status, ())
        self.reason.choices = [SelectChoice("", "Choose a reason")] + \
            [SelectChoice(code, REASON_LABELS[code]) for code in allowed]
        return self


class MessageForm(FlaskForm):
    body = TextAreaField("Message", validators=[DataRequired("Write a message first."), Length(max=4000)])
    submit = SubmitField("Send message")


class CloseLoopForm(FlaskForm):
    verified_outcome = RadioField("What happened, as you verified it", choices=_choices(VERIFIED_OUTCOME_LABELS),
                                  validators=[DataRequired("Choose the outcome you verified.")])
    note = TextAreaField("Note", validators=[Optional(), Length(max=4000)])
    submit = SubmitField("Close the loop")


class ConsentForm(FlaskForm):
    """Withdraw a consent (its id is in the URL)."""

    submit = SubmitField("Withdraw consent")


class ListFilterForm(FlaskForm):
    """The worklist's and inbox's filters (GET)."""

    class Meta:
        csrf = False

    category = SelectField("Need", default="", validators=[Optional()], choices=[])
    priority = SelectField("Priority", default="", validators=[Optional()],
                           choices=[SelectChoice("", "Any priority")] + _choices(PRIORITY_LABELS))
    mine = BooleanField("Only referrals I sent")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice("", "Any need")] + \
            [SelectChoice(code, term["name"]) for code, term in sdoh_terms().items()]


__all__ = ["ClientForm", "SendForm", "TransitionForm", "MessageForm", "CloseLoopForm", "ConsentForm",
           "ListFilterForm", "CONSENT_METHODS", "PRIORITIES", "CONTACT_LABELS", "PRIORITY_LABELS",
           "CONSENT_LABELS", "VERIFIED_OUTCOME_LABELS", "language_label"]
