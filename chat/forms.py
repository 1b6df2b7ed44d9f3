import unicodedata

from django import forms
from django.core.exceptions import ValidationError

from chat.models import NAME_MAX_CHARS, ROOM_NAME_MAX_CHARS


def _no_control_characters(value: str) -> None:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValidationError("Use letters, numbers, spaces or symbols; no control characters.")


class JoinForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX_CHARS,
        validators=[_no_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "nickname", "autofocus": True}),
    )
    room = forms.CharField(
        label="Room",
        max_length=ROOM_NAME_MAX_CHARS,
        validators=[_no_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
