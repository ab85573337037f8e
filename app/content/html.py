"""HTML help-center pages to Markdown: a forgiving parse tree and a Markdown renderer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

__all__ = ["html_to_markdown", "read_html"]

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_AUTOCLOSE = {
    "li": frozenset({"li", "p"}),
    "dt": frozenset({"dt", "dd", "p"}),
    "dd": frozenset({"dt", "dd", "p"}),
    "tr": frozenset({"tr", "td", "th", "p"}),
    "td": frozenset({"td", "th", "p"}),
    "th": frozenset({"td", "th", "p"}),
}
# Opening one of these closes an open <p>, as the HTML parsing rules say.
_CLOSES_P = frozenset(
    {"address", "article", "aside", "blockquote", "div", "dl", "fieldset", "figure", "footer"}
    | {"form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p"}
    | {"pre", "section", "table", "ul"}
)
_DROPPED = frozenset(
    {"nav", "header", "footer", "script", "style", "aside", "noscript", "template", "svg"}
    | {"button", "head", "title"}
)
_CONTAINERS = frozenset(
    {"#root", "html", "body", "main", "article", "section", "div", "p", "figure", "figcaption"}
    | {"details", "summary", "dl", "dt", "dd", "address", "center", "form", "fieldset", "li"}
    | {"tbody", "thead", "tfoot", "tr", "td", "th"}
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Real help-center pages nest a few dozen levels; the renderer recurses about 3 frames a level.
_MAX_DEPTH = 120
_BR = "\x00"  # stands for <br> until whitespace is collapsed; NUL is removed from parsed text
_SPACE_RE = re.compile(r"[ \t\n\r\f\v\u00a0]+")
_LIST_START_RE = re.compile(r"^(?:- |\d+\. )")


@dataclass(slots=True)
class _Node:
    """An element of the parse tree (mutable only while the tree is being built)."""

    tag: str
    attrs: dict[str, str]
    children: list[_Node | str] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    """Builds a forgiving element tree with the standard-library tokenizer."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        closes = _AUTOCLOSE.get(tag, frozenset()) | ({"p"} if tag in _CLOSES_P else set())
        while len(self._stack) > 1 and self._stack[-1].tag in closes:
            self._stack.pop()
        if len(self._stack) > _MAX_DEPTH:
            return  # keep the text of absurdly deep markup, not its structure (no RecursionError)
        node = _Node(tag, {name: value or "" for name, value in attrs})
        self._stack[-1].children.append(node)
        if tag not in _VOID:
            self._stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(_Node(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return  # an end tag that matches nothing open is ignored, as browsers do

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(data.replace(_BR, ""))


def _parse_tree(html: str) -> _Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _find(node: _Node, tag: str, *, skip_dropped: bool = False) -> _Node | None:
    """The first descendant element named ``tag``, depth first."""
    for child in node.children:
        if not isinstance(child, _Node) or (skip_dropped and child.tag in _DROPPED):
            continue
        if child.tag == tag:
            return child
        if (found := _find(child, tag, skip_dropped=skip_dropped)) is not None:
            return found
    return None


def _raw_text(node: _Node) -> str:
    parts = []
    for child in node.children:
        if isinstance(child, str):
            parts.append(child)
        else:
            parts.append("\n" if child.tag == "br" else _raw_text(child))
    return "".join(parts)


def _collapse(text: str) -> str:
    """Collapse whitespace runs to one space, then turn <br> markers into newlines."""
    text = _SPACE_RE.sub(" ", text)
    return re.sub(f" ?{_BR} ?", "\n", text).strip()


def html_to_markdown(html: str) -> str:
    """Convert an HTML page or fragment to Markdown, dropping navigation and page chrome.

    Headings, paragraphs, lists, bold, italics, links, inline code, ``<pre>`` blocks (kept
    verbatim), tables, block quotes and line breaks are converted; nav, header, footer, aside,
    script and style elements are dropped. Entities are decoded.

    Args:
        html: The HTML text.

    Returns:
        Markdown blocks separated by blank lines.
    """
    return "\n\n".join(_Renderer().blocks(_parse_tree(html)))


def read_html(text: str) -> tuple[dict[str, Any], str]:
    """Metadata and content of an exported help-center page.

    Args:
        text: The page. Metadata comes from ``<meta name="kb:...">`` tags (id, title, url,
            product, locale, status, updated_at, comma-separated tags); the title falls back to
            ``<title>`` and then the first ``<h1>``. The content is ``<article>``, else
            ``<main>``, else ``<body>``; a leading ``<h1>`` equal to the title is dropped.

    Returns:
        The metadata (``kb:`` prefix removed) and the content as Markdown, not yet cleaned.
    """
    root = _parse_tree(text)
    meta: dict[str, Any] = {k[3:]: v for k, v in _meta_tags(root) if k.startswith("kb:")}
    html_node = _find(root, "html")
    if "locale" not in meta and html_node is not None and html_node.attrs.get("lang"):
        meta["locale"] = html_node.attrs["lang"]
    content = (
        _find(root, "article", skip_dropped=True)
        or _find(root, "main", skip_dropped=True)
        or _find(root, "body")
        or root
    )
    first_h1 = _find(content, "h1", skip_dropped=True) or _find(root, "h1")
    meta["title"] = meta.get("title") or _page_title(root, first_h1)
    skip = set()
    if first_h1 is not None and _same_text(_raw_text(first_h1), str(meta["title"])):
        skip.add(id(first_h1))
    return meta, "\n\n".join(_Renderer(skip=skip).blocks(content))


def _same_text(a: str, b: str) -> bool:
    return _collapse(a).casefold() == _collapse(b).casefold()


def _meta_tags(node: _Node) -> Iterable[tuple[str, str]]:
    for child in node.children:
        if isinstance(child, _Node):
            if child.tag == "meta" and "name" in child.attrs:
                yield child.attrs["name"].strip().lower(), child.attrs.get("content", "").strip()
            yield from _meta_tags(child)


def _page_title(root: _Node, first_h1: _Node | None) -> str:
    title_node = _find(root, "title")
    title = _collapse(_raw_text(title_node)) if title_node is not None else ""
    heading = _collapse(_raw_text(first_h1)) if first_h1 is not None else ""
    # "Reset your hub | Lumora Help Center": keep the article's own title, not the site name.
    if heading and re.match(rf"{re.escape(heading)}\s*[|·–—:-]\s*\S", title):
        return heading
    return title or heading


class _Renderer:
    """Renders a parse tree as Markdown blocks, leaving out nodes whose ``id`` is in ``skip``."""

    def __init__(self, *, skip: set[int] | None = None) -> None:
        self._skip = skip or set()

    def blocks(self, node: _Node) -> list[str]:
        """Markdown blocks for the children of ``node``; loose inline runs become paragraphs."""
        blocks: list[str] = []
        pending: list[str] = []
        for child in node.children:
            if isinstance(child, str):
                pending.append(child)
            elif child.tag in _DROPPED or id(child) in self._skip:
                continue
            elif _is_block(child.tag):
                blocks += _flush(pending)
                blocks += self._block(child)
            else:
                pending.append(self.inline(child))
        return blocks + _flush(pending)

    def _block(self, node: _Node) -> list[str]:
        if node.tag in _HEADINGS:
            text = _collapse(self.inline(node))
            return [f"{'#' * _HEADINGS[node.tag]} {text}"] if text else []
        if node.tag in ("ul", "ol"):
            return self._list(node)
        if node.tag == "pre":
            return _code_block(node)
        if node.tag == "blockquote":
            text = "\n\n".join(self.blocks(node))
            return ["\n".join(f"> {ln}" if ln else ">" for ln in text.split("\n"))] if text else []
        if node.tag == "table":
            return self._table(node)
        if node.tag == "hr":
            return ["---"]
        return self.blocks(node)

    def inline(self, node: _Node) -> str:
        """Inline Markdown for ``node``; whitespace is collapsed later, by the enclosing block."""
        if node.tag in _DROPPED or id(node) in self._skip or node.tag == "img":
            return ""
        if node.tag == "br":
            return _BR
        if node.tag == "code":
            return _code_span(_collapse(_raw_text(node)))
        inner = "".join(c if isinstance(c, str) else self.inline(c) for c in node.children)
        if node.tag in ("strong", "b"):
            return _wrap(inner, "**")
        if node.tag in ("em", "i"):
            return _wrap(inner, "*")
        if node.tag == "a":
            return _link(inner, node.attrs.get("href", ""))
        # A block element inside an inline one (bad but common HTML) must not glue words.
        return f" {inner} " if _is_block(node.tag) else inner

    def _list(self, node: _Node) -> list[str]:
        ordered = node.tag == "ol"
        start = node.attrs.get("start", "1")
        number = int(start) if start.isdigit() else 1
        items: list[str] = []
        for child in node.children:
            if not isinstance(child, _Node) or child.tag in _DROPPED:
                continue
            if child.tag in ("ul", "ol") and items:  # a list nested without its own <li>
                width = len(items[-1]) - len(_LIST_START_RE.sub("", items[-1], count=1))
                items[-1] += "".join("\n" + _indent(b, " " * width) for b in self._list(child))
                continue
            content = self.blocks(child) if child.tag == "li" else [self.inline(child)]
            if any(block.strip() for block in content):
                items.append(_list_item(content, marker=f"{number}. " if ordered else "- "))
                number += 1
        return ["\n".join(items)] if items else []

    def _table(self, node: _Node) -> list[str]:
        grid = [cells for row in _rows(node) if (cells := self._cells(row))]
        if not grid:
            return []
        width = max(len(row) for row in grid)
        grid = [row + [""] * (width - len(row)) for row in grid]
        # Markdown tables need a header row: the first row serves, whether <th> or <td>.
        lines = [_table_line(grid[0]), _table_line(["---"] * width)]
        return ["\n".join(lines + [_table_line(row) for row in grid[1:]])]

    def _cells(self, row: _Node) -> list[str]:
        cells: list[str] = []
        for cell in row.children:
            if isinstance(cell, _Node) and cell.tag in ("td", "th"):
                text = " ".join(self.blocks(cell)).replace("\n", " ").replace("|", "\\|")
                span = cell.attrs.get("colspan", "1")
                cells += [text] + [""] * (int(span) - 1 if span.isdigit() else 0)
        return cells


def _is_block(tag: str) -> bool:
    return (
        tag in _CONTAINERS
        or tag in _HEADINGS
        or tag in ("ul", "ol", "pre", "blockquote", "table", "hr")
    )


def _flush(pending: list[str]) -> list[str]:
    text = _collapse("".join(pending))
    pending.clear()
    return [text] if text else []


def _list_item(blocks: list[str], *, marker: str) -> str:
    """One list item: the marker, then the blocks with continuation lines indented under it."""
    text = ""
    for block in blocks:
        # A nested list hugs its parent line; other blocks are separate paragraphs.
        separator = "" if not text else "\n" if _LIST_START_RE.match(block) else "\n\n"
        text += separator + block
    return marker + _indent(text, " " * len(marker))[len(marker) :]


def _indent(text: str, pad: str) -> str:
    return "\n".join(pad + line if line else "" for line in text.split("\n"))


def _code_block(node: _Node) -> list[str]:
    code = _raw_text(node)
    code = code[1:] if code.startswith("\n") else code  # HTML ignores a newline after <pre>
    code = code.rstrip("\n")
    if not code.strip():
        return []
    code_node = _find(node, "code")
    classes = node.attrs.get("class", "").split()
    classes += code_node.attrs.get("class", "").split() if code_node else []
    language = next((c.split("-", 1)[1] for c in classes if c.startswith("language-")), "")
    fence = "```"
    while fence in code:  # a longer fence keeps backticks inside the code verbatim
        fence += "`"
    return [f"{fence}{language}\n{code}\n{fence}"]


def _code_span(text: str) -> str:
    if not text:
        return ""
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def _wrap(inner: str, mark: str) -> str:
    """Wrap ``inner`` in emphasis marks, keeping its outer whitespace outside them."""
    core = inner.strip()
    if not core.strip(_BR):
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{core}{mark}{trail}"


def _link(inner: str, href: str) -> str:
    href = href.strip()
    core = inner.strip()
    if not core or not href or href.lower().startswith(("javascript:", "data:")):
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}[{core}]({href.replace(' ', '%20')}){trail}"


def _rows(node: _Node) -> list[_Node]:
    rows: list[_Node] = []
    for child in node.children:
        if isinstance(child, _Node) and child.tag == "tr":
            rows.append(child)
        elif isinstance(child, _Node) and child.tag in ("thead", "tbody", "tfoot"):
            rows += _rows(child)
    return rows


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
