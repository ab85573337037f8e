"""One root for the errors this software raises on purpose.

Every error the service, the ingestion and the evaluation raise on purpose derives from
:class:`RagError`, and its message says what went wrong and how to fix it. Errors about bad
input also derive from ``ValueError`` (or ``LookupError`` for a missing key), so callers that
catch the built-in keep working.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: the message says what went wrong and how to fix it."""


class ConfigurationError(RagError):
    """Settings that cannot work together."""


class IndexMismatchError(RagError):
    """An index on disk was built with other settings than the ones in force."""


class IndexNotFoundError(RagError):
    """No index has been built yet."""


class IndexBuildError(RagError):
    """A build failed; the previously active index is untouched."""
