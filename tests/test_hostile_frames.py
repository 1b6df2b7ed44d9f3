"""Generated hostile frames at the room socket (hypothesis): every one is answered with an
error frame or handled as the valid frame it is, nothing is logged as a failure, nothing
invalid is stored, and the next valid frame still works."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import runtime
from chat.models import Message
from tests.test_consumer import joined, message_frame

pytestmark = pytest.mark.django_db(transaction=True)

MAX_CHARS = 4000
MAX_BYTES = 64 * 1024

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
client_ids = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
    st.text(max_size=70),
    st.sampled_from(["abc\n", "", " ", "x" * 65, "a b", "ü", "a\x00"]),
    json_values,
)
texts = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=MAX_CHARS - 2, max_size=MAX_CHARS + 2),
    st.sampled_from([" ", "\x00", "\n\t ", "a" * MAX_CHARS, "€" * 22_000, "😀" * MAX_CHARS]),
    json_values,
)
frame_types = st.sampled_from(["message.send", "sync", "nope", "", "MESSAGE.SEND", "ack"])
seqs = st.one_of(
    st.integers(min_value=-5, max_value=10),
    st.integers(min_value=2**62, max_value=2**70),
    json_values,
)


@st.composite
def objects(draw) -> str:
    frame: dict = {}
    if draw(st.booleans()):
        frame["type"] = draw(frame_types | json_values)
    if draw(st.booleans()):
        frame["client_id"] = draw(client_ids)
    if draw(st.booleans()):
        frame["text"] = draw(texts)
    if draw(st.booleans()):
        frame["after_seq"] = draw(seqs)
    if draw(st.booleans()):
        frame.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    return json.dumps(frame, ensure_ascii=draw(st.booleans()))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


text_frames = st.one_of(
    objects(),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.integers(min_value=1, max_value=5000).map(nested),
    st.integers(min_value=MAX_BYTES - 40, max_value=MAX_BYTES + 40).map(
        lambda size: json.dumps(
            {"type": "message.send", "client_id": "big", "text": "x" * (size - 48)}
        )
    ),
)
hostile_frames = st.one_of(
    text_frames.map(lambda text: ("text", text)),
    st.binary(max_size=200).map(lambda data: ("bytes", data)),
)

CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def valid_post(kind: str, raw) -> tuple[str, str] | None:
    """The spec, written apart from the server's decoder: (client_id, stored text) if the
    frame is a message the server must store, else None."""
    if kind != "text" or len(raw.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(frame, dict) or set(frame) != {"type", "client_id", "text"}:
        return None
    client_id, text = frame["client_id"], frame["text"]
    if frame["type"] != "message.send" or not isinstance(client_id, str):
        return None
    if not CLIENT_ID.fullmatch(client_id) or not isinstance(text, str):
        return None
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8").strip()
    if not text or len(text) > MAX_CHARS:
        return None
    return client_id, text


def is_sync(kind: str, raw) -> bool:
    try:
        frame = json.loads(raw) if kind == "text" else None
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(frame, dict)
        and set(frame) == {"type", "after_seq"}
        and frame["type"] == "sync"
        and type(frame["after_seq"]) is int
        and 0 <= frame["after_seq"] < 2**63  # a number a database can hold
    )


@pytest.fixture
def people(room_factory, user_factory, settings):
    settings.CHAT_RATE_BURST = settings.CHAT_RATE_ADDRESS_BURST = 1_000_000
    return room_factory("Target"), user_factory("Fuzzer")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(hostile_frames, min_size=1, max_size=6))
def test_every_hostile_frame_is_answered_and_nothing_invalid_is_stored(
    frames, people, socket_for, caplog
):
    room, fuzzer = people
    caplog.set_level(logging.INFO)
    expected: dict[str, str] = {}
    for post in (valid_post(kind, raw) for kind, raw in frames):
        if post:
            expected.setdefault(*post)  # a resend of an id keeps what was stored first
    before = set(Message.objects.filter(room=room).values_list("client_id", flat=True))

    async def throw() -> None:
        async with runtime.running():  # this loop's, as a server's lifespan would
            await throw_all()

    async def throw_all() -> None:
        socket = await joined(socket_for, room, fuzzer)
        for kind, raw in frames:
            # As the server hands a frame over, empty ones included.
            await socket.send_input({"type": "websocket.receive", kind: raw})
            post, sync = valid_post(kind, raw), is_sync(kind, raw)
            wanted = {"ack"} if post else {"sync.result", "reset"} if sync else {"error"}
            while True:
                frame = await socket.receive_json_from(timeout=5)
                if frame["type"] in ("message.created", "presence", "typing"):
                    continue
                assert frame["type"] in wanted, (raw, frame)
                break
            if wanted == {"error"}:
                assert frame["code"] and frame["detail"]
        # The connection survived it all: a valid message still goes through.
        check = message_frame("still works", client_id=f"check-{uuid.uuid4().hex}")
        await socket.send_json_to(check)
        while (await socket.receive_json_from(timeout=5))["type"] != "ack":
            pass
        await socket.disconnect()

    async_to_sync(throw)()

    stored = {
        client_id: text
        for client_id, text in Message.objects.filter(room=room).values_list("client_id", "text")
        if client_id not in before and not client_id.startswith("check-")
    }
    # A resend of an id stored in an earlier example stores nothing new.
    assert stored == {cid: text for cid, text in expected.items() if cid not in before}
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert failures == []
