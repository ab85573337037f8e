"""``python -m ingest.models.reranker data|train|finetune``: training pairs, training, fine-tuning.

``data`` writes ``pairs.jsonl``, ``dev.jsonl`` (held-out queries) and ``data.json`` (counts)
to ``--work``; ``train`` assembles the same pairs (deterministically) and trains the model
into ``--out`` with ``training.json`` beside the weights. ``make train-reranker`` runs the
full training; ``--max-pairs`` and ``--faq-queries`` make small smoke runs.

``finetune`` continues from ``--base`` (the shipped model by default) on the operator's own
tickets (``--tickets``, linked to ``--kb`` articles) and, with ``--feedback``, the thumbs
recorded by the service, and writes a new model folder to ``--out`` (never over the base).
Compare it with the base on the held-out tickets (``make finetune-reranker`` runs both)::

    python -m eval.models ranking --dataset questions --set WORK/dev.jsonl --kb KB \
        --reranker BASE --compare OUT
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from app.environment import prepare_process
from app.settings import Settings, get_settings
from ingest.models.reranker.data import DataPaths, assemble, save
from ingest.models.reranker.finetune import OperatorData, assemble_operator
from ingest.models.reranker.records import DataParams
from ingest.models.reranker.train import TrainParams, train

FINETUNE_LR = 3e-5  # continue gently: a few hundred tickets must not undo the base training


def parse_args(argv: list[str] | None, *, settings: Settings) -> argparse.Namespace:
    """The command line, with its folders defaulting to those of ``settings``."""
    parser = argparse.ArgumentParser(prog="python -m ingest.models.reranker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("data", "train", "finetune"))
    work, shipped = settings.var_dir / "reranker", settings.shipped_reranker
    parser.add_argument("--work", type=Path, default=work,
                        help=f"where pairs and counts are written (default {work})")
    parser.add_argument("--out", type=Path, default=shipped,
                        help=f"model folder (default {shipped})")
    parser.add_argument("--faq", type=Path,
                        default=settings.datasets_dir / "dstc10-faq" / "kb.jsonl",
                        help="DSTC10 FAQ kb.jsonl (skipped with a warning when absent)")
    parser.add_argument("--faq-queries", type=int, default=DataParams().faq_queries)
    parser.add_argument("--dev-percent", type=int, default=DataParams().dev_percent,
                        help="share of the questions and tickets held out as dev.jsonl "
                        "(0: train on all of them, once the settings are chosen)")
    parser.add_argument("--noise-share", type=float, default=DataParams().noise_share,
                        help="share of training queries misspelt as typists and speech "
                        "recognisers misspell (0: clean queries only)")
    parser.add_argument("--layers", type=int, default=TrainParams().layers)
    parser.add_argument("--max-length", type=int, default=TrainParams().max_length)
    parser.add_argument("--epochs", type=float, default=TrainParams().epochs)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=f"default {TrainParams().learning_rate} (train), "
                        f"{FINETUNE_LR} (finetune)")
    parser.add_argument("--max-pairs", type=int, default=0, help="train on the first n pairs")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--pos-weight", type=float, default=TrainParams().pos_weight,
                        help="weight of a positive pair's loss against a negative's "
                        "(above 1: missing a right passage costs more than admitting a wrong one)")
    parser.add_argument("--focus", action=argparse.BooleanOptionalAction,
                        default=TrainParams().focus,
                        help="fit long passages around the question's words, as the service "
                        "does for a model trained this way")
    tune = parser.add_argument_group("finetune")
    tune.add_argument("--base", type=Path, default=shipped, help="the model to start from")
    tune.add_argument("--kb", type=Path, default=settings.data_dir / "kb",
                      help="the help center")
    tune.add_argument("--tickets", type=Path, default=settings.data_dir / "tickets",
                      help="resolved tickets, in the format `python -m ingest` reads")
    tune.add_argument("--feedback", action="store_true",
                      help="also learn from thumbs in the service database (settings)")
    return parser.parse_args(argv)


def data_paths(args: argparse.Namespace, settings: Settings) -> DataPaths:
    """Where ``data`` and ``train`` read the help center and keep their embedding cache."""
    data = settings.data_dir
    return DataPaths(kb=data / "kb", tickets=data / "tickets",
                     questions=data / "train" / "questions.jsonl", eval_dir=data / "eval",
                     faq=args.faq, cache=settings.cache_dir / "reranker")


def operator_data(args: argparse.Namespace, settings: Settings) -> OperatorData:
    """What ``finetune`` learns from, and where it keeps its embedding cache."""
    return OperatorData(kb=args.kb, tickets=args.tickets, eval_dir=settings.data_dir / "eval",
                        database_url=settings.resolved_database_url if args.feedback else None,
                        cache=settings.cache_dir / "reranker")


def finetune(args: argparse.Namespace, *, settings: Settings) -> int:
    """Continue training ``--base`` on the operator's tickets and feedback into ``--out``."""
    if args.out.resolve() == args.base.resolve():
        print("--out must differ from --base: a fine-tuned model never replaces its base",
              file=sys.stderr)
        return 2
    record = json.loads((args.base / "training.json").read_text(encoding="utf-8")) \
        if (args.base / "training.json").exists() else {}
    base_params = record.get("params", {})
    try:
        data_params = DataParams(seed=args.seed, noise_share=args.noise_share)
        result = assemble_operator(settings, data=operator_data(args, settings),
                                   params=data_params)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    save(result, args.work)
    print(json.dumps(result.stats, indent=2))
    params = TrainParams(layers=int(base_params.get("layers", args.layers)),
                         max_length=int(base_params.get("max_length", args.max_length)),
                         epochs=args.epochs, learning_rate=args.learning_rate or FINETUNE_LR,
                         seed=args.seed, max_pairs=args.max_pairs,
                         focus=bool(base_params.get("focus", args.focus)))
    out = train(result.pairs, out=args.out, params=params, data_stats=result.stats,
                init=str(args.base))
    print(json.dumps({k: v for k, v in out.items() if k != "data"}, indent=2))
    print("compare: python -m eval.models ranking --dataset questions "
          f"--set {args.work / 'dev.jsonl'} --kb {args.kb} --reranker {args.base} "
          f"--compare {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command (``data``, ``train`` or ``finetune``) and return its exit status."""
    prepare_process()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    args = parse_args(argv, settings=settings)
    if args.command == "finetune":
        return finetune(args, settings=settings)
    data_params = DataParams(seed=args.seed, faq_queries=args.faq_queries,
                             dev_percent=args.dev_percent, noise_share=args.noise_share)
    result = assemble(settings, params=data_params, paths=data_paths(args, settings))
    args.work.mkdir(parents=True, exist_ok=True)
    save(result, args.work)
    print(json.dumps(result.stats, indent=2))
    if args.command == "data":
        return 0
    params = TrainParams(layers=args.layers, max_length=args.max_length, epochs=args.epochs,
                         learning_rate=args.learning_rate or TrainParams().learning_rate,
                         seed=args.seed, max_pairs=args.max_pairs, focus=args.focus,
                         pos_weight=args.pos_weight)
    record = train(result.pairs, out=args.out, params=params, data_stats=result.stats)
    print(json.dumps({k: v for k, v in record.items() if k != "data"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
