"""``python -m ingest [PATH ...]``: load, chunk, embed and index knowledge-base sources.

Articles edited or deleted through the admin API are the API's: ingestion keeps them as they
are and names them, until an admin releases one (``POST /v1/admin/articles/{id}/release``).

Exit codes: 0 everything ingested; 2 some files failed (each reported with its reason, all
others ingested); 1 the build itself failed (the previously active index keeps serving).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from app.db import make_engine
from app.environment import prepare_process
from app.errors import RagError
from app.settings import Settings, get_settings

logger = logging.getLogger("ingest")


def parse_args(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path,
                        default=[settings.data_dir / "kb", settings.data_dir / "tickets"],
                        help="files or folders to ingest (default: data/kb data/tickets)")
    parser.add_argument("--rebuild", action="store_true",
                        help="re-chunk and re-embed everything instead of reusing vectors")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    prepare_process()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
    except RagError as exc:  # an unknown variable or an invalid value: one line
        print(f"configuration error: {exc}", file=sys.stderr)
        return 1
    args = parse_args(argv, settings)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 1
    from tqdm import tqdm

    from app.cluster.sync import version_sync
    from ingest.pipeline import ingest_paths, make_builder

    engine = make_engine(settings.resolved_database_url)
    bar = tqdm(unit="chunk", desc="embedding", disable=args.no_progress or None)
    try:
        sync = version_sync(settings, engine)  # index.store database: build on the cluster's
        if sync is not None:
            sync.pull()
        report = ingest_paths(args.paths, settings=settings, engine=engine,
                              builder=make_builder(settings), rebuild=args.rebuild,
                              progress=bar.update)
        if sync is not None and report.build.version is not None:
            sync.push(report.build.version)  # every host serves it within seconds
    except RagError as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bar.close()
    for failure in report.failures:
        print(f"failed: {failure.path}: {failure.reason}", file=sys.stderr)
    if report.kept:
        print(f"kept {len(report.kept)} articles edited or deleted through the admin API, not "
              f"their files: {', '.join(report.kept)}; hand one back to its file with "
              "POST /v1/admin/articles/{id}/release, and the next ingestion takes the file",
              file=sys.stderr)
    b = report.build
    for doc_id in b.held:
        print(f"held for review: {doc_id} (see GET /v1/admin/held)", file=sys.stderr)
    summary = {
        "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "removed": report.removed, "kept": len(report.kept), "failed": len(report.failures),
        "held": len(b.held),
        "chunks": b.chunks,
        "embedded": b.embedded, "seconds": round(report.seconds, 2),
        "embed_seconds": round(b.embed_seconds, 2), "index_version": b.version,
        "index": b.status,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print("added {added}, updated {updated}, unchanged {unchanged}, removed {removed}, "
              "kept {kept}, failed {failed}, held for review {held}; "
              "{chunks} chunks ({embedded} embedded) in {seconds} s; "
              "index {index_version} ({index})".format(**summary))
    return 2 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
