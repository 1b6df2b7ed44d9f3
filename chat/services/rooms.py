"""Guests claiming a name."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from chat.models import User, name_key


class NameTaken(Exception):
    pass


def guest_claim(*, name: str, current_user: AbstractBaseUser | AnonymousUser) -> User:
    """The user who will be `name` in this browser: the current one, renamed if it is a
    guest, or a new guest. Raises NameTaken when someone else holds the name."""
    key = name_key(name)
    holder = User.objects.filter(username=key).first()
    if holder is not None:
        if holder.pk != current_user.pk:
            raise NameTaken(name)
        if holder.display_name != name:
            holder.display_name = name
            holder.save(update_fields=["display_name"])
        return holder
    if isinstance(current_user, User) and not current_user.has_usable_password():
        # A guest changing name keeps their account: their messages follow the new name.
        current_user.username = key
        current_user.display_name = name
        try:
            with transaction.atomic():
                current_user.save(update_fields=["username", "display_name"])
        except IntegrityError:
            raise NameTaken(name) from None
        return current_user
    guest = User(username=key, display_name=name)
    guest.set_unusable_password()
    try:
        with transaction.atomic():
            guest.save()
    except IntegrityError:
        raise NameTaken(name) from None
    return guest
