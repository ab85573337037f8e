"""``python -m ingest.reranker data|train``: build the training pairs, train the reranker.

``data`` writes ``pairs.jsonl``, ``dev.jsonl`` (held-out queries) and ``data.json`` (counts)
to ``--work``; ``train`` assembles the same pairs (deterministically) and trains the model
into ``--out`` with ``training.json`` beside the weights. ``make train-reranker`` runs the
full training; ``--max-pairs`` and ``--faq-queries`` make small smoke runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from app.settings import get_settings
from ingest.reranker.data import DataPaths, assemble, save
from ingest.reranker.records import DataParams
from ingest.reranker.train import TrainParams, train

logger = logging.getLogger("ingest.reranker")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ingest.reranker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("data", "train"))
    parser.add_argument("--work", type=Path, default=Path("var/reranker"),
                        help="where pairs and counts are written (default var/reranker)")
    parser.add_argument("--out", type=Path, default=Path("data/models/support-reranker"),
                        help="model folder (default data/models/support-reranker)")
    parser.add_argument("--faq", type=Path, default=DataPaths().faq,
                        help="DSTC10 FAQ kb.jsonl (skipped with a warning when absent)")
    parser.add_argument("--faq-queries", type=int, default=DataParams().faq_queries)
    parser.add_argument("--layers", type=int, default=TrainParams().layers)
    parser.add_argument("--max-length", type=int, default=TrainParams().max_length)
    parser.add_argument("--epochs", type=float, default=TrainParams().epochs)
    parser.add_argument("--learning-rate", type=float, default=TrainParams().learning_rate)
    parser.add_argument("--max-pairs", type=int, default=0, help="train on the first n pairs")
    parser.add_argument("--seed", type=int, default=13)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    data_params = DataParams(seed=args.seed, faq_queries=args.faq_queries)
    result = assemble(get_settings(), params=data_params,
                      paths=DataPaths(faq=args.faq, cache=args.work.parent / "cache" / "reranker"))
    args.work.mkdir(parents=True, exist_ok=True)
    save(result, args.work)
    print(json.dumps(result.stats, indent=2))
    if args.command == "data":
        return 0
    params = TrainParams(layers=args.layers, max_length=args.max_length, epochs=args.epochs,
                         learning_rate=args.learning_rate, seed=args.seed,
                         max_pairs=args.max_pairs)
    record = train(result.pairs, out=args.out, params=params, data_stats=result.stats)
    print(json.dumps({k: v for k, v in record.items() if k != "data"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
