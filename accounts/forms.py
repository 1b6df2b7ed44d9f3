"""Sign-up, log-in (with failed attempts limited) and the account page's forms."""

from __future__ import annotations

import math

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from chat import ratelimit
from chat.forms import name_field
from chat.models import User, name_key


def _address(request) -> str:
    return (request.META.get("REMOTE_ADDR") if request else None) or "unknown"


def _minutes(wait_ms: int) -> str:
    minutes = max(1, math.ceil(wait_ms / 60_000))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class EmailField(forms.EmailField):
    def __init__(self) -> None:
        super().__init__(
            label="Email (optional)",
            required=False,
            help_text="Only for resetting your password.",
            widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        )


class SignUpForm(forms.Form):
    name = name_field()
    email = EmailField()
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = self.cleaned_data
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first and "name" in cleaned:
            # Checked against the account it will be (a password like the name is refused).
            person = User(username=name_key(cleaned["name"]), display_name=cleaned["name"])
            person.email = cleaned.get("email", "")
            try:
                password_validation.validate_password(first, person)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class LoginForm(AuthenticationForm):
    """Django's log-in form, by name in any case, with attempts limited per account and
    per address: past the limit, the answer says how long to wait and the password is not
    even checked, so guessing gains nothing. Each attempt is counted before its password
    is checked, so guesses sent in parallel cannot slip past the count."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That name and password do not match an account.",
        "throttled": "Too many log-in attempts. Please try again in %(wait)s.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Name"
        self.wait_ms: int | None = None

    def clean(self):
        name = self.cleaned_data.get("username")
        if name is None:
            return super().clean()
        self.wait_ms = ratelimit.limits().refused(
            (ratelimit.login_per_account(), name_key(name)),
            (ratelimit.login_per_address(), _address(self.request)),
        )
        if self.wait_ms is not None:
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"wait": _minutes(self.wait_ms)},
            )
        return super().clean()


class AccountForm(forms.Form):
    name = name_field(autofocus=False)
    email = EmailField()
