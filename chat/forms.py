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


class JoinForm(forms.Form):
    name = name_field()
    room = forms.CharField(
        label="Room",
        max_length=ROOM_NAME_MAX_CHARS,
        validators=[no_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
