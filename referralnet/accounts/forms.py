"""Account forms (CSRF-protected through Flask-WTF)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from referralnet.accounts.models import OrgKind, Role


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")
    submit = SubmitField("Sign in")


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired("Enter the code."), Length(max=32)])
    submit = SubmitField("Verify")


class UserForm(FlaskForm):
    """A new user: they get an invitation link by email and choose their own password."""

    name = StringField("Full name", validators=[DataRequired("Enter the person's name."), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired("Enter an email address."),
                                            Email("Enter a valid email address.")])
    phone = StringField("Work phone", validators=[Optional(), Length(max=32)])
    role = SelectField("Role", choices=[SelectChoice(r.value, r.label) for r in Role])
    organization_id = SelectField("Organization", coerce=int)
    submit = SubmitField("Create user and send the invitation")


class EditUserForm(FlaskForm):
    """An admin corrects a user's name, role and organization (never their password)."""

    name = StringField("Full name", validators=[DataRequired("Enter the person's name."), Length(max=200)])
    role = SelectField("Role", choices=[SelectChoice(r.value, r.label) for r in Role])
    organization_id = SelectField("Organization", coerce=int)
    submit = SubmitField("Save changes")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    new_password = PasswordField("New password", validators=[DataRequired("Enter a new password.")])
    confirm_password = PasswordField("New password again", validators=[DataRequired("Enter the new password again.")])
    submit = SubmitField("Change password")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    submit = SubmitField("Email me a link")


class SetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired("Enter a new password.")])
    confirm_password = PasswordField("New password again", validators=[DataRequired("Enter the new password again.")])
    submit = SubmitField("Set password")


class OrganizationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the organization's name."), Length(max=200)])
    kind = SelectField("Kind", choices=[SelectChoice(k.value, k.label) for k in OrgKind])
    directory_organization_id = SelectField("Directory listing (partner agencies)", validators=[Optional()])
    phone = StringField("Phone for patients", validators=[Optional(), Length(max=32)])
    submit = SubmitField("Create organization")


class ToggleForm(FlaskForm):
    """A bare CSRF-protected form for activate/deactivate buttons."""

    submit = SubmitField("Save")
