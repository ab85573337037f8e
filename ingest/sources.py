"""Loaders that turn knowledge-base files into :class:`SourceDocument` records.

Supported inputs: Markdown with YAML front matter, help-center HTML pages, Zendesk-like JSON
article exports and JSONL files of articles or support tickets. A bad file never stops a load:
it becomes a :class:`LoadFailure` whose reason says what is wrong and how to fix it, and every
other file still loads. Ticket texts are redacted before a record is built, so no unredacted
personal data leaves this module.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from app.rag.types import STATUSES, SourceDocument
from ingest.clean import clean_text, normalize_newlines, strip_bom
from ingest.redact import redact

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "LoadError",
    "LoadFailure",
    "LoadResult",
    "html_to_markdown",
    "load_path",
    "parse_html",
    "parse_json_article",
    "parse_markdown",
    "parse_ticket",
]

logger = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
# Repository boilerplate that sits beside articles but is not an article.
_SKIPPED_STEMS = frozenset({"README", "LICENSE", "LICENCE"})
_MARKDOWN_HINT = "add a '{key}:' line to the front matter"
_HTML_HINT = 'add <meta name="kb:{key}" content="..."> to the page'
_JSON_HINT = "add a '{key}' field to the article object"
_TICKET_NAME_FIELDS = ("customer_name", "requester_name", "name", "requester", "agent_name")


class LoadError(ValueError):
    """A file or record cannot be loaded; the message says what is wrong and how to fix it."""


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A file or record that did not load.

    ``path`` is the file, ``path:line`` for a JSONL line or ``path#index`` for a JSON array item.
    """

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Everything one :func:`load_path` call read, in a deterministic order."""

    documents: tuple[SourceDocument, ...]
    failures: tuple[LoadFailure, ...]


@dataclass(frozen=True, slots=True)
class _Loaded:
    locator: str
    document: SourceDocument


def load_path(path: Path, *, max_bytes: int = 1_000_000) -> LoadResult:
    """Load a file, or every file under a folder, into source documents.

    Folders are walked recursively in sorted order, skipping hidden files and folders and
    README/LICENSE files. Every other file either loads or is reported as a failure.

    Args:
        path: A file or a folder.
        max_bytes: Files larger than this are reported as failures instead of being read.

    Returns:
        The documents and failures. When two records share an id, the second one fails.

    Raises:
        ValueError: If ``max_bytes`` is not positive.
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    path = Path(path)
    if not path.exists():
        failure = LoadFailure(str(path), "no such file or folder: check the path")
        return LoadResult(documents=(), failures=(failure,))
    files = _walk(path) if path.is_dir() else [path]
    documents: list[SourceDocument] = []
    failures: list[LoadFailure] = []
    first_seen: dict[str, str] = {}
    for file in files:
        for item in _load_file(file, max_bytes=max_bytes):
            if isinstance(item, LoadFailure):
                failures.append(item)
            elif item.document.id in first_seen:
                reason = (
                    f"duplicate id '{item.document.id}' (first defined in "
                    f"{first_seen[item.document.id]}): give each article or ticket its own id"
                )
                failures.append(LoadFailure(item.locator, reason))
            else:
                first_seen[item.document.id] = item.locator
                documents.append(item.document)
    logger.info("loaded %d documents from %s, %d failures", len(documents), path, len(failures))
    return LoadResult(documents=tuple(documents), failures=tuple(failures))


def _walk(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and name.split(".")[0].upper() not in _SKIPPED_STEMS:
                files.append(Path(dirpath) / name)
    return sorted(files, key=lambda f: f.relative_to(root).parts)


def _load_file(file: Path, *, max_bytes: int) -> list[_Loaded | LoadFailure]:
    source = str(file)
    extension = file.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        reason = (
            f"unsupported file type '{extension or file.name}': only "
            f"{', '.join(SUPPORTED_EXTENSIONS)} files are loaded; move other files elsewhere"
        )
        return [LoadFailure(source, reason)]
    try:
        text = _read_text(file, max_bytes=max_bytes)
        if extension in (".json", ".jsonl"):
            return _load_records(text, source=source, jsonl=extension == ".jsonl")
        parse = parse_markdown if extension in (".md", ".markdown") else parse_html
        return [_Loaded(source, parse(text, source_path=source))]
    except LoadError as exc:
        return [LoadFailure(source, str(exc))]
    except Exception as exc:  # a loader bug on one odd file must not stop the others loading
        return [_unexpected(source, exc)]


def _unexpected(locator: str, exc: Exception) -> LoadFailure:
    # Only the exception type: its message may quote ticket text, i.e. personal data.
    logger.warning("unexpected %s while loading %s", type(exc).__name__, locator)
    reason = f"unexpected {type(exc).__name__} in the loader: please report this as a bug"
    return LoadFailure(locator, reason)


def _read_text(file: Path, *, max_bytes: int) -> str:
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise LoadError("not a regular file: only plain text files can be loaded")
        size = info.st_size
        if size > max_bytes:
            raise LoadError(
                f"file is {size:,} bytes, over the limit of {max_bytes:,} bytes: "
                "split it into smaller files or raise the size limit"
            )
        data = file.read_bytes()
    except OSError as exc:
        raise LoadError(
            f"cannot read the file ({exc.strerror or exc}): check its permissions"
        ) from exc
    if not data.strip():
        raise LoadError("empty file: write the article or delete the file")
    if b"\x00" in data:
        raise LoadError(
            "binary file (contains NUL bytes): only UTF-8 text can be loaded; "
            "if this is UTF-16 text, re-save it as UTF-8"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not UTF-8: invalid byte 0x{data[exc.start]:02X} at byte offset {exc.start}; "
            "re-save the file with UTF-8 encoding"
        ) from exc
    if not strip_bom(text).strip():
        raise LoadError("empty file: write the article or delete the file")
    return text


# --- JSON and JSONL ---------------------------------------------------------------------------


def _load_records(text: str, *, source: str, jsonl: bool) -> list[_Loaded | LoadFailure]:
    entries = _jsonl_entries(text, source=source) if jsonl else _json_entries(text, source=source)
    results: list[_Loaded | LoadFailure] = []
    for locator, obj in entries:
        results.append(obj if isinstance(obj, LoadFailure) else _record(obj, locator, source))
    if not results:
        raise LoadError("no articles or tickets in this file: add records or delete the file")
    return results


def _jsonl_entries(text: str, *, source: str) -> list[tuple[str, Any]]:
    entries: list[tuple[str, Any]] = []
    for number, line in enumerate(normalize_newlines(strip_bom(text)).split("\n"), start=1):
        if not line.strip():
            continue
        locator = f"{source}:{number}"
        try:
            entries.append((locator, json.loads(line)))
        except json.JSONDecodeError as exc:
            reason = (
                f"line {number} is not valid JSON ({exc.msg} at column {exc.colno}): "
                "fix the line; each line must hold one JSON object"
            )
            entries.append((locator, LoadFailure(locator, reason)))
    return entries


def _json_entries(text: str, *, source: str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(strip_bom(text))
    except json.JSONDecodeError as exc:
        raise LoadError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; fix the syntax"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        items = data["articles"]
    elif isinstance(data, dict) and isinstance(data.get("tickets"), list):
        items = data["tickets"]
    elif isinstance(data, list):
        items = data
    else:
        raise LoadError('expected {"articles": [...]} or a JSON list of article or ticket objects')
    return [(f"{source}#{index}", item) for index, item in enumerate(items)]


def _record(obj: Any, locator: str, source: str) -> _Loaded | LoadFailure:
    if not isinstance(obj, dict):
        reason = f"expected a JSON object, got {type(obj).__name__}: each record must be {{...}}"
        return LoadFailure(locator, reason)
    # A ticket is recognised by its customer message; everything else is an article.
    parse = parse_ticket if "customer_message" in obj else parse_json_article
    try:
        return _Loaded(locator, parse(obj, source_path=source))
    except LoadError as exc:
        return LoadFailure(locator, str(exc))
    except Exception as exc:  # same reason as in _load_file
        return _unexpected(locator, exc)


def parse_json_article(obj: dict[str, Any], *, source_path: str = "") -> SourceDocument:
    """Build a document from a Zendesk-like article object.

    Args:
        obj: Fields ``id``, ``title``, ``body`` (HTML), ``html_url``, ``locale``, ``draft``,
            ``outdated``/``archived``, ``updated_at`` and ``label_names``; a ``product:<x>``
            label sets the product and the other labels become tags.
        source_path: The file the object came from.

    Returns:
        The article with its body converted to Markdown.

    Raises:
        LoadError: If a required field is missing or a field has the wrong type.
    """
    labels = _tags(obj.get("label_names"), key="label_names")
    products = [label.split(":", 1)[1].strip() for label in labels if _is_product_label(label)]
    body = obj.get("body")
    if body is not None and not isinstance(body, str):
        raise LoadError("'body' must be an HTML string")
    meta = {
        "id": obj.get("id"),
        "title": obj.get("title"),
        "url": obj.get("html_url") or obj.get("url"),
        "product": products[0] if products else obj.get("product"),
        "locale": obj.get("locale"),
        "status": _zendesk_status(obj),
        "updated_at": obj.get("updated_at") or obj.get("edited_at"),
        "tags": [label for label in labels if not _is_product_label(label)],
    }
    markdown = html_to_markdown(body or "")
    return _article(meta, body=clean_text(markdown), source_path=source_path, hint=_JSON_HINT)


def _is_product_label(label: str) -> bool:
    return label.lower().startswith("product:")


def _zendesk_status(obj: Mapping[str, Any]) -> Any:
    if obj.get("outdated") is True or obj.get("archived") is True:
        return "archived"
    if obj.get("draft") is True:
        return "draft"
    return obj.get("status")


def parse_ticket(obj: dict[str, Any], *, source_path: str = "") -> SourceDocument:
    """Build a document from a resolved support ticket, redacting personal data first.

    Args:
        obj: Fields ``id``, ``created_at``, ``subject``, ``customer_message``,
            ``agent_resolution``, ``linked_article_ids``, ``tags``, ``resolved`` and optionally
            ``product``, ``locale`` and a requester name (redacted wherever it is echoed).
        source_path: The file the object came from.

    Returns:
        A ``ticket`` document with id ``ticket-<id>``; its status is ``draft`` unless resolved.

    Raises:
        LoadError: If a required field is missing or a field has the wrong type.
    """
    ticket_id = _id(obj.get("id"), hint="add an 'id' field to the ticket")
    names = [v for k in _TICKET_NAME_FIELDS if isinstance(v := obj.get(k), str) and v.strip()]
    question = redact(_required_text(obj, "customer_message"), names=names)
    resolution = redact(_required_text(obj, "agent_resolution"), names=names)
    subject = _string(obj, "subject")
    resolved = obj.get("resolved", False)
    if not isinstance(resolved, bool):
        raise LoadError("'resolved' must be true or false")
    linked = _tags(obj.get("linked_article_ids"), key="linked_article_ids")
    return SourceDocument(
        id=f"ticket-{ticket_id}",
        # Chat tickets often have no subject; the id still gives the record a readable title.
        title=redact(subject, names=names) if subject else f"Ticket {ticket_id}",
        body=clean_text(f"## Customer question\n\n{question}\n\n## Resolution\n\n{resolution}"),
        product=_string(obj, "product") or "general",
        locale=_locale(obj.get("locale")),
        status="published" if resolved else "draft",
        updated_at=_iso_date(obj.get("created_at"), key="created_at"),
        tags=_tags(obj.get("tags"), key="tags") + tuple(f"article:{a}" for a in linked),
        source_type="ticket",
        source_path=source_path,
    )


def _required_text(obj: Mapping[str, Any], key: str) -> str:
    value = _string(obj, key)
    if not value:
        raise LoadError(f"no {key}: a ticket needs a non-empty '{key}' text")
    return value


# --- Markdown -------------------------------------------------------------------------------

_FRONT_MATTER_RE = re.compile(
    r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE
)


def parse_markdown(text: str, *, source_path: str = "") -> SourceDocument:
    """Build a document from Markdown with YAML front matter.

    Args:
        text: The file's text. The front matter between ``---`` lines holds ``id`` and ``title``
            (required) and ``url``, ``product``, ``locale``, ``status``, ``updated_at``, ``tags``.
        source_path: The file the text came from.

    Returns:
        The article; its body is the cleaned text after the front matter.

    Raises:
        LoadError: If the front matter is missing or broken, a required key is missing or a
            value is invalid, or the body is empty.
    """
    text = normalize_newlines(strip_bom(text))
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        if text.startswith("---"):
            raise LoadError("front matter is not closed: add a '---' line after the metadata")
        raise LoadError(
            "no front matter: start the file with a YAML block between '---' lines "
            "holding at least id and title"
        )
    meta = _yaml_mapping(match.group(1))
    body = clean_text(text[match.end() :])
    return _article(meta, body=body, source_path=source_path, hint=_MARKDOWN_HINT)


def _file_line(mark: Any) -> int | None:
    """The file line of a YAML error mark: +1 as YAML counts from 0, +1 for the opening '---'."""
    return mark.line + 2 if mark is not None else None


def _yaml_mapping(block: str) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid syntax"
        context = getattr(exc, "context", None)
        context_line = _file_line(getattr(exc, "context_mark", None))
        if context and context_line:
            problem += f" ({context} that starts at line {context_line})"
        line = _file_line(getattr(exc, "problem_mark", None))
        where = f" at line {line}" if line else ""
        raise LoadError(
            f"broken YAML front matter{where}: {problem}; fix the metadata between the "
            "'---' lines (quote values that contain ': ' or start with a special character)"
        ) from exc
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise LoadError("front matter must be YAML 'key: value' lines, e.g. 'title: Reset a hub'")
    return meta


# --- Fields shared by all articles -------------------------------------------------------------


def _article(meta: Mapping[str, Any], *, body: str, source_path: str, hint: str) -> SourceDocument:
    """Validate article metadata; ``hint`` says how to add a missing field in this format."""
    doc_id = _id(meta.get("id"), hint=hint.format(key="id"))
    title = _string(meta, "title")
    if not title:
        raise LoadError(f"no title: {hint.format(key='title')}")
    if not body:
        raise LoadError("empty body: the article has metadata but no text")
    return SourceDocument(
        id=doc_id,
        title=title,
        body=body,
        url=_string(meta, "url"),
        product=_string(meta, "product") or "general",
        locale=_locale(meta.get("locale")),
        status=_status(meta.get("status")),
        updated_at=_iso_date(meta.get("updated_at"), key="updated_at"),
        tags=_tags(meta.get("tags"), key="tags"),
        source_type="article",
        source_path=source_path,
    )


def _id(value: Any, *, hint: str) -> str:
    # bool is an int subclass, but "id: true" is certainly a mistake.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None or value == "":
        raise LoadError(f"no id: {hint}")
    raise LoadError(
        f"id must be a string or an integer, got {type(value).__name__}: put the id in quotes"
    )


def _string(meta: Mapping[str, Any], key: str) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise LoadError(f"'{key}' must be text, got {type(value).__name__}: put the value in quotes")


def _status(value: Any) -> str:
    if value is None or value == "":
        return "published"
    status = str(value).strip().lower()
    if status not in STATUSES:
        raise LoadError(f"unknown status '{value}': use one of {', '.join(STATUSES)}")
    return status


_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def _locale(value: Any) -> str:
    """Normalise a language tag: ``en-us`` and ``en_US`` become ``en-US``."""
    if value is None or value == "":
        return "en-US"
    if not isinstance(value, str) or not _LOCALE_RE.match(value.strip()):
        raise LoadError(f"locale '{value}' is not a language tag: use a form like en-US or de-DE")
    language, *subtags = re.split(r"[-_]", value.strip())
    parts = [language.lower()]
    for tag in subtags:
        if len(tag) == 4 and tag.isalpha():
            parts.append(tag.title())  # script, e.g. zh-Hant
        elif len(tag) == 2 or (len(tag) == 3 and tag.isdigit()):
            parts.append(tag.upper())  # region, e.g. US or 419
        else:
            parts.append(tag.lower())
    return "-".join(parts)


def _iso_date(value: Any, *, key: str) -> str:
    """Normalise a date or timestamp to ``YYYY-MM-DD`` (YAML may already parse it as a date)."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date().isoformat()
        except ValueError:
            pass
    raise LoadError(f"{key} '{value}' is not an ISO date: use YYYY-MM-DD")


def _tags(value: Any, *, key: str) -> tuple[str, ...]:
    """A list of labels, or one comma-separated string, as a tuple without blanks or repeats."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise LoadError(f"'{key}' must be a list or a comma-separated string")
    if any(not isinstance(i, str | int) or isinstance(i, bool) for i in items):
        raise LoadError(f"'{key}' must only hold text or numbers")
    cleaned = (str(i).strip() for i in items)
    return tuple(dict.fromkeys(t for t in cleaned if t))


# --- HTML ---------------------------------------------------------------------------------------

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


def parse_html(text: str, *, source_path: str = "") -> SourceDocument:
    """Build a document from an exported help-center page.

    Args:
        text: The page. Metadata comes from ``<meta name="kb:...">`` tags (id, title, url,
            product, locale, status, updated_at, comma-separated tags); the title falls back to
            ``<title>`` and then the first ``<h1>``. The content is ``<article>``, else
            ``<main>``, else ``<body>``; a leading ``<h1>`` equal to the title is dropped.
        source_path: The file the page came from.

    Returns:
        The article with its content converted to Markdown.

    Raises:
        LoadError: If the id or title is missing, a value is invalid or there is no content.
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
    body = clean_text("\n\n".join(_Renderer(skip=skip).blocks(content)))
    return _article(meta, body=body, source_path=source_path, hint=_HTML_HINT)


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
