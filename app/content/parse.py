"""Parse one article or ticket (Markdown with front matter, HTML, or a JSON object).

A parser validates every field and raises :class:`LoadError` with a message that says what is
wrong and how to fix it. Ticket texts are redacted before a record is built, so no unredacted
personal data leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import yaml

from app.content.clean import clean_text, normalize_newlines, strip_bom
from app.content.html import html_to_markdown, read_html
from app.content.markup import sanitize_markdown
from app.content.redact import redact
from app.content.safety import TICKET_RESOLUTION
from app.errors import RagError
from app.rag.types import STATUSES, SourceDocument

__all__ = [
    "LoadError",
    "html_to_markdown",
    "parse_html",
    "parse_json_article",
    "parse_fields",
    "parse_markdown",
    "parse_record",
    "parse_ticket",
]

_MARKDOWN_HINT = "add a '{key}:' line to the front matter"
_HTML_HINT = 'add <meta name="kb:{key}" content="..."> to the page'
_JSON_HINT = "add a '{key}' field to the article object"
_TICKET_NAME_FIELDS = ("customer_name", "requester_name", "name", "requester", "agent_name")

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LoadError(RagError, ValueError):
    """A file or record cannot be loaded; the message says what is wrong and how to fix it."""




def parse_record(obj: dict[str, Any], *, source_path: str = "") -> SourceDocument:
    """A ticket if the object has a ``customer_message``, else a JSON article."""
    parse = parse_ticket if "customer_message" in obj else parse_json_article
    return parse(obj, source_path=source_path)


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
        # Only the resolution section is ever quoted (app.content.safety.quotable_text).
        body=sanitize_markdown(clean_text(
            f"## Customer question\n\n{question}\n\n## {TICKET_RESOLUTION}\n\n{resolution}")),
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
        # The C loader (when PyYAML has it) parses the same way, 8x faster on front matter.
        meta = yaml.load(block, Loader=_LOADER)  # noqa: S506 - a SafeLoader
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


def parse_fields(obj: Mapping[str, Any], *, source_path: str = "") -> SourceDocument:
    """Build a document from the fields of Markdown front matter given as a JSON object.

    Args:
        obj: ``id``, ``title`` and ``body`` (Markdown) are required; ``url``, ``product``,
            ``locale``, ``status``, ``updated_at`` and ``tags`` are validated exactly as in
            front matter, so the same article gives the same document either way.
        source_path: Where the object came from.

    Raises:
        LoadError: If a required field is missing or a value is invalid.
    """
    body = obj.get("body")
    if body is not None and not isinstance(body, str):
        raise LoadError("'body' must be a Markdown string")
    meta = {k: v for k, v in obj.items() if k != "body"}
    body_text = clean_text(normalize_newlines(strip_bom(body or "")))
    return _article(meta, body=body_text, source_path=source_path, hint=_JSON_HINT)


# --- Fields shared by all articles -------------------------------------------------------------


def _article(meta: Mapping[str, Any], *, body: str, source_path: str, hint: str) -> SourceDocument:
    """Validate article metadata; ``hint`` says how to add a missing field in this format."""
    doc_id = _id(meta.get("id"), hint=hint.format(key="id"))
    body = sanitize_markdown(body).strip()
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
    meta, body = read_html(text)
    return _article(meta, body=clean_text(body), source_path=source_path, hint=_HTML_HINT)
