"""``python -m eval.models``: evaluate the models the service ships.

Commands (``python -m eval.models COMMAND --help`` for each one's options):

  ranking  ranking quality of BM25, dense, hybrid and hybrid + rerank on a dataset (BEIR
           SciFact, DSTC10 spoken turns, a help-center question set), at rerank depths and
           blend weights; writes a JSON report to var/eval and prints a table
  latency  the reranker's latency on 20 help-center chunks for one question, one thread
  card     write the shipped reranker's model card from the reports in var/eval

``make bench-reranker`` runs ranking on every dataset and latency; ``make reranker-card``
then writes the card.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence


def _command(name: str) -> Callable[[Sequence[str]], int]:
    """The ``main(argv)`` of a command, imported only when it runs."""
    if name == "ranking":
        from eval.models.ranking import main as ranking
        return ranking
    if name == "latency":
        from eval.models.latency import main as latency
        return latency
    from eval.models.card import main as card
    return card


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: dispatches to the command named first in ``argv``."""
    parser = argparse.ArgumentParser(prog="python -m eval.models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("ranking", "latency", "card"))
    parser.add_argument("options", nargs=argparse.REMAINDER,
                        help="the command's options (see its --help)")
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return _command(args.command)(args.options)


if __name__ == "__main__":
    sys.exit(main())
