"""Admin forms for directory organizations, services and locations (CSRF-protected through Flask-WTF).

The forms only turn text into typed values. Every rule (what is required,
what a valid email, web address, age range, coordinate pair or ZIP code is)
lives in `directory.services`, so the API and the browser get the same checks
and all of a record's problems are reported in one pass. Field names are the
service functions' parameter names, so a service's errors land on their field.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, FloatField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields import EmailField, SelectChoice, URLField
from wtforms.validators import Optional
from wtforms.widgets import NumberInput

from referralnet.directory import services
from referralnet.directory.models import LOCATION_TYPES, SERVICE_STATUSES, Location, Organization, Service


class _PlainParseMessage:
    """Replace WTForms' parse error ("Not a valid float value.") with a sentence meant for people."""

    def __init__(self, *args, parse_message: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.parse_message = parse_message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(self.parse_message) from None


class WholeNumberField(_PlainParseMessage, IntegerField):
    pass


class DecimalNumberField(_PlainParseMessage, FloatField):
    widget = NumberInput(step="any")


class IsoDateField(_PlainParseMessage, DateField):
    pass


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _optional_select(label: str, **kwargs) -> SelectField:
    # validate_choice=False: whether the chosen record exists is the service's check, with a clearer message.
    return SelectField(label, validate_choice=False, **kwargs)


def _multi_select(label: str) -> SelectMultipleField:
    return SelectMultipleField(label, validate_choice=False, render_kw={"size": 8})


class OrganizationListingForm(FlaskForm):
    name = StringField("Name")
    alternate_name = StringField("Alternate name")
    description = TextAreaField("Description")
    email = EmailField("Email")
    website = URLField("Website")
    tax_id = StringField("Tax ID")
    legal_status = StringField("Legal status")
    year_incorporated = WholeNumberField("Year incorporated", validators=[Optional()],
                                         parse_message="Enter the year as a number, like 1987.",
                                         widget=NumberInput(min=services.FIRST_INCORPORATION_YEAR))

    FIELDS = ("name", "alternate_name", "description", "email", "website", "tax_id", "legal_status",
              "year_incorporated")

    @classmethod
    def build(cls, org: Organization | None = None) -> "OrganizationListingForm":
        return cls(obj=org)

    def values(self) -> dict:
        """Keyword arguments for create/update_organization_listing."""
        return {name: self[name].data for name in self.FIELDS}


class ServiceForm(FlaskForm):
    organization_id = _optional_select("Organization")
    name = StringField("Name")
    alternate_name = StringField("Alternate name")
    description = TextAreaField("Description")
    status = _optional_select("Status", choices=_choices((s, s.capitalize()) for s in SERVICE_STATUSES),
                              default="active")
    eligibility_description = TextAreaField("Eligibility")
    application_process = TextAreaField("How to apply")
    fees_description = TextAreaField("Fees")
    minimum_age = WholeNumberField("Minimum age", validators=[Optional()], widget=NumberInput(min=0),
                                   parse_message="Enter the minimum age as a whole number, like 18.")
    maximum_age = WholeNumberField("Maximum age", validators=[Optional()], widget=NumberInput(min=0),
                                   parse_message="Enter the maximum age as a whole number, like 64.")
    assured_date = IsoDateField("Last verified", validators=[Optional()],
                                parse_message="Enter the date as YYYY-MM-DD, like 2024-05-31.")
    url = URLField("Web page")
    email = EmailField("Email")
    alert = TextAreaField("Alert")
    location_ids = _multi_select("Locations where offered")
    sdoh_term_ids = _multi_select("SDOH domains")

    FIELDS = ("organization_id", "name", "alternate_name", "description", "status", "eligibility_description",
              "application_process", "fees_description", "url", "email", "minimum_age", "maximum_age",
              "assured_date", "alert", "location_ids", "sdoh_term_ids")

    @classmethod
    def build(cls, service: Service | None = None, *, organization_id: str | None = None) -> "ServiceForm":
        """The form for a new service (optionally for one organization) or for editing `service`."""
        if service is None:
            form = cls(organization_id=organization_id)
            current_locations: list[str] = []
        else:
            current_locations = services.get_service_location_ids(service)
            form = cls(obj=service, location_ids=current_locations,
                       sdoh_term_ids=services.get_service_sdoh_term_ids(service))
        form.organization_id.choices = _choices([("", "Choose an organization")] + services.list_organization_choices())
        # The locations offered follow the organization chosen (in the submitted form, when there is one).
        form.location_ids.choices = [
            SelectChoice(value, label, optgroup=group)
            for value, label, group in services.list_location_choices(form.organization_id.data or None,
                                                                      keep=current_locations)]
        form.sdoh_term_ids.choices = _choices((t.id, t.name) for t in services.list_sdoh_domain_terms())
        return form

    def values(self) -> dict:
        """Keyword arguments for create_service / update_service."""
        return {name: self[name].data for name in self.FIELDS}


class LocationForm(FlaskForm):
    organization_id = _optional_select("Organization")
    name = StringField("Name")
    description = TextAreaField("Description")
    location_type = _optional_select("Location type", choices=_choices((t, t.capitalize()) for t in LOCATION_TYPES),
                                     default="physical")
    latitude = DecimalNumberField("Latitude", validators=[Optional()],
                                  parse_message="Enter the latitude as a number, like 37.5630.")
    longitude = DecimalNumberField("Longitude", validators=[Optional()],
                                   parse_message="Enter the longitude as a number, like -122.3255.")
    transportation = TextAreaField("Getting there")
    address_1 = StringField("Street address")
    address_2 = StringField("Address line 2")
    city = StringField("City")
    state_province = StringField("State")
    postal_code = StringField("ZIP code")
    country = StringField("Country", default="US")

    FIELDS = ("organization_id", "name", "description", "location_type", "latitude", "longitude", "transportation")

    @classmethod
    def build(cls, location: Location | None = None, *, organization_id: str | None = None) -> "LocationForm":
        """The form for a new location (optionally of one organization) or for editing `location`."""
        if location is None:
            form = cls(organization_id=organization_id)
        else:
            address = services.physical_address(location)
            parts = {name: getattr(address, name) for name in services.ADDRESS_FIELDS} if address else {}
            form = cls(obj=location, **parts)
        form.organization_id.choices = _choices([("", "No organization")] + services.list_organization_choices())
        return form

    def values(self) -> dict:
        """Keyword arguments for create_location / update_location (the address as one mapping)."""
        values = {name: self[name].data for name in self.FIELDS}
        values["address"] = {name: self[name].data for name in services.ADDRESS_FIELDS}
        return values
