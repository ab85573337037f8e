"""Loaders that turn knowledge-base files into :class:`SourceDocument` records.

Supported inputs: Markdown with YAML front matter, help-center HTML pages, Zendesk-like JSON
article exports and JSONL files of articles or support tickets. A bad file never stops a load:
it becomes a :class:`LoadFailure` whose reason says what is wrong and how to fix it, and every
other file still loads. Ticket texts are redacted before a record is built, so no unredacted
personal data leaves this module. The parsers live in :mod:`app.content.parse`, shared with
the admin API.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.admin.articles import checked_id
from app.content.clean import normalize_newlines, strip_bom
from app.content.parse import (
    LoadError,
    html_to_markdown,
    parse_html,
    parse_json_article,
    parse_markdown,
    parse_record,
    parse_ticket,
)
from app.rag.types import SourceDocument

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
        for loaded in _load_file(file, max_bytes=max_bytes):
            item = _with_checked_id(loaded)
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


def _with_checked_id(item: _Loaded | LoadFailure) -> _Loaded | LoadFailure:
    """The record with its id in Unicode NFC, or a failure when the id does not match the
    pattern the admin API uses (:data:`app.admin.schemas.ID_PATTERN`): an id such as
    ``../x`` or ``my article`` could be served but never read, edited or deleted there."""
    if isinstance(item, LoadFailure):
        return item
    try:
        normal = checked_id(item.document.id)
    except LoadError as exc:
        return LoadFailure(item.locator, f"{exc}; set `id:` in the front matter (or the "
                                         "record's id) to such a value")
    if normal == item.document.id:
        return item
    return _Loaded(item.locator, replace(item.document, id=normal))


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
    try:  # a ticket is recognised by its customer message; everything else is an article
        return _Loaded(locator, parse_record(obj, source_path=source))
    except LoadError as exc:
        return LoadFailure(locator, str(exc))
    except Exception as exc:  # same reason as in _load_file
        return _unexpected(locator, exc)

