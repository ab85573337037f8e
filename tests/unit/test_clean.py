"""Text normalisation applied to every loaded body."""

from __future__ import annotations

import unicodedata

from app.content.clean import (
    clean_text,
    collapse_blank_lines,
    normalize_newlines,
    split_fenced,
    strip_bom,
    strip_trailing_spaces,
)

DECOMPOSED_E = "e\u0301"  # "é" typed as e + combining acute accent
COMPOSED_E = "\u00e9"


def test_windows_and_old_mac_newlines_become_unix_newlines() -> None:
    assert normalize_newlines("one\r\ntwo\rthree\n") == "one\ntwo\nthree\n"


def test_leading_bom_is_removed_but_other_text_is_kept() -> None:
    assert strip_bom("\ufeff# Title") == "# Title"
    assert strip_bom("# Title") == "# Title"


def test_three_or_more_newlines_collapse_to_one_blank_line() -> None:
    assert collapse_blank_lines("a\n\n\n\n\nb\n\nc") == "a\n\nb\n\nc"


def test_trailing_spaces_tabs_and_no_break_spaces_are_stripped() -> None:
    assert strip_trailing_spaces("a  \nb\t\nc\u00a0\n  d") == "a\nb\nc\n  d"


def test_clean_text_applies_every_normalisation_to_prose() -> None:
    raw = f"\ufeff  Caf{DECOMPOSED_E} opens   \r\n\r\n\r\n\r\nat 9.  \r\n\n"
    cleaned = clean_text(raw)
    assert cleaned == f"Caf{COMPOSED_E} opens\n\nat 9."
    assert unicodedata.is_normalized("NFC", cleaned)


def test_fenced_code_keeps_trailing_spaces_blank_lines_and_unicode() -> None:
    code = f"```python\nx = 1   \n\n\n\nprint('caf{DECOMPOSED_E}')\n```"
    text = f"Intro   \n\n\n\n{code}\n\n\n\nOutro"
    cleaned = clean_text(text)
    assert code in cleaned
    assert cleaned.startswith("Intro\n\n```python")
    assert cleaned.endswith("```\n\nOutro")


def test_tilde_fence_and_longer_closing_fence_are_recognised() -> None:
    text = "~~~\ncode   \n~~~~\nafter   "
    assert clean_text(text) == "~~~\ncode   \n~~~~\nafter"


def test_backtick_line_inside_tilde_fence_does_not_close_it() -> None:
    text = "~~~\n```\nkeep   \n~~~\nprose   "
    assert clean_text(text) == "~~~\n```\nkeep   \n~~~\nprose"


def test_unclosed_fence_protects_the_rest_of_the_document() -> None:
    text = "Intro  \n```\nraw   \n\n\n\nstill code   \n"
    assert clean_text(text) == "Intro\n```\nraw   \n\n\n\nstill code"


def test_split_fenced_segments_reassemble_to_the_input() -> None:
    text = "a\n```js\nb\n```\nc\n~~~\nd\n"
    segments = split_fenced(text)
    assert "".join(s for _, s in segments) == text
    assert [is_code for is_code, _ in segments] == [False, True, False, True]
