"""Accounts: signing up (a guest keeps their name and messages), changing one's name.

Guests are users without a usable password (chat.services.guest_claim makes them); an
account is the same user with a password, so signing up as a guest changes no message.
"""

from __future__ import annotations

from typing import TypeGuard

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from chat.models import User, name_key
from chat.services import NameTaken


def is_guest(user: AbstractBaseUser | AnonymousUser) -> TypeGuard[User]:
    return isinstance(user, User) and not user.has_usable_password()


def account_sign_up(
    *, name: str, password: str, email: str, current_user: AbstractBaseUser | AnonymousUser
) -> User:
    """A new account called `name`; for a guest, the guest themselves, given the name (it
    may be their own or a free one) and the password. Raises NameTaken when someone else
    holds the name."""
    key = name_key(name)
    holder = User.objects.filter(username=key).first()
    if holder is not None and holder.pk != current_user.pk:
        raise NameTaken(name)
    user = current_user if is_guest(current_user) else User()
    assert isinstance(user, User)
    user.username, user.display_name, user.email = key, name, email
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # taken a moment ago
        raise NameTaken(name) from None
    return user


def account_rename(*, user: User, name: str, email: str) -> User:
    """The account's display name (any case, kept as typed) and email. Raises NameTaken
    when someone else holds the name."""
    key = name_key(name)
    if User.objects.filter(username=key).exclude(pk=user.pk).exists():
        raise NameTaken(name)
    user.username, user.display_name, user.email = key, name, email
    try:
        with transaction.atomic():
            user.save(update_fields=["username", "display_name", "email"])
    except IntegrityError:
        raise NameTaken(name) from None
    return user
