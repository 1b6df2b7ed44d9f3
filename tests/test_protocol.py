"""The wire schema: what a client may send, and the exact codes for what it may not."""

import json

import pytest
from django.conf import settings

from chat import protocol
from chat.protocol import ProtocolError


def decode(frame) -> protocol.Frame:
    return protocol.decode_client_frame(
        frame if isinstance(frame, str) else json.dumps(frame),
        max_bytes=settings.CHAT_FRAME_MAX_BYTES,
        max_chars=settings.CHAT_MESSAGE_MAX_CHARS,
    )


def error_code(frame) -> str:
    with pytest.raises(ProtocolError) as caught:
        decode(frame)
    return caught.value.code


def test_a_message_frame_decodes_to_send_message():
    frame = decode({"type": "message.send", "client_id": "abc_123-X", "text": "hello"})
    assert frame == protocol.SendMessage(client_id="abc_123-X", text="hello")


def test_a_sync_frame_decodes_to_sync():
    assert decode({"type": "sync", "after_seq": 0}) == protocol.Sync(after_seq=0)


def test_message_text_is_trimmed_but_otherwise_kept_exactly():
    text = "  <b>bold?</b>\n  second line 🎉 مرحبا  "
    frame = decode({"type": "message.send", "client_id": "c", "text": text})
    assert frame.text == text.strip()


def test_nul_characters_are_dropped_because_databases_cannot_store_them():
    assert decode({"type": "message.send", "client_id": "c", "text": "a\x00b"}).text == "ab"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{", "invalid_json"),
        ("", "invalid_json"),
        ("null", "not_an_object"),
        ("[]", "not_an_object"),
        ({"type": "nope"}, "unknown_type"),
        ({"type": None}, "unknown_type"),
        ({}, "unknown_type"),
        ({"type": "message.send", "text": "hi"}, "invalid_field"),
        ({"type": "message.send", "client_id": "c", "text": ["hi"]}, "invalid_field"),
        ({"type": "message.send", "client_id": "", "text": "hi"}, "invalid_field"),
        ({"type": "message.send", "client_id": "x" * 65, "text": "hi"}, "invalid_field"),
        # Python's $ matches before a final newline; the whole id must match.
        ({"type": "message.send", "client_id": "abc\n", "text": "hi"}, "invalid_field"),
        # Deeper than any Python's decoder goes (1,000 already is, on 3.11), under 64 KiB.
        ("[" * 30_000 + "]" * 30_000, "too_deeply_nested"),
        ('{"type": "nope", "x": ' + "[" * 30_000 + "]" * 30_000 + "}", "too_deeply_nested"),
        ({"type": "message.send", "client_id": "c", "text": "hi", "extra": 1}, "invalid_field"),
        ({"type": "sync", "after_seq": 1.5}, "invalid_field"),
        ({"type": "sync", "after_seq": True}, "invalid_field"),
        ({"type": "message.send", "client_id": "c", "text": " \t\n "}, "blank_message"),
        ({"type": "message.send", "client_id": "c", "text": "\x00"}, "blank_message"),
        ({"type": "message.send", "client_id": "c", "text": "x" * 4001}, "message_too_long"),
        ({"type": "message.send", "client_id": "c", "text": "x" * 70_000}, "frame_too_large"),
    ],
)
def test_each_kind_of_bad_frame_has_its_own_code(frame, code):
    assert error_code(frame) == code


def test_the_limit_counts_characters_not_bytes():
    frame = decode({"type": "message.send", "client_id": "c", "text": "😀" * 4000})
    assert len(frame.text) == 4000


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "sync", "after_seq": 2**63},
        {"type": "message.send", "client_id": "c", "text": "re", "reply_to": 2**64 - 1},
        {"type": "reaction.add", "client_id": "r", "message_seq": 2**63, "emoji": "👍"},
    ],
)
def test_a_number_no_database_can_hold_is_an_invalid_field_not_a_failed_query(frame):
    assert error_code(frame) == "invalid_field"


def test_the_frame_limit_counts_bytes():
    # 22,000 three-byte characters: under 64 Ki characters, over 64 KiB.
    raw = json.dumps(
        {"type": "message.send", "client_id": "c", "text": "€" * 22_000}, ensure_ascii=False
    )
    with pytest.raises(ProtocolError) as caught:
        decode(raw)
    assert caught.value.code == "frame_too_large"


def test_an_error_about_a_message_carries_its_client_id_when_readable():
    with pytest.raises(ProtocolError) as caught:
        decode({"type": "message.send", "client_id": "c-1", "text": ""})
    assert caught.value.client_id == "c-1"


def test_server_frames_encode_with_their_type_tag():
    frame = protocol.Error(code="blank_message", detail="A message needs some text.")
    assert json.loads(protocol.encode(frame)) == {
        "type": "error",
        "code": "blank_message",
        "detail": "A message needs some text.",
    }
