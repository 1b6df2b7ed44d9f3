"""Direct conversations: a private room of two to eight people, with no name (each person
calls it by the others' names). The same people always find the same conversation: its
key is made of who is in it, so two of them starting it at once still make one."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from chat.models import PRIVATE_KEY_PREFIX, Membership, Room, User, name_key
from chat.services.log import NotFound, Refused
from chat.services.memberships import membership_join

DIRECT_KEY_PREFIX = PRIVATE_KEY_PREFIX + "direct:"


def direct_key(person_ids: set[int]) -> str:
    return DIRECT_KEY_PREFIX + ",".join(str(pk) for pk in sorted(person_ids))


def direct_open(*, person: User, names: list[str]) -> Room:
    """The direct conversation of the person with the people named (made if it does not
    exist; everyone in it sees it in their room list at once). Raises NotFound for a name
    nobody has, Refused for no one else or too many."""
    wanted = {name_key(name.strip()): name.strip() for name in names if name.strip()}
    wanted.pop(person.username, None)
    if not wanted:
        raise Refused("Name at least one other person.")
    most = settings.CHAT_DIRECT_MAX_PEOPLE
    if len(wanted) + 1 > most:
        raise Refused(f"A direct conversation has at most {most} people, you included.")
    others = list(User.objects.filter(username__in=wanted, is_active=True))
    unknown = set(wanted) - {other.username for other in others}
    if unknown:
        listed = ", ".join(sorted(wanted[key] for key in unknown))
        raise NotFound(f"Nobody here is called {listed}.")
    people = [person, *others]
    key = direct_key({p.pk for p in people})
    room = Room.objects.filter(key=key).first()
    if room is None:
        try:
            with transaction.atomic():
                room = Room(name="", private=True, direct=True, key=key)
                room.save()
        except IntegrityError:  # one of them started it a moment ago
            room = Room.objects.get(key=key)
    with transaction.atomic():  # everyone is in it before anyone's tabs are told
        for someone in people:
            role = Membership.OWNER if someone.pk == person.pk else None
            membership_join(room=room, person=someone, role=role)
    return room
