"""Small text-normalisation helpers applied to every document body on load.

The helpers never change the inside of a fenced code block (```` ``` ```` or ``~~~``): code is
quoted verbatim in answers, so trailing spaces, blank lines and exotic characters there may matter.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "clean_text",
    "collapse_blank_lines",
    "normalize_newlines",
    "split_fenced",
    "strip_bom",
    "strip_trailing_spaces",
]

BOM = "\ufeff"
# CommonMark: a fence is 3+ backticks or tildes, indented by at most three spaces.
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BLANK_RUN_RE = re.compile(r"\n{3,}")
_TRAILING_SPACE_RE = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)


def strip_bom(text: str) -> str:
    """Remove a leading byte-order mark (editors on Windows add one to UTF-8 files)."""
    return text[1:] if text.startswith(BOM) else text


def normalize_newlines(text: str) -> str:
    """Turn Windows (``\\r\\n``) and old Mac (``\\r``) line endings into ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def collapse_blank_lines(text: str) -> str:
    """Collapse runs of blank lines (three or more newlines) into a single blank line."""
    return _BLANK_RUN_RE.sub("\n\n", text)


def strip_trailing_spaces(text: str) -> str:
    """Strip spaces, tabs and no-break spaces at the end of every line."""
    return _TRAILING_SPACE_RE.sub("", text)


def split_fenced(text: str) -> list[tuple[bool, str]]:
    """Split Markdown into alternating prose and fenced-code segments.

    Args:
        text: Markdown with ``\\n`` line endings.

    Returns:
        ``(is_code, segment)`` pairs whose concatenation is ``text``. A code segment runs from
        its opening fence line to its closing fence line, both included; an unclosed fence runs
        to the end of the text, as in CommonMark.
    """
    segments: list[tuple[bool, str]] = []
    buffer: list[str] = []
    fence = ""
    for line in text.splitlines(keepends=True):
        match = _FENCE_RE.match(line)
        if not fence and match:
            if buffer:
                segments.append((False, "".join(buffer)))
            buffer, fence = [line], match.group(1)
        elif fence and match and _closes(line, fence):
            buffer.append(line)
            segments.append((True, "".join(buffer)))
            buffer, fence = [], ""
        else:
            buffer.append(line)
    if buffer:
        segments.append((bool(fence), "".join(buffer)))
    return segments


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened by ``fence`` (same character, at least as long)."""
    stripped = line.strip()
    return (
        stripped.startswith(fence) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)
    )


def clean_text(text: str) -> str:
    """Normalise a document body for indexing.

    Strips a BOM, normalises newlines, applies Unicode NFC (so "é" typed two ways matches),
    strips trailing spaces and collapses runs of blank lines, leaving fenced code untouched.

    Args:
        text: Raw Markdown text.

    Returns:
        The cleaned text without leading or trailing blank space.
    """
    text = normalize_newlines(strip_bom(text))
    parts = []
    for is_code, segment in split_fenced(text):
        if is_code:
            parts.append(segment)
            continue
        prose = strip_trailing_spaces(unicodedata.normalize("NFC", segment))
        if parts:
            # The newline that ends the closing fence belongs to the code segment, but it is
            # part of the blank run that follows; count it so the run still collapses.
            prose = collapse_blank_lines("\n" + prose)[1:]
        parts.append(collapse_blank_lines(prose))
    return "".join(parts).strip()
