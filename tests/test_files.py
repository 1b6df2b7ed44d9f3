"""Files: uploaded to a room over HTTP, carried by a message, downloaded by whoever may see
the room and no one else. A file's type comes from its bytes, a picture gets a thumbnail
and loses its metadata, nothing a file holds can run as the site, limits refuse with a
clear code and store nothing, and deleting a message deletes its files."""

from __future__ import annotations

import io
import json
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone
from PIL import Image

from chat import protocol, selectors, services
from chat.models import Attachment, Message, Room
from chat.uploads import content_type, safe_name
from tests.conftest import logged_in, new_client_id
from tests.helpers import capture_events, verify_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(room_factory):
    return room_factory("General")


@pytest.fixture
def ana(user_factory):
    return user_factory("Ana")


@pytest.fixture
def bo(user_factory):
    return user_factory("Bo")


def jpeg_with_location(size=(1200, 800)) -> bytes:
    """A photo as phones take them: EXIF with the camera, the place, and "turn me"."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to show upright
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 40.0)}  # GPS
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (10, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge picture: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def upload(client, room, name: str, data: bytes, content_type="application/octet-stream"):
    return client.post(
        f"/r/{room.pk}/files", {"file": SimpleUploadedFile(name, data, content_type=content_type)}
    )


def uploaded(client, room, name: str, data: bytes) -> dict:
    response = upload(client, room, name, data)
    assert response.status_code == 201, response.content
    return response.json()


def post_files(room, sender, keys, text=""):
    message, _ = services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id(), files=tuple(keys)
    )
    return message


def download(client, url: str):
    response = client.get(url)
    body = b""
    if response.status_code == 200:

        async def read() -> bytes:
            return b"".join([chunk async for chunk in response.streaming_content])

        body = async_to_sync(read)()
    return response, body


def stored_names() -> list[str]:
    storage = storages["files"]
    root = Path(storage.location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# Pictures


def test_a_photo_gets_a_thumbnail_and_loses_its_location_and_camera(room, ana):
    file = uploaded(logged_in(ana), room, "holiday.jpg", jpeg_with_location())
    assert file["type"] == "image/jpeg"
    # Turned upright as its EXIF said: 1200x800 taken sideways is 800x1200.
    assert (file["width"], file["height"]) == (800, 1200)
    assert max(file["thumbnail_width"], file["thumbnail_height"]) == 480

    response, original = download(logged_in(ana), file["url"])
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("inline")
    kept = Image.open(io.BytesIO(original))
    assert kept.size == (800, 1200)
    assert dict(kept.getexif()) == {}  # no camera, no place, no orientation left to apply
    assert b"PhoneMaker" not in original
    assert int(response["Content-Length"]) == len(original) == file["size"]

    response, small = download(logged_in(ana), file["thumbnail_url"])
    assert response["Content-Type"] == "image/webp"
    thumbnail = Image.open(io.BytesIO(small))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (320, 480))
    assert dict(thumbnail.getexif()) == {}


def test_a_picture_is_known_by_its_bytes_whatever_its_name(room, ana):
    file = uploaded(logged_in(ana), room, "notes.txt", png())
    assert file["type"] == "image/png"
    assert file["name"] == "notes.txt"
    assert file["thumbnail_url"]


def test_a_decompression_bomb_is_refused_before_it_is_decoded(room, ana):
    response = upload(logged_in(ana), room, "bomb.png", png_claiming(100_000, 100_000))
    assert response.status_code == 413
    assert response.json()["error"] == "image_too_large"
    assert response.json()["stored"] is False
    assert "50,000,000 pixels" in response.json()["detail"]
    assert not Attachment.objects.exists()
    assert stored_names() == []


def test_an_image_over_the_pixel_limit_is_refused(room, ana, settings):
    settings.CHAT_IMAGE_MAX_PIXELS = 100 * 100
    response = upload(logged_in(ana), room, "big.png", png((101, 100)))
    assert (response.status_code, response.json()["error"]) == (413, "image_too_large")
    assert uploaded(logged_in(ana), room, "fits.png", png((100, 100)))["type"] == "image/png"


def test_a_broken_picture_is_kept_as_a_plain_file(room, ana):
    broken = png()[:60]
    file = uploaded(logged_in(ana), room, "cut.png", broken)
    assert file["type"] == "image/png"  # its signature says so
    assert "thumbnail_url" not in file
    response, body = download(logged_in(ana), file["url"])
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert body == broken


# Other files


def test_a_file_downloads_under_its_name_with_its_size_and_type_shown(room, ana):
    file = uploaded(logged_in(ana), room, "Q3 report (final).pdf", b"%PDF-1.7\n" + b"x" * 3000)
    assert (file["name"], file["type"], file["size"]) == (
        "Q3 report (final).pdf",
        "application/pdf",
        3009,
    )
    response, body = download(logged_in(ana), file["url"])
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Q3 report (final).pdf"'
    assert body.startswith(b"%PDF-1.7")


def test_a_name_in_any_script_survives_the_download(room, ana):
    file = uploaded(logged_in(ana), room, "会议纪要 ü.txt", b"notes")
    response, _ = download(logged_in(ana), file["url"])
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%E4%BC%9A%E8%AE%AE%E7%BA%AA%E8%A6%81%20%C3%BC.txt"
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.html", b"<html><script>alert(document.cookie)</script></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'),
        ("photo.jpg", b"<html><script>alert(1)</script></html>"),  # its name lies
        ("x.xhtml", b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'),
    ],
)
def test_no_uploaded_file_can_run_as_the_site(room, ana, name, data):
    file = uploaded(logged_in(ana), room, name, data)
    assert "thumbnail_url" not in file
    response, body = download(logged_in(ana), file["url"])
    assert body == data
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script" not in policy


def test_a_name_that_lies_about_a_type_its_bytes_would_show_is_shown_neutral():
    assert content_type(b"<html>", "photo.jpg") == "application/octet-stream"
    assert content_type(b"a,b\n1,2\n", "table.csv") == "text/csv"
    assert content_type(b"\x89PNG\r\n\x1a\n...", "anything") == "image/png"
    assert content_type(b"plain", "README") == "application/octet-stream"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\secret.txt", "secret.txt"),
        ('<img src=x onerror="alert(1)">.png', "_img src=x onerror=_alert(1)_.png"),
        ("line\nbreak\x00.txt", "line_break_.txt"),
        ("...", "file"),
        ("", "file"),
        ("a" * 300 + ".tar.gz", "a" * 197 + ".gz"),
    ],
)
def test_a_file_name_is_made_safe_and_keeps_what_can_be_kept(given, kept):
    assert safe_name(given) == kept


def test_script_in_a_file_name_is_stored_as_text(room, ana):
    file = uploaded(logged_in(ana), room, "<script>alert(1)</script>.txt", b"hi")
    # What follows the last "/" is the name, as a browser sends it.
    assert file["name"] == "script_.txt"


# Messages with files


def test_a_message_carries_its_files_to_everyone_in_the_order_attached(room, ana):
    client = logged_in(ana)
    first = uploaded(client, room, "one.png", png())
    second = uploaded(client, room, "two.txt", b"two")
    with verify_action(room.pk) as announced:
        message = post_files(room, ana, [second["key"], first["key"]], text="Both files")
    assert [f.name for f in message.files] == ["two.txt", "one.png"]
    (event,) = announced.events
    assert isinstance(event, protocol.MessageCreated)
    assert [f.key for f in event.message.files] == [second["key"], first["key"]]
    page = selectors.messages_before(room_id=room.pk)
    assert [f.name for f in page.messages[-1].files] == ["two.txt", "one.png"]


def test_a_message_may_be_files_and_no_text(room, ana):
    file = uploaded(logged_in(ana), room, "only.png", png())
    message = post_files(room, ana, [file["key"]])
    assert (message.text, message.html, len(message.files)) == ("", "", 1)


def test_a_frame_without_text_needs_a_file():
    decode = lambda raw: protocol.decode_client_frame(raw, max_bytes=65536, max_chars=4000)  # noqa: E731
    with pytest.raises(protocol.ProtocolError) as refused:
        decode('{"type": "message.send", "client_id": "a", "text": "  "}')
    assert refused.value.code == "blank_message"
    frame = decode('{"type": "message.send", "client_id": "a", "text": " ", "files": ["k1"]}')
    assert (frame.text, frame.files) == ("", ["k1"])


def test_more_than_ten_files_in_one_message_is_refused_as_a_frame():
    keys = json.dumps([f"k{n}" for n in range(11)])
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.decode_client_frame(
            f'{{"type": "message.send", "client_id": "a", "text": "x", "files": {keys}}}',
            max_bytes=65536,
            max_chars=4000,
        )
    assert refused.value.code == "invalid_field"
    assert "length <= 10" in refused.value.detail


def test_a_resent_message_is_the_same_message_with_the_same_files(room, ana):
    file = uploaded(logged_in(ana), room, "a.png", png())
    client_id = new_client_id()
    first, new = services.message_post(
        room_id=room.pk, sender=ana, text="", client_id=client_id, files=(file["key"],)
    )
    again, new_again = services.message_post(
        room_id=room.pk, sender=ana, text="", client_id=client_id, files=(file["key"],)
    )
    assert (new, new_again) == (True, False)
    assert again.seq == first.seq and again.files == first.files
    assert Message.objects.count() == 1


def test_a_file_is_sent_once_and_only_by_its_uploader_in_its_room(room, ana, bo, room_factory):
    file = uploaded(logged_in(ana), room, "mine.png", png())
    other_room = room_factory("Elsewhere")
    with pytest.raises(services.NotFound):
        post_files(room, bo, [file["key"]])  # not Bo's
    with pytest.raises(services.NotFound):
        post_files(other_room, ana, [file["key"]])  # not uploaded there
    with pytest.raises(services.NotFound):
        post_files(room, ana, ["no-such-key"])
    post_files(room, ana, [file["key"]])
    with pytest.raises(services.NotFound):
        post_files(room, ana, [file["key"]])  # already sent
    assert Message.objects.count() == 1


def test_in_one_batch_a_file_goes_to_the_first_post_that_names_it(room, ana):
    file = uploaded(logged_in(ana), room, "once.png", png())
    posts = [
        services.Post(room.pk, ana, "first", new_client_id(), files=(file["key"],)),
        services.Post(room.pk, ana, "second", new_client_id(), files=(file["key"],)),
        services.Post(room.pk, ana, "plain", new_client_id()),
    ]
    with capture_events():
        first, second, plain = services.messages_post_many(posts)
    assert not isinstance(first, Exception) and len(first[0].files) == 1
    assert isinstance(second, services.NotFound)
    assert not isinstance(plain, Exception)
    assert [m.seq for m in Message.objects.order_by("seq")] == [1, 2]  # no gap


def test_an_unsent_file_is_its_uploaders_alone(room, ana, bo):
    file = uploaded(logged_in(ana), room, "draft.png", png())
    assert download(logged_in(bo), file["url"])[0].status_code == 404
    assert download(logged_in(ana), file["url"])[0].status_code == 200
    post_files(room, ana, [file["key"]])
    assert download(logged_in(bo), file["url"])[0].status_code == 200


# Private rooms


def test_files_of_a_private_room_are_its_members_alone(room_factory, ana, bo, user_factory):
    secret = room_factory("Secret")
    secret.private = True
    secret.save()
    services.membership_join(room=secret, person=ana)
    file = uploaded(logged_in(ana), secret, "plans.png", png())
    post_files(secret, ana, [file["key"]])
    for url in (file["url"], file["thumbnail_url"]):
        assert download(logged_in(bo), url)[0].status_code == 404  # as if there were none
        assert download(logged_in(None), url)[0].status_code == 404
        assert download(logged_in(ana), url)[0].status_code == 200
    staff = user_factory("Admin")
    staff.is_staff = True
    staff.save()
    assert download(logged_in(staff), file["url"])[0].status_code == 200
    # An outsider cannot upload to it either.
    assert upload(logged_in(bo), secret, "x.txt", b"x").status_code == 404
    assert upload(logged_in(None), room_factory("Open"), "x.txt", b"x").status_code == 403


def test_a_member_removed_from_a_private_room_no_longer_downloads_its_files(room_factory, ana, bo):
    secret = room_factory("Secret")
    secret.private = True
    secret.save()
    services.membership_join(room=secret, person=ana)
    services.membership_join(room=secret, person=bo)
    file = uploaded(logged_in(ana), secret, "plans.txt", b"plans")
    post_files(secret, ana, [file["key"]])
    assert download(logged_in(bo), file["url"])[0].status_code == 200
    secret.memberships.filter(person=bo).delete()
    assert download(logged_in(bo), file["url"])[0].status_code == 404


# Limits


def test_a_file_over_the_size_limit_is_refused_and_nothing_is_stored(room, ana, settings):
    settings.CHAT_FILE_MAX_BYTES = 1000
    response = upload(logged_in(ana), room, "big.bin", b"x" * 1001)
    assert response.status_code == 413
    body = response.json()
    assert (body["error"], body["stored"]) == ("file_too_large", False)
    assert "1000" not in body["detail"] and "KB" in body["detail"]
    assert not Attachment.objects.exists() and stored_names() == []
    assert upload(logged_in(ana), room, "fits.bin", b"x" * 1000).status_code == 201


def test_uploads_are_limited_per_person_per_hour_in_count_and_bytes(room, ana, bo, settings):
    settings.CHAT_UPLOADS_PER_HOUR = 2
    settings.CHAT_UPLOAD_BYTES_PER_HOUR = 10_000
    client = logged_in(ana)
    uploaded(client, room, "1.txt", b"1")
    uploaded(client, room, "2.txt", b"2")
    refused = upload(client, room, "3.txt", b"3")
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited" and refused.json()["stored"] is False
    assert 3_500_000 < refused.json()["retry_after_ms"] <= 3_600_000
    assert int(refused["Retry-After"]) <= 3600
    assert upload(logged_in(bo), room, "other.txt", b"x" * 9_000).status_code == 201  # Bo's own
    assert upload(logged_in(bo), room, "more.txt", b"x" * 1_001).status_code == 429  # bytes
    # An hour on, the count starts again.
    Attachment.objects.filter(uploader=ana).update(created_at=timezone.now() - timedelta(hours=2))
    assert upload(client, room, "3.txt", b"3").status_code == 201


def test_an_upload_must_be_one_file_in_the_field_named_file(room, ana):
    client = logged_in(ana)
    assert client.post(f"/r/{room.pk}/files", {}).json()["error"] == "invalid_field"
    two = {
        "file": SimpleUploadedFile("a.txt", b"a"),
        "other": SimpleUploadedFile("b.txt", b"b"),
    }
    assert client.post(f"/r/{room.pk}/files", two).status_code == 400
    assert client.get(f"/r/{room.pk}/files").status_code == 405


async def test_a_body_larger_than_any_upload_is_refused_before_it_is_read(settings):
    from chat.middleware import BodyLimit

    settings.CHAT_FILE_MAX_BYTES = 1000
    reached = []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        raise AssertionError("the body must not be read")

    limited = BodyLimit(app)
    scope = {"type": "http", "path": "/r/1/files", "headers": [(b"content-length", b"999999999")]}
    await limited(scope, receive, send)
    assert reached == []
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "file_too_large"


# Deletion


def test_deleting_a_message_deletes_its_files_and_their_bytes(room, ana, bo):
    file = uploaded(logged_in(ana), room, "gone.png", png())
    message = post_files(room, ana, [file["key"]], text="soon gone")
    assert len(stored_names()) == 2  # the picture and its thumbnail
    with capture_events() as announced, TestCase.captureOnCommitCallbacks(execute=True):
        services.message_delete(room_id=room.pk, deleter=ana, message_seq=message.seq)
    assert announced.events[0].message.files == []
    assert not Attachment.objects.exists()
    assert stored_names() == []
    assert download(logged_in(ana), file["url"])[0].status_code == 404
    assert download(logged_in(ana), file["thumbnail_url"])[0].status_code == 404


def test_deleting_a_room_deletes_its_files_bytes(room, ana):
    file = uploaded(logged_in(ana), room, "a.txt", b"a")
    post_files(room, ana, [file["key"]])
    with TestCase.captureOnCommitCallbacks(execute=True):
        Room.objects.filter(pk=room.pk).delete()
    assert stored_names() == []


def test_uploads_no_message_took_in_a_day_are_pruned(room, ana):
    old = uploaded(logged_in(ana), room, "old.txt", b"old")
    sent = uploaded(logged_in(ana), room, "sent.txt", b"sent")
    post_files(room, ana, [sent["key"]])
    Attachment.objects.update(created_at=timezone.now() - timedelta(hours=25))
    with TestCase.captureOnCommitCallbacks(execute=True):
        fresh = uploaded(logged_in(ana), room, "fresh.txt", b"fresh")  # prunes Ana's own
    assert set(Attachment.objects.values_list("key", flat=True)) == {sent["key"], fresh["key"]}
    assert old["key"] not in "".join(stored_names())


def test_the_prune_command_deletes_everyones_stale_uploads(room, ana, bo):
    from django.core.management import call_command

    uploaded(logged_in(ana), room, "a.txt", b"a")
    uploaded(logged_in(bo), room, "b.txt", b"b")
    Attachment.objects.update(created_at=timezone.now() - timedelta(hours=25))
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("files_prune", stdout=out)
    assert "2 unsent files deleted" in out.getvalue()
    assert stored_names() == []


# Storage elsewhere


def test_files_can_live_in_an_s3_compatible_store(room, ana, settings, monkeypatch):
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="chat-files")
        settings.STORAGES = {
            **settings.STORAGES,
            "files": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "chat-files",
                    "region_name": "us-east-1",
                    "location": "files",
                },
            },
        }
        file = uploaded(logged_in(ana), room, "cloud.jpg", jpeg_with_location((300, 200)))
        keys = [
            o["Key"]
            for o in boto3.client("s3", region_name="us-east-1").list_objects_v2(
                Bucket="chat-files"
            )["Contents"]
        ]
        assert sorted(keys) == sorted(
            [
                f"files/{file['key'][:2]}/{file['key']}",
                f"files/{file['key'][:2]}/{file['key']}.thumb.webp",
            ]
        )
        post_files(room, ana, [file["key"]])
        response, body = download(logged_in(ana), file["url"])
        assert response.status_code == 200
        assert Image.open(io.BytesIO(body)).size == (200, 300)


# Over the socket


@pytest.mark.django_db(transaction=True)
async def test_files_sent_over_the_socket_reach_everyone_and_a_bad_key_stores_nothing(
    socket_for, room, ana, bo
):
    from channels.db import database_sync_to_async

    file = await database_sync_to_async(lambda: uploaded(logged_in(ana), room, "s.png", png()))()
    ana_socket, bo_socket = await socket_for(room, ana), await socket_for(room, bo)
    assert (await ana_socket.connect())[0] and (await bo_socket.connect())[0]

    bad = {"type": "message.send", "client_id": "bad-1", "text": "", "files": ["nope"]}
    await ana_socket.send_json_to(bad)
    error = await ana_socket.receive_json_from(timeout=3)
    assert (error["type"], error["code"], error["client_id"]) == ("error", "not_found", "bad-1")

    frame = {"type": "message.send", "client_id": "good-1", "text": "", "files": [file["key"]]}
    await ana_socket.send_json_to(frame)
    frames = [await ana_socket.receive_json_from(timeout=3) for _ in range(2)]
    ack = next(f for f in frames if f["type"] == "ack")
    assert ack["message"]["files"] == [file]
    seen = await bo_socket.receive_json_from(timeout=3)
    assert (seen["type"], seen["seq"], seen["message"]["files"]) == ("message.created", 1, [file])
    await ana_socket.disconnect()
    await bo_socket.disconnect()


def odd_pictures() -> dict[str, bytes]:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    deep = io.BytesIO()
    Image.new("I;16", (50, 40), 3000).save(deep, "PNG")
    cmyk = io.BytesIO()
    Image.new("CMYK", (50, 40), (0, 100, 200, 0)).save(cmyk, "JPEG")
    palette = io.BytesIO()
    Image.new("P", (50, 40), 5).save(palette, "PNG", transparency=5)
    webp = io.BytesIO()
    Image.new("RGBA", (50, 40), (1, 2, 3, 100)).save(webp, "WEBP")
    return {
        "animated.gif": gif.getvalue(),
        "deep.png": deep.getvalue(),
        "print.jpg": cmyk.getvalue(),
        "palette.png": palette.getvalue(),
        "alpha.webp": webp.getvalue(),
    }


@pytest.mark.parametrize("name", sorted(odd_pictures()))
def test_pictures_of_every_mode_get_a_thumbnail(room, ana, name):
    data = odd_pictures()[name]
    file = uploaded(logged_in(ana), room, name, data)
    _, small = download(logged_in(ana), file["thumbnail_url"])
    assert Image.open(io.BytesIO(small)).format == "WEBP"
    if name == "animated.gif":  # kept as it came, its frames and all
        assert download(logged_in(ana), file["url"])[1] == data


def test_posts_without_files_never_read_the_files_table(room, ana):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    posts = [services.Post(room.pk, ana, f"plain {n}", new_client_id()) for n in range(5)]
    with capture_events(), CaptureQueriesContext(connection) as queries:
        services.messages_post_many(posts)
    assert not [q["sql"] for q in queries if Attachment._meta.db_table in q["sql"]]


def test_staff_see_files_in_the_admin_and_revoke_tokens_there(admin_client, room, ana):
    from chat.models import AccessToken
    from chat.services import tokens

    file = uploaded(logged_in(ana), room, "report.pdf", b"%PDF-1.7 x")
    listed = admin_client.get("/admin/chat/attachment/", {"q": "report"})
    assert listed.status_code == 200 and "report.pdf" in listed.content.decode()
    pk = Attachment.objects.get(key=file["key"]).pk
    assert admin_client.get(f"/admin/chat/attachment/{pk}/change/").status_code == 200
    _, secret = tokens.token_create(person=ana, name="ci bot")
    token = AccessToken.objects.get()
    page = admin_client.get("/admin/chat/accesstoken/").content.decode()
    assert "ci bot" in page and token.digest not in page
    admin_client.post(
        "/admin/chat/accesstoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert tokens.person_for_token(secret) is None


def test_a_png_with_text_chunks_loses_them_and_a_bare_one_is_kept_byte_for_byte(room, ana):
    from PIL import PngImagePlugin

    tagged = io.BytesIO()
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Author", "Ana at home")
    Image.new("RGB", (40, 30), (5, 6, 7)).save(tagged, "PNG", pnginfo=chunks)
    file = uploaded(logged_in(ana), room, "tagged.png", tagged.getvalue())
    _, kept = download(logged_in(ana), file["url"])
    assert b"Ana at home" not in kept and Image.open(io.BytesIO(kept)).size == (40, 30)

    bare = png()
    file = uploaded(logged_in(ana), room, "bare.png", bare)
    assert download(logged_in(ana), file["url"])[1] == bare
