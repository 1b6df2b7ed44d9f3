"""Who has a room open, across worker processes: each process keeps entries for the people
of its own sockets in a Redis sorted set per room, scored by when they expire, and renews
them while the sockets stay. A process that dies stops renewing, so its people drop out of
every other process's view within PRESENCE_TTL_SECONDS plus one renewal.

Without Redis (the in-memory layer, one process) a room's presence is just this process's
sockets, and no store is used.
"""

from __future__ import annotations

import asyncio
import time

import msgspec
from channels_redis.core import RedisChannelLayer

from chat import protocol
from chat.realtime.sockets import Person

PRESENCE_TTL_SECONDS = 20.0
PRESENCE_RENEW_SECONDS = 5.0

_member = msgspec.json.Encoder()
_read_member = msgspec.json.Decoder(tuple[str, int, str])


class SharedPresence:
    """A room's presence in Redis: members are (process, person id, name), scored by the
    time they expire."""

    def __init__(self, layer: RedisChannelLayer, origin: str) -> None:
        self.layer = layer
        self.origin = origin
        self._mine: dict[int, set[bytes]] = {}  # room -> the members this process wrote
        # One write per room at a time: a renewal must not land after a leave's removal.
        self._writing: dict[int, asyncio.Lock] = {}

    def _key(self, room_id: int) -> str:
        return f"{self.layer.prefix}:presence:{room_id}"

    async def put(self, room_id: int, people: list[Person]) -> None:
        """Make this process's entries for the room exactly `people`, renewed."""
        lock = self._writing.setdefault(room_id, asyncio.Lock())
        async with lock:
            await self._put(room_id, people)
        if not self._mine.get(room_id) and not lock.locked():
            self._writing.pop(room_id, None)

    async def _put(self, room_id: int, people: list[Person]) -> None:
        members = {_member.encode((self.origin, pid, name)) for pid, name in people}
        gone = self._mine.get(room_id, set()) - members
        now = time.time()
        redis = self.layer.connection(0)
        async with redis.pipeline(transaction=False) as pipe:
            if gone:
                pipe.zrem(self._key(room_id), *gone)
            if members:
                pipe.zadd(self._key(room_id), dict.fromkeys(members, now + PRESENCE_TTL_SECONDS))
            pipe.zremrangebyscore(self._key(room_id), "-inf", now)
            pipe.expire(self._key(room_id), int(PRESENCE_TTL_SECONDS * 3))
            await pipe.execute()
        if members:
            self._mine[room_id] = members
        else:
            self._mine.pop(room_id, None)

    def rooms(self) -> list[int]:
        """The rooms this process has entries in."""
        return list(self._mine)

    async def read(self, room_id: int) -> list[protocol.Sender]:
        redis = self.layer.connection(0)
        members = await redis.zrangebyscore(self._key(room_id), time.time(), "+inf")
        return people_once((pid, name) for _, pid, name in map(_read_member.decode, members))


def people_once(people) -> list[protocol.Sender]:
    """Each person once (a person may have tabs on several processes), ordered by name."""
    by_id = {pid: name for pid, name in people}
    return sorted(
        (protocol.Sender(id=pid, name=name) for pid, name in by_id.items()),
        key=lambda sender: (sender.name.casefold(), sender.id),
    )
