"""Search in Chromium: from a room's header, words found in any room the person may see,
highlighted as text; a result opens its room at that message, however far back; the
results page is accessible in light and dark, on a desktop and a phone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import send
from tests.e2e.test_pages_are_safe_and_accessible import DESKTOP, PHONE, serious_violations

pytestmark = pytest.mark.e2e


def test_a_search_finds_words_in_any_room_and_opens_the_room_at_the_message(
    new_person, unique, chat_server, tmp_path: Path
):
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(["the haystack needle, long ago"] + [f"filler {n}" for n in range(199)])
    )
    archive = unique("Archive")
    chat_server.seed_room(archive, 200, sender=unique("Old timer"), texts=history)

    room = unique("Search")
    ana = join(new_person(**DESKTOP), unique("Ana"), room)
    bo = join(new_person(**DESKTOP), unique("Bo"), room)
    send(ana, "the **rocket** launch is at 東京 noon")
    join(bo.context, unique("Bo"), archive).close()  # Bo can see the archive: a member

    bo.get_by_role("link", name="Search messages").click()
    bo.get_by_label("Words to find").fill("launch")
    bo.get_by_label("In all your rooms").check()
    bo.get_by_role("button", name="Search").click()
    hits = bo.locator(".search-hit")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text(unique("Ana"))
    expect(hits.first).to_contain_text(f"in {room}")
    expect(hits.first.locator("mark")).to_have_text("launch")
    expect(hits.first.locator(".search-hit__text")).to_have_text(
        "the rocket launch is at 東京 noon"  # as read: no Markdown signs, no markup
    )

    bo.get_by_label("Words to find").fill("東京")
    bo.get_by_role("button", name="Search").click()
    expect(bo.locator(".search-hit mark")).to_have_text("東京")

    bo.get_by_label("Words to find").fill("needle")
    bo.get_by_role("button", name="Search").click()
    expect(hits).to_have_count(1)
    hits.first.click()
    bo.wait_for_url("**/r/*/?at=1")
    target = bo.locator("#message-1")
    expect(target).to_contain_text("the haystack needle, long ago")
    expect(target).to_be_in_viewport()


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_results_page_has_no_serious_accessibility_violations(
    new_person, unique, axe: Axe, device: str, scheme: str, screenshots_dir: Path
):
    context = new_person(**(DESKTOP if device == "desktop" else PHONE), color_scheme=scheme)
    room = join(context, unique(f"Seeker {device} {scheme}"), unique("Found"))
    send(room, "Where is the **release** checklist? The release is *Friday*.")
    send(room, "Release notes: https://example.com/notes")
    send(room, "Nothing to see")
    room.goto(f"/search?q=release&room={room.url.split('/r/')[1].strip('/')}")
    expect(room.locator(".search-hit")).to_have_count(2)
    assert serious_violations(axe, room) == []
    room.screenshot(path=screenshots_dir / f"search-{device}-{scheme}.png", full_page=True)
    room.goto("/search?q=" + "x" * 300)  # refused, and said so beside the field
    expect(room.get_by_text("Search for at most 200 characters.")).to_be_visible()
    assert serious_violations(axe, room) == []
