"""Markdown made safe to quote: no raw HTML, and links only to http(s) and mailto addresses.

Articles are written by people and imported from help-center exports, so a body may carry
HTML (``<script>``, ``<iframe>``, event handlers) or links with schemes a browser would run
(``javascript:``, ``data:``). An answer quotes article text and a chat client may render it,
so both are removed on load: HTML tags go (the text between them stays, except inside
``script``, ``style`` and similar elements, which go whole), links and images with any other
scheme keep only their text. Fenced code and inline code are left verbatim: they are shown
as code, never rendered, and the content-safety check still reads them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from app.content.clean import split_fenced

__all__ = ["ALLOWED_SCHEMES", "is_safe_href", "sanitize_markdown"]

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

_DROPPED_ELEMENTS = "script|style|iframe|object|embed|template|noscript|svg|math|frameset"
_DROPPED_RE = re.compile(rf"<\s*({_DROPPED_ELEMENTS})\b[^>]*>.*?(?:<\s*/\s*\1\s*>|\Z)",
                         re.IGNORECASE | re.DOTALL)
# A tag, a comment or a declaration; "a < b" and autolinks such as <https://...> are not tags.
_TAG_RE = re.compile(r"<!--.*?(?:-->|\Z)|<![A-Za-z][^>]*>|</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>",
                     re.DOTALL)
_AUTOLINK_RE = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
# [text](target "title") and ![alt](target); one level of nested brackets in the text.
_LINK_RE = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))*)>?"
                      r"(?:\s+[^)]*)?\)")
_REFERENCE_RE = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$", re.MULTILINE)
_BARE_SCRIPT_RE = re.compile(r"\b(?:javascript|vbscript)\s*:\S*|\bdata:[a-z]+/[\w.+-]+[;,]\S*",
                             re.IGNORECASE)
_CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.-]*):")
_INVISIBLE_RE = re.compile(r"[\x00-\x20\x7f\u00ad\u200b-\u200f\u2060\ufeff]")


def is_safe_href(href: str) -> bool:
    """Whether a link target may be kept: http(s), mailto, or a relative address.

    Entities, whitespace and control characters are removed before the scheme is read, so
    ``jav&#x09;ascript:`` and `` JavaScript:`` count as what a browser would run.
    """
    target = _INVISIBLE_RE.sub("", html.unescape(href)).lower()
    match = _SCHEME_RE.match(target)
    return match is None or match.group(1) in ALLOWED_SCHEMES


def sanitize_markdown(text: str) -> str:
    """Remove raw HTML and links with unsafe schemes from Markdown prose.

    Args:
        text: Cleaned Markdown (``\\n`` line endings).

    Returns:
        The text with HTML tags removed (``script``-like elements with their content), links
        and images with a scheme other than http, https or mailto replaced by their text, such
        autolinks and reference definitions removed, and bare ``javascript:`` addresses
        dropped. Fenced and inline code are unchanged.
    """
    parts = []
    for is_code, segment in split_fenced(text):
        parts.append(segment if is_code else _outside_code_spans(segment, _sanitize_prose))
    return "".join(parts)


def _outside_code_spans(text: str, fix: Callable[[str], str]) -> str:
    out, pos = [], 0
    for match in _CODE_SPAN_RE.finditer(text):
        out.append(fix(text[pos:match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(fix(text[pos:]))
    return "".join(out)


def _sanitize_prose(text: str) -> str:
    text = _DROPPED_RE.sub("", text)
    text = _AUTOLINK_RE.sub(lambda m: m.group(0) if is_safe_href(m.group(1)) else "", text)
    text = _TAG_RE.sub("", text)
    text = _LINK_RE.sub(_safe_link, text)
    text = _REFERENCE_RE.sub(lambda m: m.group(0) if is_safe_href(m.group(1)) else "", text)
    return _BARE_SCRIPT_RE.sub("", text)


def _safe_link(match: re.Match[str]) -> str:
    if is_safe_href(match.group(3)):
        return match.group(0)
    return "" if match.group(1) else match.group(2)
