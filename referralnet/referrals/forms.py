"""Forms of the referral pages (CSRF-protected through Flask-WTF).

Forms check the shape of the input (required, choices, lengths); the rules about what
the values mean (valid date of birth, a phone number for SMS, consent before sending)
live in `referrals.services`, whose ValidationFailed errors are shown on these fields.
"""
from __future__ import annotations

from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, IntegerField, RadioField, SelectField, StringField, SubmitField,
                     TextAreaField)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from referralnet.accounts.models import Role
from referralnet.directory.sdoh import sdoh_terms
from referralnet.referrals.models import CONSENT_METHODS, PRIORITIES
from referralnet.referrals.states import OUTCOME_LABELS, REASON_LABELS, REASONS, Status, outcomes_for
from referralnet.referrals.worklists import Filters
from referralnet.forms import LANGUAGES, MultiCheckboxField

CLIENT_LANGUAGES = [choice for choice in LANGUAGES if choice[0]]
CONTACT_LABELS = {"sms": _l("Text message (SMS)"), "email": _l("Email"), "phone": _l("Phone call"),
                  "do-not-contact": _l("Do not contact")}
PRIORITY_LABELS = {"routine": _l("Routine"), "urgent": _l("Urgent"), "asap": _l("As soon as possible"),
                   "stat": _l("Immediately")}
CONSENT_LABELS = {"verbal": _l("Verbally"), "written": _l("In writing (signed form)"),
                  "electronic": _l("Electronically")}
VERIFIED_OUTCOME_LABELS = {**OUTCOME_LABELS, "could-not-reach": _l("Could not reach the client")}


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def language_label(code: str) -> str:
    return dict(CLIENT_LANGUAGES).get(code, code)


class ClientForm(FlaskForm):
    given_name = StringField(_l("Given name"), validators=[DataRequired(_l("Enter the client's given name.")),
                                                           Length(max=100)])
    family_name = StringField(_l("Family name"), validators=[DataRequired(_l("Enter the client's family name.")),
                                                             Length(max=100)])
    date_of_birth = StringField(_l("Date of birth"),
                                validators=[DataRequired(_l("Enter the client's date of birth."))])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    preferred_language = SelectField(_l("Preferred language"), default="en",
                                     choices=[SelectChoice(v, label) for v, label in CLIENT_LANGUAGES])
    contact_preference = SelectField(_l("How to contact them"), default="",
                                     choices=[SelectChoice("", _l("Choose from what they gave"))]
                                     + _choices(CONTACT_LABELS), validators=[Optional()])
    zip_code = StringField(_l("ZIP code"), validators=[Optional(), Length(max=10)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    create_anyway = BooleanField(_l("This is a different person: create a new record"))
    submit = SubmitField(_l("Save client"))

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "given_name", "family_name", "date_of_birth", "phone", "email", "preferred_language",
            "contact_preference", "zip_code", "address")}


class SendForm(FlaskForm):
    """Send one referral per chosen service, recording consent for agencies that lack it."""

    service_ids = MultiCheckboxField(_l("Services"), choices=[])
    category = SelectField(_l("Need"), choices=[])
    priority = SelectField(_l("Priority"), default="routine", choices=_choices(PRIORITY_LABELS))
    note_to_partner = TextAreaField(_l("Note to the agency"), validators=[Optional(), Length(max=4000)])
    client_availability = TextAreaField(_l("When the client can be reached or go"),
                                        validators=[Optional(), Length(max=1000)])
    consent_method = SelectField(_l("How the client gave consent"), default="verbal",
                                 choices=_choices(CONSENT_LABELS))
    consent_org_ids = MultiCheckboxField(_l("Consent to share"), choices=[])
    previous = HiddenField()
    submit = SubmitField(_l("Send referrals"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice("", _("Choose the need"))] + \
            [SelectChoice(code, term["name"]) for code, term in sdoh_terms().items()]


class TransitionForm(FlaskForm):
    version = IntegerField(validators=[Optional()])
    reason = SelectField(_l("Reason"), default="", validators=[Optional()],
                         choices=[SelectChoice("", _l("Choose a reason"))] + _choices(REASON_LABELS))
    reason_text = TextAreaField(_l("Details"), validators=[Optional(), Length(max=4000)])
    outcome = SelectField(_l("Outcome"), default="", validators=[Optional()],
                          choices=[SelectChoice("", _l("Choose the outcome"))] + _choices(OUTCOME_LABELS))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])
    submit = SubmitField(_l("Save"))

    def for_status(self, status: Status, reasons: tuple[str, ...] | None = None,
                   outcomes: tuple[str, ...] | None = None) -> "TransitionForm":
        """Narrow the reason and outcome choices to the ones this move allows: `reasons` and `outcomes`
        as states.offered_moves gives them for the actor, or every one the status takes."""
        allowed = REASONS.get(status, ()) if reasons is None else reasons
        self.reason.choices = [SelectChoice("", _("Choose a reason"))] + \
            [SelectChoice(code, REASON_LABELS[code]) for code in allowed]
        fitting = outcomes_for(status) if outcomes is None else outcomes
        self.outcome.choices = [SelectChoice("", _("Choose the outcome"))] + \
            [SelectChoice(code, OUTCOME_LABELS[code]) for code in fitting]
        return self


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[DataRequired(_l("Write a message first.")), Length(max=4000)])
    submit = SubmitField(_l("Send message"))


class CloseLoopForm(FlaskForm):
    verified_outcome = RadioField(_l("What happened, as you verified it"),
                                  choices=_choices(VERIFIED_OUTCOME_LABELS),
                                  validators=[DataRequired(_l("Choose the outcome you verified."))])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])
    submit = SubmitField(_l("Close the loop"))


# What the patient says from their status page, in their words (the page's buttons; the staff timeline
# quotes them: "Patient: I have not heard back").
PATIENT_REPORT_LABELS = {
    "contacted": _l("The agency contacted me"),
    "got-help": _l("I got help"),
    "not-heard-back": _l("I have not heard back"),
    "no-longer-needed": _l("I no longer need this"),
}
CLIENT_REPORT_LABELS = {"contacted": _l("The agency contacted them"), "got-help": _l("They got help"),
                        "not-heard-back": _l("They have not heard back"),
                        "no-longer-needed": _l("They no longer need this")}


class ClientReportForm(FlaskForm):
    """The coordinator records what the client told them (a referral outside the network)."""

    report = SelectField(_l("What the client told you"), default="", validators=[DataRequired(_l("Choose one."))],
                         choices=[SelectChoice("", _l("Choose one"))] + _choices(CLIENT_REPORT_LABELS))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])


class AgencyLinkForm(FlaskForm):
    """Send the agency a new secure link, to the same or another address."""

    agency_email = StringField(_l("Agency's email"), validators=[Optional(), Length(max=254)])


class ConsentForm(FlaskForm):
    """Withdraw a consent (its id is in the URL)."""

    submit = SubmitField(_l("Withdraw consent"))


class ListFilterForm(FlaskForm):
    """The worklist's and inbox's filters (GET)."""

    class Meta:
        csrf = False

    category = SelectField(_l("Need"), default="", validators=[Optional()], choices=[])
    priority = SelectField(_l("Priority"), default="", validators=[Optional()],
                           choices=[SelectChoice("", _l("Any priority"))] + _choices(PRIORITY_LABELS))
    mine = BooleanField(_l("Only referrals I sent"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice("", _("Any need"))] + \
            [SelectChoice(code, term["name"]) for code, term in sdoh_terms().items()]

    def filters(self, user) -> Filters:
        """The filters asked for; a choice that is not on the list filters nothing. "Mine" is for coordinators."""
        valid = self.validate()
        return Filters(category=self.category.data if valid and self.category.data in sdoh_terms() else None,
                       priority=self.priority.data or None if valid else None,
                       mine=bool(self.mine.data) and user.role == Role.COORDINATOR.value)


__all__ = ["ClientForm", "SendForm", "ClientReportForm", "AgencyLinkForm", "CLIENT_REPORT_LABELS", "TransitionForm",
           "MessageForm", "CloseLoopForm", "ConsentForm",
           "ListFilterForm", "CONSENT_METHODS", "PRIORITIES", "CONTACT_LABELS", "PRIORITY_LABELS",
           "CONSENT_LABELS", "VERIFIED_OUTCOME_LABELS", "language_label", "PATIENT_REPORT_LABELS"]
