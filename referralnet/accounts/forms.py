"""Account forms (CSRF-protected through Flask-WTF)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from referralnet.accounts.models import OrgKind, Role
from referralnet.accounts.services import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")
    submit = SubmitField("Sign in")


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired("Enter the code."), Length(max=32)])
    submit = SubmitField("Verify")


class UserForm(FlaskForm):
    name = StringField("Full name", validators=[DataRequired("Enter the person's name."), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired("Enter an email address."),
                                            Email("Enter a valid email address.")])
    role = SelectField("Role", choices=[SelectChoice(r.value, r.label) for r in Role])
    organization_id = SelectField("Organization", coerce=int)
    password = PasswordField(
        "Initial password",
        validators=[DataRequired("Enter an initial password."),
                    Length(min=MIN_PASSWORD_LENGTH,
                           message=f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")],
    )
    submit = SubmitField("Create user")


class OrganizationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the organization's name."), Length(max=200)])
    kind = SelectField("Kind", choices=[SelectChoice(k.value, k.label) for k in OrgKind])
    directory_organization_id = SelectField("Directory listing (partner agencies)", validators=[Optional()])
    phone = StringField("Phone for patients", validators=[Optional(), Length(max=32)])
    submit = SubmitField("Create organization")


class ToggleForm(FlaskForm):
    """A bare CSRF-protected form for activate/deactivate buttons."""

    submit = SubmitField("Save")
