"""The database version store from the command line: ``python -m app.cluster``.

``status`` prints the active version, the stored objects and what this host's folder serves;
``publish-decision`` publishes this host's decision calibration (after ``make calibrate``) for
every host, which reads it when it starts. Both need ``GROUNDLINE_INDEX__STORE=database``.
"""

from __future__ import annotations

import argparse
import json
import sys

from app.cluster.sync import version_sync
from app.db import make_engine
from app.environment import prepare_process
from app.errors import RagError
from app.ops.config import settings_or_exit


def main(argv: list[str] | None = None) -> int:
    prepare_process()
    parser = argparse.ArgumentParser(prog="python -m app.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["status", "publish-decision"])
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    try:
        sync = version_sync(settings, make_engine(settings.resolved_database_url))
        if sync is None:
            print("error: set GROUNDLINE_INDEX__STORE=database (docs/deployment.md)",
                  file=sys.stderr)
            return 2
        if args.command == "publish-decision":
            sync.push_decision()
            print(f"published {settings.answer.decision_file}; restart the hosts to use it")
            return 0
        objects = {key: {"bytes": row.size, "sha256": row.sha256}
                   for key in sync.db.keys("") if (row := sync.db.get(key)) is not None}
        print(json.dumps({"active": sync.active(), "local_active": sync.store.active_name(),
                          "objects": objects}, indent=2))
        return 0
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
