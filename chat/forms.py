import unicodedata

from django import forms
from django.core.exceptions import ValidationError

from chat.models import NAME_MAX_CHARS, ROOM_NAME_MAX_CHARS


def no_control_characters(value: str) -> None:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValidationError("Use letters, numbers, spaces or symbols; no control characters.")


def name_field(*, autofocus: bool = True) -> forms.CharField:
    """A person's name, as the front page, sign-up and the account page take it."""
    attrs: dict[str, str | bool] = {"autocomplete": "nickname"}
    if autofocus:
        attrs["autofocus"] = True
    return forms.CharField(
        label="Name",
        max_length=NAME_MAX_CHARS,
        validators=[no_control_characters],
        widget=forms.TextInput(attrs=attrs),
    )


def room_name_field(*, label: str = "Room") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=ROOM_NAME_MAX_CHARS,
        validators=[no_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class JoinForm(forms.Form):
    name = name_field()
    room = room_name_field()


class GuestNameForm(forms.Form):
    """An invitation taken by someone with no name yet: a guest's name is enough."""

    name = name_field()


class RenameForm(forms.Form):
    name = room_name_field(label="Name")


class DirectForm(forms.Form):
    people = forms.CharField(
        label="With",
        max_length=(NAME_MAX_CHARS + 2) * 8,
        validators=[no_control_characters],
        help_text="Names, separated by commas: up to seven people.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "Ana, Bo"}),
    )

    def names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["people"].split(",") if name.strip()]
