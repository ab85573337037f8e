"""``python -m app.keys``: create, list and revoke API keys.

    python -m app.keys create --scope admin --name ops
    python -m app.keys create --scope widget --name site --origin https://help.example.com
    python -m app.keys list
    python -m app.keys revoke key_0123456789ab

``create`` prints the raw key once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy.engine import Engine

from app.admin import audit
from app.auth import (
    SCOPES,
    KeyConflictError,
    KeyNotFoundError,
    check_revocation,
    create_key,
    list_keys,
    revoke_key,
)
from app.db import make_engine, session_scope
from app.models import ApiKey
from app.settings import get_settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app.keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--scope", choices=SCOPES, required=True)
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--origin", action="append", default=[], dest="origins",
                        help="an origin a widget key may be used from (repeatable)")
    create.add_argument("--json", action="store_true", help="print the key as JSON")
    listing = sub.add_parser("list", help="list keys (never the raw keys)")
    listing.add_argument("--json", action="store_true")
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    return parser.parse_args(argv)


def describe(row: ApiKey) -> dict[str, object]:
    """A key as lists show it: id, name, scope, prefix, origins, times; never the hash."""
    return {
        "id": row.id, "name": row.name, "scope": row.scope, "prefix": row.prefix,
        "allowed_origins": list(row.allowed_origins),
        "created_at": row.created_at.isoformat(), "created_by": row.created_by,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def _create(engine: Engine, args: argparse.Namespace) -> int:
    try:
        with session_scope(engine) as session:
            row, raw = create_key(session, name=args.name, scope=args.scope,
                                  allowed_origins=args.origins)
            audit.record(session, actor=audit.CLI_ACTOR, action="key.create", target_type="key",
                         target_id=row.id, detail={"scope": row.scope, "name": row.name})
            info = describe(row)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**info, "key": raw}))
    else:
        print(raw)
        print(f"created {info['scope']} key {info['id']} ({info['name']}); "
              "store it now: it cannot be shown again", file=sys.stderr)
    return 0


def _list(engine: Engine, args: argparse.Namespace) -> int:
    with session_scope(engine) as session:
        rows = [describe(r) for r in list_keys(session)]
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        print(f"{r['id']}  {r['scope']:<6}  {r['prefix']}...  {state:<10}  {r['name']}")
    return 0


def _revoke(engine: Engine, args: argparse.Namespace) -> int:
    try:
        with session_scope(engine) as session:
            check_revocation(session, args.key_id, acting_key_id=None)
            revoke_key(session, args.key_id)
            audit.record(session, actor=audit.CLI_ACTOR, action="key.revoke", target_type="key",
                         target_id=args.key_id)
    except (KeyNotFoundError, KeyConflictError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engine = make_engine(get_settings().resolved_database_url)
    commands = {"create": _create, "list": _list, "revoke": _revoke}
    return commands[args.command](engine, args)


if __name__ == "__main__":
    sys.exit(main())
