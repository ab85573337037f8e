"""``python -m app.migrate``: see and change the revision of the database schema.

    python -m app.migrate current     # the revision the database is at, and the newest one
    python -m app.migrate upgrade     # upgrade to the newest revision
    python -m app.migrate history     # the revisions, oldest first
    python -m app.migrate revision -m "add message language" --autogenerate

The database is the one the settings name (``GROUNDLINE_DATABASE_URL``, or SQLite in
``var_dir``); ``--database-url`` names another. The server and the other commands upgrade the
database themselves when they open it, one process at a time, so ``upgrade`` is for operators
who want to migrate before starting new servers, or to see a failing migration's full error.

Every change to the tables in ``app/models.py`` ships a revision in ``app/migrations/versions``;
``tests/integration/test_migrations.py`` fails until it does. ``revision --autogenerate`` writes
the next one (``0002_add_message_language.py``, ...) from the differences between the models and
the newest revision, found on a scratch SQLite database upgraded to it (``--database-url``
compares against that database instead, which must be at the newest revision). Read what it
wrote before committing: Alembic writes a rename as a drop and an add, and a new column that
may not be null needs a ``server_default`` or a data step for the rows that already exist.
Without ``--autogenerate`` the revision is empty, for data migrations written by hand.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine

from app.db import make_engine
from app.migrations import (
    alembic_config,
    current_revision,
    head_revision,
    made_by_create_all,
    upgrade_to_head,
)
from app.settings import get_settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app.migrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a SQLAlchemy URL (default: the one the settings name)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("current", help="print the database's revision and the newest one")
    sub.add_parser("upgrade", help="upgrade the database to the newest revision")
    sub.add_parser("history", help="list the revisions")
    revision = sub.add_parser("revision", help="write the next revision file")
    revision.add_argument("-m", "--message", required=True,
                          help="what the revision changes; it names the file")
    revision.add_argument("--autogenerate", action="store_true",
                          help="fill it with the differences between the models and the newest "
                               "revision")
    return parser.parse_args(argv)


def _engine(args: argparse.Namespace) -> Engine:
    return make_engine(args.database_url or get_settings().resolved_database_url, upgrade=False)


def _current(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with engine.connect() as connection:
        current = current_revision(connection)
        legacy = current is None and made_by_create_all(connection)
    head = head_revision()
    print(f"database: {current or 'none'}{' (made before migrations)' if legacy else ''}")
    print(f"newest:   {head}{'' if current == head else ' (the next start upgrades to it)'}")
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    before = upgrade_to_head(_engine(args))
    head = head_revision()
    print(f"already at {head}" if before == head else f"upgraded from {before} to {head}")
    return 0


def _history(args: argparse.Namespace) -> int:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    for rev in reversed(list(script.walk_revisions())):
        print(f"{rev.revision}  {rev.doc}")
    return 0


def _revision(args: argparse.Namespace) -> int:
    from alembic import command

    head = head_revision()
    rev_id = f"{int(head) + 1:04d}" if head.isdigit() else None
    if not args.autogenerate:
        command.revision(alembic_config(), message=args.message, rev_id=rev_id)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'head.db'}"
        engine = make_engine(url, upgrade=args.database_url is None)
        with engine.connect() as connection:
            command.revision(alembic_config(connection), message=args.message,
                             autogenerate=True, rev_id=rev_id)
        engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    commands = {"current": _current, "upgrade": _upgrade, "history": _history,
                "revision": _revision}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
