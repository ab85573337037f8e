"""A small Markdown renderer for the editor's preview: headings, paragraphs, lists, fenced
code, emphasis, inline code and links. Everything is escaped first, so raw HTML in an article
shows as text, and links keep only the schemes answers may carry."""

from __future__ import annotations

import html
import re

from app.content.markup import is_safe_href

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*([^*]+)\*\*")
_EM = re.compile(r"(?<![*\w])\*([^*]+)\*(?![*\w])")


def _inline(text: str) -> str:
    out = html.escape(text, quote=True)
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _STRONG.sub(r"<strong>\1</strong>", out)
    out = _EM.sub(r"<em>\1</em>", out)

    def link(match: re.Match[str]) -> str:
        href = html.unescape(match.group(2))
        if not is_safe_href(href):
            return match.group(1)
        return f'<a href="{html.escape(href, quote=True)}" rel="noopener">{match.group(1)}</a>'

    return _LINK.sub(link, out)


def render(markdown: str) -> str:
    """HTML for ``markdown`` (front matter, if any, is left out)."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    if lines and lines[0].strip() == "---" and "---" in (s.strip() for s in lines[1:]):
        lines = lines[[s.strip() for s in lines].index("---", 1) + 1:]
    out: list[str] = []
    para: list[str] = []
    lst: str | None = None
    fence: list[str] | None = None

    def flush() -> None:
        nonlocal lst
        if para:
            out.append("<p>" + _inline(" ".join(para)) + "</p>")
            para.clear()
        if lst:
            out.append(f"</{lst}>")
            lst = None

    for line in lines:
        if fence is not None:
            if line.strip().startswith("```"):
                out.append("<pre><code>" + html.escape("\n".join(fence)) + "</code></pre>")
                fence = None
            else:
                fence.append(line)
            continue
        if line.strip().startswith("```"):
            flush()
            fence = []
            continue
        heading, bullet, numbered = _HEADING.match(line), _BULLET.match(line), _NUMBERED.match(line)
        if not line.strip() or heading:
            flush()
            if heading:
                level = len(heading.group(1))
                out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            kind = "ul" if bullet else "ol"
            if para or lst != kind:
                flush()
                out.append(f"<{kind}>")
                lst = kind
            out.append("<li>" + _inline((bullet or numbered).group(1)) + "</li>")  # type: ignore[union-attr]
        else:
            if lst:
                flush()
            para.append(line.strip())
    if fence is not None:
        out.append("<pre><code>" + html.escape("\n".join(fence)) + "</code></pre>")
    flush()
    return "\n".join(out)
