"""Formatting: a chat-sized Markdown rendered once on the server, sanitised on every way
out, inert for every known XSS payload, plain text left plain, and bombs defused."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chat import formatting, selectors, services
from chat.formatting import render, sanitise
from chat.models import Message
from tests.conftest import new_client_id

PAYLOADS = [
    line.replace("\\n", "\n")
    for line in (Path(__file__).parent / "data" / "xss_payloads.txt").read_text().splitlines()
    if line and not line.startswith("#")
]

ALLOWED = {
    "p": set(),
    "br": set(),
    "strong": set(),
    "em": set(),
    "s": set(),
    "code": set(),
    "pre": set(),
    "blockquote": set(),
    "ul": set(),
    "ol": {"start"},
    "li": set(),
    "a": {"href", "target", "rel"},
    "span": {"class", "data-person"},
}


class Markup(HTMLParser):
    """The tags, attributes and visible text of a rendering."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.depth = self.max_depth = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("br",):
            self.depth += 1
            self.max_depth = max(self.max_depth, self.depth)

    def handle_endtag(self, tag):
        self.depth -= 1

    def handle_data(self, data):
        self.text += data


def assert_inert(html: str) -> None:
    for tag, attrs in Markup(html).tags:
        assert tag in ALLOWED, f"<{tag}> in {html!r}"
        assert set(attrs) <= ALLOWED[tag], f"{attrs} on <{tag}> in {html!r}"
        if tag == "a":
            assert attrs.get("href", "https:").startswith(("https:", "http:", "mailto:")), html
            assert attrs["target"] == "_blank"
            assert attrs["rel"] == "noopener noreferrer nofollow"
        if tag == "span":
            assert attrs["class"] == "mention" and (attrs["data-person"] or "").isdigit(), html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_known_xss_payload_renders_as_inert_text(payload):
    html = render(payload)
    assert_inert(html)
    assert sanitise(html) == html, "what is stored is already what leaves"


@pytest.mark.parametrize(
    "payload",
    # Backticks make code and entities are characters, in Markdown as in HTML.
    [
        p
        for p in PAYLOADS
        if p.startswith("<") and not any(c in p for c in "\n`&") and "<https:" not in p
    ],
)
def test_html_in_a_message_is_shown_as_the_text_it_is(payload):
    assert Markup(render(payload)).text.strip() == payload.strip()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_stored_markup_from_anywhere_is_made_inert_on_the_way_out(payload):
    # As if an older renderer, or a hand in the database, had stored raw HTML.
    assert_inert(sanitise(payload))


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("**bold**", "<p><strong>bold</strong></p>\n"),
        ("*italic* and _italic_", "<p><em>italic</em> and <em>italic</em></p>\n"),
        ("~~gone~~", "<p><s>gone</s></p>\n"),
        ("run `make test` now", "<p>run <code>make test</code> now</p>\n"),
        ("```\nprint(1)\n```", "<pre><code>print(1)\n</code></pre>\n"),
        ("> wise words", "<blockquote>\n<p>wise words</p>\n</blockquote>\n"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),
        ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>\n'),
        ("first line\nsecond line", "<p>first line<br>\nsecond line</p>\n"),
        (
            "see https://example.com/a?b=1.",
            '<p>see <a href="https://example.com/a?b=1" target="_blank" '
            'rel="noopener noreferrer nofollow">https://example.com/a?b=1</a>.</p>\n',
        ),
        (
            "[the docs](https://example.com)",
            '<p><a href="https://example.com" target="_blank" '
            'rel="noopener noreferrer nofollow">the docs</a></p>\n',
        ),
    ],
)
def test_chat_sized_markdown_formats_what_people_type(text, html):
    assert render(text) == html


@pytest.mark.parametrize(
    "text",
    [
        "snake_case_names stay as they are",
        "2*3*4 = 24",
        "# not a heading",
        "Heading?\n===",
        "---",
        "    indented is not code",
        "setup.py and example.com are not links",
        "<b>not bold</b>",
        "[a link][ref]\n\n[ref]: /not/a/definition",
        "[inside the site](/accounts/logout/)",
    ],
)
def test_plain_text_stays_plain(text):
    markup = Markup(render(text))
    assert {tag for tag, _ in markup.tags} <= {"p", "br"}, render(text)


def test_an_image_is_a_link_to_it_not_shown_inline():
    html = render("![a cat](https://example.com/cat.png)")
    assert [tag for tag, _ in Markup(html).tags] == ["p", "a"]


def test_mentions_become_spans_outside_code_and_only_for_whole_names():
    mentions = [{"id": 7, "name": "Bo"}, {"id": 8, "name": "Bo Ek"}]
    html = render("@Bo Ek and @Bo, not @Bora nor `@Bo`", mentions)
    assert html == (
        '<p><span class="mention" data-person="8">@Bo Ek</span> and '
        '<span class="mention" data-person="7">@Bo</span>, not @Bora nor <code>@Bo</code></p>\n'
    )


def test_a_mention_of_a_name_with_markup_is_text():
    html = render("hi @<img src=x>", [{"id": 3, "name": "<img src=x>"}])
    assert_inert(html)
    assert Markup(html).text.strip() == "hi @<img src=x>"


@pytest.mark.parametrize(
    "bomb",
    [
        "*" * 4000,
        "_" * 4000,
        "*a" * 2000,
        "**" * 1000 + "x" + "**" * 1000,
        "[" * 4000,
        "](" * 2000,
        "> " * 2000 + "deep",
        "- " * 2000 + "deep",
        "1. " * 1300 + "deep",
        "`" * 4000,
        "~~" * 2000,
        "<" * 4000,
        "&#" * 2000,
        "https://a.b/" * 330,
        ("@Bo " * 1000).strip(),
    ],
)
def test_markdown_bombs_render_to_bounded_inert_markup(bomb):
    html = render(bomb, [{"id": 1, "name": "Bo"}])
    assert_inert(html)
    assert len(html) < 40 * len(bomb)
    assert Markup(html).max_depth <= 25  # markdown-it's nesting limit, not the input's


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_anything_renders_to_allowed_markup(text):
    assert_inert(render(text))


@given(
    st.text(
        alphabet=st.sampled_from("abcXYZ019éß中 ,;?'()\".!"),
        min_size=1,
        max_size=60,
    )
)
@example("0.")  # a number and a full stop alone start an ordered list (found by this test)
@example("1.")
def test_the_shortcut_for_plain_text_renders_what_the_renderer_would(text):
    full = sanitise(formatting._md.render(text, {}))
    assert render(text) == full or not formatting._PLAIN.fullmatch(text)


@pytest.mark.django_db
class TestStoredRendering:
    def post(self, room, sender, text, mentions=()):
        message, _ = services.message_post(
            room_id=room.pk,
            sender=sender,
            text=text,
            client_id=new_client_id(),
            mentions=tuple(mentions),
        )
        return message

    def test_a_message_is_rendered_when_stored_and_sent_with_its_source(
        self, room_factory, user_factory
    ):
        room, ana = room_factory(), user_factory("Ana")
        message = self.post(room, ana, "**hi** <b>")
        assert message.text == "**hi** <b>"
        assert message.html == "<p><strong>hi</strong> &lt;b&gt;</p>\n"
        assert Message.objects.get().html == message.html

    def test_an_edit_renders_again_and_a_deletion_drops_the_rendering(
        self, room_factory, user_factory
    ):
        room, ana = room_factory(), user_factory("Ana")
        self.post(room, ana, "plain")
        edited = services.message_edit(room_id=room.pk, editor=ana, message_seq=1, text="_now_")
        assert edited.html == "<p><em>now</em></p>\n"
        deleted = services.message_delete(room_id=room.pk, deleter=ana, message_seq=1)
        assert (deleted.text, deleted.html) == ("", "")
        assert Message.objects.get().html == ""

    def test_mentions_are_rendered_for_those_the_message_keeps(self, room_factory, user_factory):
        room, ana, bo = room_factory(), user_factory("Ana"), user_factory("Bo")
        stranger = user_factory("Cy")
        for person in (ana, bo):
            services.membership_join(room=room, person=person)
        message = self.post(room, ana, "ping @Bo and @Cy", mentions=[bo.pk, stranger.pk])
        assert message.html == (
            f'<p>ping <span class="mention" data-person="{bo.pk}">@Bo</span> and @Cy</p>\n'
        )
        edited = services.message_edit(
            room_id=room.pk, editor=ana, message_seq=1, text="ping @Bo", mentions=[]
        )
        assert edited.html == "<p>ping @Bo</p>\n", "no longer a mention: plain text"

    def test_markup_stored_by_an_older_renderer_is_sanitised_as_it_leaves(
        self, room_factory, user_factory
    ):
        room, ana = room_factory(), user_factory("Ana")
        self.post(room, ana, "hello")
        Message.objects.update(html='<p onclick="x()">hi<script>alert(1)</script></p>')
        (message,) = selectors.messages_before(room_id=room.pk).messages
        assert message.html == "<p>hi</p>"

    def test_a_message_stored_before_rendering_is_rendered_as_it_is_read(
        self, room_factory, user_factory
    ):
        room, ana = room_factory(), user_factory("Ana")
        self.post(room, ana, "`code`")
        Message.objects.update(html="")
        (message,) = selectors.messages_before(room_id=room.pk).messages
        assert message.html == "<p><code>code</code></p>\n"


def test_what_looks_like_an_html_entity_shows_as_typed():
    assert render("&lt;b&gt; &amp; &#x41;") == "<p>&amp;lt;b&amp;gt; &amp;amp; &amp;#x41;</p>\n"
