"""A chat-sized Markdown, rendered once on the server and sanitised on the way out.

`render` turns a message's source text into HTML when it is stored or edited; `sanitise`
is applied to every stored rendering as it leaves for a page, a socket or the API, so a
rendering made by an older renderer or allowlist is made safe by today's, and changing
either never needs a migration of stored HTML. Plain Python: no Django.

What it keeps of Markdown is what people type in a chat: bold, italic, strikethrough,
inline code, fenced code blocks, quotes, lists and links (bare URLs become links). No
headings, rules, images, tables, reference definitions, indented code or raw HTML: in a
chat those turn ordinary text into surprises. For the same reason an asterisk inside a
word is text, as an underscore is (`2*3*4`, `snake_case_names`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape, unescape
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.state_inline import Delimiter

__all__ = ["render", "sanitise"]

# What a rendering may hold, whatever produced it.
_TAGS = {
    "p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span",
}  # fmt: skip
# "*": none of the attributes nh3 would allow on every tag (title, lang).
_ATTRIBUTES = {"*": set(), "a": {"href"}, "ol": {"start"}, "span": {"data-person"}}
_CLASSES = {"span": {"mention"}}
_URL_SCHEMES = {"http", "https", "mailto"}
_LINK_REL = "noopener noreferrer nofollow"
_ONE_PLAIN_PARAGRAPH = re.compile(r"<p>[^<>]*</p>\n")


def sanitise(html: str) -> str:
    """`html` with only the allowlisted tags, attributes and link schemes; every link
    opens in a new tab without handing the site to the page it opens."""
    if _ONE_PLAIN_PARAGRAPH.fullmatch(html):
        return html  # no markup to check: what plain messages are rendered as
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes=_CLASSES,
        url_schemes=_URL_SCHEMES,
        url_relative="deny",  # a link in a message never points into the site itself
        link_rel=_LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


# Past this many emphasis markers in one paragraph the rest are text: `**` x 1000 would
# nest a thousand <strong> deep.
_DELIMITERS_MAX = 64


def _asterisks_like_underscores(state: StateInline, silent: bool) -> bool:
    """markdown-it's emphasis rule, except that `*` cannot open or close inside a word."""
    marker = state.src[state.pos]
    if silent or marker not in ("_", "*") or len(state.delimiters) >= _DELIMITERS_MAX:
        return False
    scanned = state.scanDelims(state.pos, False)
    for _ in range(scanned.length):
        token = state.push("text", "", 0)
        token.content = marker
        state.delimiters.append(
            Delimiter(
                marker=ord(marker),
                length=scanned.length,
                token=len(state.tokens) - 1,
                end=-1,
                open=scanned.can_open,
                close=scanned.can_close,
            )
        )
    state.pos += scanned.length
    return True


def _mention(state: StateInline, silent: bool) -> bool:
    """`@name` of a person the message mentions (the env's `mentions`, longest names
    first): a mention span. Any other `@` is text."""
    if state.src[state.pos] != "@":
        return False
    for person_id, name in state.env.get("mentions", ()):
        end = state.pos + 1 + len(name)
        if state.src.startswith(name, state.pos + 1) and not _word_goes_on(state.src, end):
            if not silent:
                token = state.push("mention", "span", 0)
                token.content = f"@{name}"
                token.meta = {"person": person_id}
            state.pos = end
            return True
    return False


def _word_goes_on(text: str, at: int) -> bool:
    """Whether `text` continues a word at `at` ("@Bora" is not a mention of Bo)."""
    return at < len(text) and (text[at].isalnum() or text[at] == "_")


def _render_mention(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    return (
        f'<span class="mention" data-person="{int(token.meta["person"])}">'
        f"{escape(token.content)}</span>"
    )


def _is_absolute_link(url: str) -> bool:
    """Links go out of the site to the web or to mail, never into it ("/accounts/logout/")
    and never to a script: any other `[text](url)` stays text."""
    return url.strip().lower().startswith(("https://", "http://", "mailto:"))


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"breaks": True, "html": False, "linkify": True})
    md.enable(["strikethrough", "linkify"])
    md.disable(
        ["heading", "lheading", "hr", "image", "html_block", "html_inline", "code", "reference"]
    )
    # "&lt;" shows as typed: in a chat, what looks like an HTML entity is text too.
    md.disable("entity")
    # Only addresses with a scheme: "setup.py" is a file name, not a site in Paraguay.
    assert md.linkify is not None  # linkify-it-py is installed with it
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
    md.validateLink = _is_absolute_link  # type: ignore[method-assign]
    md.inline.ruler.at("emphasis", _asterisks_like_underscores)
    md.inline.ruler.before("emphasis", "mention", _mention)
    md.add_render_rule("mention", _render_mention)
    return md


_md = _markdown()

# Text that no Markdown rule could touch: letters, digits, spaces and calm punctuation, no
# "word.word" (a link may hide there), nothing at a line's start that opens a list or quote
# (a number and a full stop alone, "1.", is an ordered list's first item).
_PLAIN = re.compile(r"(?!\d+\.\Z)[^\W_]+(?:[ ,;?'()\"]+[^\W_]+)*[.?!]?", re.UNICODE)


def render(text: str, mentions: Sequence[Mapping[str, Any]] = ()) -> str:
    """The sanitised HTML of a message's source text. `mentions` are whom it mentions, as
    a message keeps them ({"id": ..., "name": ...}): each `@name` outside code becomes a
    mention."""
    if not text:
        return ""
    if not mentions and _PLAIN.fullmatch(text):
        # Most messages: the same output as the renderer's, without running it.
        return "<p>" + escape(text, quote=False).replace('"', "&quot;") + "</p>\n"
    names = sorted(((m["id"], m["name"]) for m in mentions), key=lambda m: -len(m[1]))
    env = {"mentions": names}  # longest first: "@Bora" is not "@Bo" and "ra"
    return sanitise(_md.render(text, env))


# Where a block or line ends in the HTML, the words on either side stay apart as text.
_BLOCK_ENDS = re.compile(r"<br>|</(?:p|li|pre|blockquote)>")
_SPACES = re.compile(r"\s+")


def plain_text(html: str) -> str:
    """What a reader sees of a rendering, as text: no markup, no Markdown signs (what a
    search result quotes and highlights)."""
    text = nh3.clean(_BLOCK_ENDS.sub(" ", html), tags=set())
    return _SPACES.sub(" ", unescape(text)).strip()
