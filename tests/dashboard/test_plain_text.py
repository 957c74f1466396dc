"""`dashboard.ui.plain`: text from claimants and adjusters goes into st.markdown as text,
read as typed and never turned into a link, an e-mail link, an emoji, an icon or formatting
(the patterns are those of the browser's markdown: remark-gfm and remark-emoji)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.ui import plain
from tests.dashboard.test_review_page import as_rendered, would_link

WORD_JOINER = "\u2060"  # invisible: the only thing plain() may add to the text as read

HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "see http://evil.example now",
    "HTTPS://evil.example/path?q=1",
    "www.evil.example",
    "WWW.Evil.Example",
    "mail bob@evil.example",
    "<http://evil.example>",
    "[x](http://evil.example)",
    "![x](http://evil.example/a.png)",
    ":smile: :material/home: :red[alarm]",
    "**bold** _it_ `code` $x^2$ # heading",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_links_emoji_icons_and_formatting_stay_text(text: str) -> None:
    shown = plain(text)
    assert would_link(shown) == []
    assert as_rendered(shown).replace(WORD_JOINER, "") == text


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r" + WORD_JOINER), max_size=200))
def test_any_text_reads_as_typed_with_its_line_breaks(text: str) -> None:
    rendered = as_rendered(plain(text)).replace(WORD_JOINER, "")
    assert rendered == text.replace("\n", "  \n")
    assert would_link(plain(text)) == []
