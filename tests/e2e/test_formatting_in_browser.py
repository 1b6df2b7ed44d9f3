"""Formatted messages in Chromium: what one person types formatted on everyone's screen,
code that copies, and every known XSS payload shown as inert text, live and from history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import send
from tests.e2e.test_pages_are_safe_and_accessible import DESKTOP, PHONE, PolicyWatch
from tests.test_formatting import PAYLOADS

pytestmark = pytest.mark.e2e

# What may stand in a message's text on the page: the server's allowlist (chat/formatting.py)
# and the copy button the page puts on a code block.
AUDIT_MESSAGES = """
() => {
  const allowed = {
    P: [], BR: [], STRONG: [], EM: [], S: [], CODE: [], BLOCKQUOTE: [], UL: [], LI: [],
    OL: ["start"], A: ["href", "target", "rel", "tabindex"], SPAN: ["class", "data-person"],
    PRE: ["tabindex"], DIV: ["class"], BUTTON: ["type", "class", "data-action",
    "aria-label", "tabindex", "data-focus-key"],
  };
  const problems = [];
  for (const text of document.querySelectorAll("#log .msg__text")) {
    for (const element of text.querySelectorAll("*")) {
      const names = allowed[element.tagName];
      if (!names) { problems.push(`<${element.tagName}>`); continue; }
      for (const attribute of element.attributes) {
        if (!names.includes(attribute.name)) {
          problems.push(`${attribute.name} on <${element.tagName}>`);
        }
      }
      if (element.tagName === "A" && element.hasAttribute("href")
          && !/^(https?|mailto):/i.test(element.getAttribute("href"))) {
        problems.push(`href ${element.getAttribute("href")}`);
      }
    }
  }
  return problems;
}
"""

RECORD_SCRIPTS_RUN = "window.__ran = []; window.alert = (x) => window.__ran.push(String(x));"

FORMATTED = [
    "**Release** is _today_, ~~not tomorrow~~: run `make deploy` at https://example.com/deploy",
    "> measure twice\n- cut once\n- then ship",
    "```\nprint('hello, world')\nfor n in range(3):\n    print(n)\n```",
]


def dialogs_of(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    return seen


def test_formatting_shows_for_everyone_and_a_code_block_copies(
    new_person, unique, screenshots_dir: Path
):
    room = unique("Formatting")
    alice = join(new_person(**DESKTOP), unique("Alice"), room)
    bob_context = new_person(**DESKTOP)
    bob_context.grant_permissions(["clipboard-read", "clipboard-write"])
    bob = join(bob_context, unique("Bob"), room)

    for text in FORMATTED:
        send(alice, text)
    first, second, third = (bob.locator("#log .msg__text").nth(n) for n in range(3))
    expect(third.locator("pre")).to_have_count(1)
    expect(first.locator("strong")).to_have_text("Release")
    expect(first.locator("em")).to_have_text("today")
    expect(first.locator("s")).to_have_text("not tomorrow")
    expect(first.locator("code")).to_have_text("make deploy")
    link = first.get_by_role("link", name="https://example.com/deploy")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(second.locator("blockquote")).to_have_text("measure twice")
    expect(second.locator("li")).to_have_text(["cut once", "then ship"])

    bob.get_by_role("button", name="Copy code").click()
    expect(bob.get_by_role("button", name="Copy code")).to_have_text("Copied")
    copied = bob.evaluate("navigator.clipboard.readText()")
    assert copied == "print('hello, world')\nfor n in range(3):\n    print(n)\n"

    # Written by hand, the same text again but plain: stays plain.
    send(alice, "snake_case_names and 2*3*4 stay as typed")
    expect(bob.locator("#log .msg__text").nth(3)).to_have_text(
        "snake_case_names and 2*3*4 stay as typed"
    )
    assert bob.locator("#log .msg__text").nth(3).locator("em").count() == 0
    send(alice, "```\n" + "a_long_line_of_code() + " * 12 + "1\n```")

    bob.screenshot(path=screenshots_dir / "formatting-desktop.png")
    dark = new_person(**DESKTOP, color_scheme="dark")
    join(dark, unique("Dana"), room).screenshot(path=screenshots_dir / "formatting-dark.png")
    phone = join(new_person(**PHONE), unique("Pat"), room)
    phone.screenshot(path=screenshots_dir / "formatting-phone.png")
    phone_dark = join(new_person(**PHONE, color_scheme="dark"), unique("Pia"), room)
    phone_dark.screenshot(path=screenshots_dir / "formatting-phone-dark.png")
    assert phone.evaluate("document.documentElement.scrollWidth <= innerWidth"), (
        "a code block's long lines wrap, the page does not scroll sideways"
    )


def test_known_xss_payloads_are_inert_text_live_and_from_history(
    new_person, unique, chat_server, tmp_path: Path
):
    room = unique("Payloads")
    bob_context = new_person(**DESKTOP)
    bob_context.add_init_script(RECORD_SCRIPTS_RUN)
    watch = PolicyWatch(bob_context)
    bob = join(bob_context, unique("Bob"), room)
    dialogs = dialogs_of(bob)
    alice = join(new_person(**DESKTOP), unique("Alice"), room)

    live = PAYLOADS[:15]  # as many as a person may send in one burst
    for payload in live:
        send(alice, payload)
    expect(bob.locator("#log .msg")).to_have_count(len(live))
    bob.wait_for_timeout(300)  # an image's onerror or a timer would have fired by now
    assert bob.evaluate(AUDIT_MESSAGES) == []

    texts = tmp_path / "payloads.json"
    texts.write_text(json.dumps(PAYLOADS))
    chat_server.seed_room(room, len(PAYLOADS), sender="Mallory", texts=texts)
    bob.reload()  # opens where Bob left off: every payload is new to him
    expect(bob.locator("#log .msg")).to_have_count(len(live) + len(PAYLOADS))
    bob.wait_for_timeout(300)
    assert bob.evaluate(AUDIT_MESSAGES) == []
    assert bob.evaluate("window.__ran") == [], "no payload ran a script"
    assert dialogs == []
    assert watch.violations(bob) == [], "nothing even tried to run against the policy"
    # Raw HTML in a message reads as the text it is.
    assert "<script>alert(1)</script>" in bob.locator("#log .msg__text").all_text_contents()
