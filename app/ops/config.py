"""Settings read strictly from the environment: each mistake stops start-up in one line.

pydantic-settings ignores variables it does not know, so a misspelt name (one underscore
where a section and its field take two) would be dropped without a word, and an invalid value
raises a long validation error that does not name the variable. :func:`load_settings` first
checks every ``GROUNDLINE_`` variable against the fields of :class:`~app.settings.Settings`
("did you mean ...?"), then turns an invalid value into one line that names the variable and
what it expects. Variables starting with ``GROUNDLINE_TEST_`` belong to the test suite.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsError

from app.errors import ConfigurationError
from app.settings import Settings

ENV_PREFIX = "GROUNDLINE_"
DELIMITER = "__"
TEST_PREFIX = "GROUNDLINE_TEST_"  # the test suite's own variables (GROUNDLINE_TEST_DATABASE_URL)
DOCS = "docs/configuration.md"
# Names that are not read, and what to set instead: settings that were removed or renamed
# (add one here whenever a setting goes), and the two settings that take no prefix.
REPLACED: dict[str, str] = {
    "GROUNDLINE_REDIS_URL": "REDIS_URL (Redis is set without the prefix)",
    "GROUNDLINE_ADMIN_API_KEY": "ADMIN_API_KEY (the automation key is set without the prefix)",
}


def settings_variables(model: type[BaseModel] = Settings) -> dict[str, FieldInfo]:
    """Every variable the settings read, in upper case, with its field.

    A section is read both field by field (``GROUNDLINE_LLM__MODEL``) and whole, as a JSON
    object (``GROUNDLINE_LLM``); fields with an alias (``REDIS_URL``) take no prefix.
    """
    return dict(_walk(model, ENV_PREFIX))


def _walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        if field.validation_alias is not None:
            continue
        env = prefix + name.upper()
        yield env, field
        section = _section(field.annotation)
        if section is not None:
            yield from _walk(section, env + DELIMITER)


def _section(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One message per ``GROUNDLINE_`` variable that no setting reads, sorted by name."""
    known = settings_variables()
    problems = []
    for raw in sorted(environ):
        name = raw.upper()
        if not name.startswith(ENV_PREFIX) or name.startswith(TEST_PREFIX) or name in known:
            continue
        if name in REPLACED:
            problems.append(f"{raw} is not read: set {REPLACED[name]}")
            continue
        guess = suggestion(name, known)
        hint = f"did you mean {guess}?" if guess else f"no setting has this name (see {DOCS})"
        if guess and guess.count(DELIMITER) > name.count(DELIMITER):
            hint += " (fields of a section are GROUNDLINE_<SECTION>__<FIELD>, two underscores)"
        problems.append(f"unknown variable {raw}: {hint}")
    return problems


def suggestion(name: str, known: Mapping[str, object]) -> str | None:
    """The setting ``name`` most likely meant: the same letters with other underscores, a
    field of a section named without its section, else the closest name."""
    letters, tail = name.replace("_", ""), name[len(ENV_PREFIX):]
    for candidate in known:
        if candidate.replace("_", "") == letters:
            return candidate
    for candidate in known:
        if candidate.endswith(DELIMITER + tail):
            return candidate
    # Compared without the prefix, which every name shares and which would make any two
    # names look alike.
    tails = {k[len(ENV_PREFIX):]: k for k in known}
    close = difflib.get_close_matches(name[len(ENV_PREFIX):], list(tails), n=1, cutoff=0.75)
    return tails[close[0]] if close else None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of this process, after checking its ``GROUNDLINE_`` variables.

    Args:
        environ: The variables to check (default: the process environment, which is also
            what the settings are read from).

    Raises:
        ConfigurationError: Unknown variables or invalid values, in one line naming each.
    """
    environ = os.environ if environ is None else environ
    problems = unknown_variables(environ) + malformed_json(environ)
    if problems:
        raise ConfigurationError("; ".join(problems))
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe(exc, environ)) from None
    except SettingsError as exc:  # not expected after malformed_json; still one line
        raise ConfigurationError(f"{exc} (see {DOCS})") from None


def malformed_json(environ: Mapping[str, str]) -> list[str]:
    """Variables of lists and whole sections whose value is not JSON (pydantic-settings would
    only name the section)."""
    known = settings_variables()
    problems = []
    for raw, value in sorted(environ.items()):
        field = known.get(raw.upper())
        if field is None or not value.strip() or not _is_complex(field.annotation):
            continue
        try:
            json.loads(value)
        except ValueError:
            problems.append(f"{raw} is not valid JSON: expected {expects(field)}")
    return problems


def describe(exc: ValidationError, environ: Mapping[str, str]) -> str:
    """A validation error as one line: each variable, its value and what it expects."""
    upper = {k.upper(): k for k in environ}
    known = settings_variables()
    parts = []
    for error in exc.errors():
        path = [str(p).upper() for p in error["loc"] if not isinstance(p, int)]
        leaf = name = ENV_PREFIX + DELIMITER.join(path)
        # A value given as a whole section (GROUNDLINE_LLM='{...}') is named by its section.
        while name not in upper and DELIMITER in name:
            name = name.rsplit(DELIMITER, 1)[0]
        field, shown = known.get(leaf), upper.get(name, name)
        if field is None:
            parts.append(f"{shown}: {error['msg']}")
        elif name != leaf:
            inner = leaf[len(name) + len(DELIMITER):].lower().replace(DELIMITER, ".")
            parts.append(f"{shown}: {inner} is not valid: expected {expects(field)}")
        else:
            secret = _is_secret(field.annotation) or name not in upper
            value = "" if secret else f"={_short(environ[upper[name]])}"
            parts.append(f"{shown}{value} is not valid: expected {expects(field)}")
    return "; ".join(parts)


def expects(field: FieldInfo) -> str:
    """What a field accepts, in words: its type and bounds (e.g. "an integer >= 0")."""
    kind = _kind(field.annotation)
    bounds = []
    for item in field.metadata:
        for cls, op in ((Ge, ">="), (Gt, ">"), (Le, "<="), (Lt, "<")):
            if isinstance(item, cls):
                bounds.append(f"{op} {getattr(item, cls.__name__.lower())}")
    return " ".join([kind, " and ".join(bounds)]).strip()


def _kind(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _kind(inner[0]) + " (or empty)" if len(inner) == 1 else "one of several types"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple, set):
        return 'a JSON list, e.g. ["a", "b"]'
    if origin is dict:
        return 'a JSON object, e.g. {"a": 1}'
    if _section(annotation) is not None:
        return "a JSON object of the section's fields"
    words = {bool: "true or false", int: "an integer", float: "a number", str: "text",
             Path: "a path", SecretStr: "text"}
    return words.get(annotation, str(annotation))


def _is_complex(annotation: Any) -> bool:
    return get_origin(annotation) in (list, tuple, set, dict) or _section(annotation) is not None


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _short(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def settings_or_exit() -> Settings:
    """The process's settings for a server entry point; a mistake ends the process with one
    line on stderr (exit status 1) instead of a traceback."""
    from app.settings import get_settings

    try:
        return get_settings()
    except ConfigurationError as exc:
        raise SystemExit(f"configuration error: {exc}") from None


def main() -> int:
    """``python -m app.ops.config``: check the environment's settings and say so in a line
    (run it before ``uvicorn --workers N``, whose supervisor restarts a worker that exits)."""
    try:
        load_settings()
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 1
    print("configuration ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
