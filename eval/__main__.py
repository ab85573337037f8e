"""``python -m eval``: evaluate the answer pipeline on a question set.

Commands:

  run        answer a set with the real pipeline, write a run folder (run.jsonl, metrics.json,
             config.json, report.md/.html with plots), store it in the database, compare it
             with a baseline or the previous run, and exit 3 when a gated metric drops
             beyond its tolerance (eval/gates.json)
  calibrate  sweep the answer threshold over a set and write the chosen one where the
             service reads it (var/threshold.json)
  compare    the metric deltas between two runs or baselines (B minus A)
  qa         index a {_id, title, text} corpus (or DSTC10) in a folder of its own and
             evaluate a set over it: python -m eval qa --kb C --questions Q --out DIR

Ranking quality of the retrievers and the reranker on BEIR SciFact, DSTC10 and help-center
question sets is ``python -m eval.models ranking``.

Exit codes: 0 fine; 1 the evaluation could not run (bad set, no index, bad gates) or
calibrate found no threshold meeting its target; 2 usage; 3 a gate failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from app.environment import prepare_process
from app.errors import RagError
from app.rag.protocols import Embedder
from app.settings import Settings, get_settings

logger = logging.getLogger("eval")

DEFAULT_SET = Path("data/eval/sample.jsonl")
EVAL_DIR = Path(__file__).resolve().parent


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", type=Path, default=DEFAULT_SET,
                        help="evaluation set, JSONL (default: %(default)s)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default=None,
                        help="only one part of a set that has a development/test split "
                             "(default: all for run, dev for calibrate)")
    parser.add_argument("--tags", nargs="+", metavar="TAG",
                        help="only questions carrying any of these tags")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="a deterministic stratified subset of N questions")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    parser.add_argument("--name", default="run", help="a label for the run folder")
    parser.add_argument("--ingest", nargs="+", type=Path, metavar="PATH",
                        help="what to index when no index exists (default: data/kb "
                             "data/tickets)")
    parser.add_argument("--refresh-index", action="store_true",
                        help="update the index (incrementally) before evaluating")
    parser.add_argument("--as-served", action="store_true",
                        help="keep the reranker's latency budget (results may then vary "
                             "with machine load)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="evaluate a set and report")
    _selection(run)
    run.add_argument("--baseline", metavar="NAME_OR_PATH",
                     help="gate and compare against eval/baselines/NAME.json, a baseline "
                          "file or a run folder (default: compare with the previous run, "
                          "gate on absolute floors only)")
    run.add_argument("--save-baseline", metavar="NAME",
                     help="save this run's metrics as eval/baselines/NAME.json")
    run.add_argument("--gates", type=Path, default=EVAL_DIR / "gates.json",
                     help="gate definitions (default: eval/gates.json)")
    run.add_argument("--no-gates", action="store_true", help="report only, never fail")
    run.add_argument("--baselines-dir", type=Path, default=EVAL_DIR / "baselines",
                     help=argparse.SUPPRESS)
    cal = sub.add_parser("calibrate", help="choose the answer threshold from a set")
    _selection(cal)
    cal.add_argument("--objective", choices=("target", "balanced"), default="target",
                     help="target: lowest threshold with at most --max-false-answer of "
                          "unanswerable questions answered; balanced: best balanced "
                          "accuracy (default: %(default)s)")
    cal.add_argument("--max-false-answer", type=float, default=0.05,
                     help="share of unanswerable questions that may be answered "
                          "(default: %(default)s)")
    cal.add_argument("--model", action="store_true",
                     help="fit the answerability model over every decision signal instead of "
                          "a score threshold (writes answer.decision_file)")
    cal.add_argument("--output", type=Path, metavar="FILE",
                     help="with --model: where to write it (default: answer.decision_file, "
                          "which the service prefers to the shipped model)")
    cal.add_argument("--dry-run", action="store_true",
                     help="show the curve and the choice, write no threshold")
    cmp = sub.add_parser("compare", help="metric deltas between two runs (B minus A)")
    cmp.add_argument("run_a", help="run folder, metrics.json or baseline name")
    cmp.add_argument("run_b", help="run folder, metrics.json or baseline name")
    cmp.add_argument("--gates", type=Path, help="also apply these gates to B against A")
    cmp.add_argument("--baselines-dir", type=Path, default=EVAL_DIR / "baselines",
                     help=argparse.SUPPRESS)
    from eval.qa import add_arguments

    add_arguments(sub.add_parser("qa", help="evaluate a set over a corpus of documents"))
    return parser.parse_args(argv)


def compare_command(args: argparse.Namespace) -> int:
    """Print the deltas of B against A, and the questions whose outcome changed."""
    from eval.compare import compare_runs

    return compare_runs(args.run_a, args.run_b, baselines_dir=args.baselines_dir,
                        gates=args.gates)


def main(argv: list[str] | None = None, *, settings: Settings | None = None,
         embedder: Embedder | None = None) -> int:
    """Entry point. ``settings`` and ``embedder`` let tests reuse loaded models."""
    prepare_process()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("absl", "faiss.loader", "matplotlib", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parse_args(argv)
    try:
        settings = settings or get_settings()
    except RagError as exc:  # an unknown variable or an invalid value: one line
        print(f"configuration error: {exc}", file=sys.stderr)
        return 1
    from eval.commands import calibrate_command, run_command
    from eval.datasets import DatasetError
    from eval.gates import GateConfigError
    from eval.qa import qa_command

    try:
        if args.command == "run":
            return run_command(args, settings, embedder=embedder)
        if args.command == "calibrate":
            return calibrate_command(args, settings, embedder=embedder)
        if args.command == "qa":
            return qa_command(args, settings, embedder=embedder)
        return compare_command(args)
    except (DatasetError, GateConfigError, RagError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
