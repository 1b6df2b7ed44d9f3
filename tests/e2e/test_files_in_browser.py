"""Files in Chromium, between two people: a picture pasted into the composer shows as a
thumbnail on the other person's screen, a file attached by the button downloads there under
its own name, dropping files attaches them, and uploading shows its progress."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import join
from tests.e2e.test_pages_are_safe_and_accessible import (
    DESKTOP,
    PHONE,
    PolicyWatch,
    serious_violations,
)

pytestmark = pytest.mark.e2e

# A paste or a drop as the browser makes it: a DataTransfer holding the files.
GIVE_FILES = """
([kind, target, files]) => {
  const transfer = new DataTransfer();
  for (const {name, type, base64} of files) {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type }));
  }
  const element = document.querySelector(target);
  const options = { bubbles: true, cancelable: true };
  if (kind === "paste") {
    element.dispatchEvent(new ClipboardEvent("paste", { ...options, clipboardData: transfer }));
  } else {
    for (const type of ["dragenter", "dragover", "drop"]) {
      element.dispatchEvent(new DragEvent(type, { ...options, dataTransfer: transfer }));
    }
  }
}
"""


def picture(size=(640, 400), colour=(30, 120, 200)) -> bytes:
    image = Image.new("RGB", size, colour)
    for x in range(0, size[0], 40):  # stripes, so the thumbnail is visibly a picture
        for y in range(size[1]):
            image.putpixel((x, y), (250, 250, 250))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def bomb() -> bytes:
    from tests.test_files import png_claiming

    return png_claiming(100_000, 100_000)


def as_file(name: str, mime: str, data: bytes) -> dict:
    return {"name": name, "type": mime, "base64": base64.b64encode(data).decode()}


def uploaded_tray(page: Page, count: int) -> None:
    """Wait until the composer's tray holds `count` files, all uploaded."""
    items = page.locator("#file-tray .tray__item")
    expect(items).to_have_count(count)
    expect(page.locator("#file-tray progress")).to_have_count(0)


def test_a_pasted_picture_shows_as_a_thumbnail_on_the_other_persons_screen(
    new_person, unique, screenshots_dir: Path
):
    room = unique("Pictures")
    bob_context = new_person(**DESKTOP)
    watch = PolicyWatch(bob_context)
    bob = join(bob_context, unique("Bob"), room)
    alice = join(new_person(**DESKTOP), unique("Alice"), room)

    alice.evaluate(
        GIVE_FILES, ["paste", "#composer-text", [as_file("image.png", "image/png", picture())]]
    )
    uploaded_tray(alice, 1)
    alice.locator("#composer-text").fill("The new **layout**")
    alice.locator("#composer-text").press("Enter")
    expect(alice.locator("#file-tray")).to_be_hidden()  # the tray is the next message's

    message = bob.locator("#log .msg").last
    expect(message.locator(".msg__text strong")).to_have_text("layout")
    thumbnail = message.locator("img.file__thumbnail")
    expect(thumbnail).to_have_attribute("alt", "image.png")
    bob.wait_for_function(
        "img => img.complete && img.naturalWidth === 480", arg=thumbnail.element_handle()
    )
    link = message.get_by_role("link", name="image.png, PNG image", exact=False)
    expect(link).to_have_attribute("target", "_blank")
    # The picture itself: what was pasted, shown by the browser, not downloaded.
    response = bob.request.get(link.get_attribute("href") or "")
    assert response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.body())).size == (640, 400)

    assert watch.violations(bob) == []
    bob.screenshot(path=screenshots_dir / "files-picture-desktop.png")


def test_a_file_attached_by_the_button_downloads_under_its_name(new_person, unique, tmp_path):
    room = unique("Documents")
    bob = join(new_person(**DESKTOP), unique("Bob"), room)
    alice = join(new_person(**DESKTOP), unique("Alice"), room)
    report = b"%PDF-1.7\n" + b"0" * 40_000
    name = "Q3 report — final <draft>.pdf"

    alice.get_by_role("button", name="Attach files").focus()
    alice.locator("#file-input").set_input_files(
        files=[{"name": name, "mimeType": "application/pdf", "buffer": report}]
    )
    uploaded_tray(alice, 1)
    expect(alice.locator("#file-tray .tray__name")).to_have_text(name)
    alice.get_by_role("button", name="Send").click()

    kept = "Q3 report — final _draft_.pdf"  # as the server made it safe for every system
    link = bob.locator("#log .msg").last.get_by_role("link", name=f"Download {kept}", exact=False)
    expect(link.locator(".file__name")).to_have_text(kept)
    expect(link.locator(".file__meta")).to_have_text("PDF · 39 KB")
    assert bob.locator("#log .msg").last.locator(".msg__text").count() == 0  # files alone
    with bob.expect_download() as downloading:
        link.click()
    download = downloading.value
    assert download.suggested_filename == kept
    saved = tmp_path / "saved.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == report


def test_dropped_files_are_attached_and_too_many_or_too_large_are_refused_clearly(
    new_person, unique
):
    room = unique("Drops")
    alice = join(new_person(**DESKTOP), unique("Alice"), room)
    notes = [as_file(f"note-{n}.txt", "text/plain", f"note {n}".encode()) for n in range(12)]
    alice.evaluate(GIVE_FILES, ["drop", "#scroller", notes])
    uploaded_tray(alice, 10)  # a message carries at most ten
    expect(alice.locator("#outbox-alert")).to_contain_text("can carry 10 files")
    alice.get_by_role("button", name="Remove note-0.txt").click()
    uploaded_tray(alice, 9)
    alice.locator("#composer-text").press("Enter")
    expect(alice.locator("#log .msg").last.locator(".file")).to_have_count(9)

    # A picture the server refuses (a decompression bomb): its reason shows, nothing is sent.
    alice.evaluate(GIVE_FILES, ["drop", "#scroller", [as_file("bomb.png", "image/png", bomb())]])
    failed = alice.locator("#file-tray .tray__item--failed")
    expect(failed).to_contain_text("Pictures are limited to")
    alice.locator("#composer-text").fill("with a bomb")
    alice.locator("#composer-text").press("Enter")
    expect(alice.locator("#outbox-alert")).to_contain_text("could not be uploaded")
    expect(alice.locator("#log .msg")).to_have_count(1)
    alice.get_by_role("button", name="Remove bomb.png").click()
    alice.locator("#composer-text").press("Enter")
    expect(alice.locator("#log .msg")).to_have_count(2)


def test_uploading_shows_its_progress_and_send_waits_for_it(new_person, unique):
    room = unique("Progress")
    bob = join(new_person(**DESKTOP), unique("Bob"), room)
    alice_context = new_person(**DESKTOP)
    alice = join(alice_context, unique("Alice"), room)
    # A slow link: two megabytes take a few seconds to go up.
    network = alice_context.new_cdp_session(alice)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 600_000},
    )
    alice.locator("#file-input").set_input_files(
        files=[
            {
                "name": "big.bin",
                "mimeType": "application/octet-stream",
                "buffer": b"\x01" * 2_000_000,
            }
        ]
    )
    progress = alice.locator("#file-tray progress")
    expect(progress).to_be_visible()
    alice.locator("#composer-text").fill("Here it comes")
    alice.locator("#composer-text").press("Enter")
    expect(alice.locator("#outbox-alert")).to_contain_text("Still uploading")
    expect(alice.locator("#composer-text")).to_have_value("Here it comes")  # kept meanwhile
    alice.wait_for_function("() => document.querySelector('#file-tray progress')?.value > 0.1")
    # Once it is up, the message goes by itself.
    message = bob.locator("#log .msg").last
    expect(message.locator(".msg__text")).to_have_text("Here it comes", timeout=30_000)
    expect(message.locator(".file__meta")).to_have_text("BIN file · 1.9 MB")


@pytest.mark.parametrize(
    ("view", "scheme"),
    [(DESKTOP, "light"), (DESKTOP, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["desktop-light", "desktop-dark", "phone-light", "phone-dark"],
)
def test_a_room_with_files_has_no_serious_accessibility_violations(
    new_person, unique, axe: Axe, screenshots_dir: Path, view, scheme
):
    room = unique("Shared files")
    page = join(new_person(**view, color_scheme=scheme), unique("Ana"), room)
    page.evaluate(
        GIVE_FILES,
        [
            "paste",
            "#composer-text",
            [
                as_file("diagram.png", "image/png", picture((800, 500), (200, 80, 60))),
                as_file("minutes.txt", "text/plain", b"minutes"),
            ],
        ],
    )
    uploaded_tray(page, 2)
    page.locator("#composer-text").fill("Diagram and minutes")
    page.locator("#composer-text").press("Enter")
    thumbnail = page.locator("#log img.file__thumbnail")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth", arg=thumbnail.element_handle()
    )
    page.locator("#file-input").set_input_files(
        files=[{"name": "agenda.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 agenda"}]
    )
    uploaded_tray(page, 1)  # one waiting in the tray, as the audit sees it
    assert serious_violations(axe, page) == []
    name = "desktop" if view is DESKTOP else "phone"
    page.screenshot(path=screenshots_dir / f"files-{name}-{scheme}.png")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
