"""Which entity a DSTC10 turn is about: the choice must not depend on string hashing."""

from __future__ import annotations

import os
import subprocess
import sys

from eval.models.adapters import entity_patterns, last_entity
from ingest.models.reranker.faq import FaqEntry


def entries(*names: str) -> list[FaqEntry]:
    return [FaqEntry(f"hotel:{i}:0", n, "Is parking free?", "Yes.") for i, n in enumerate(names)]


def test_longest_name_first_then_alphabetical() -> None:
    patterns = entity_patterns(entries("Bridge Inn", "Acorn Inn", "Avalon Hotel", "taxi"))
    assert [n for n, _ in patterns] == ["Avalon Hotel", "Bridge Inn", "Acorn Inn"]


def test_a_turn_naming_two_entities_of_equal_length_gets_the_same_one_every_run() -> None:
    script = ("from eval.models.adapters import entity_patterns, last_entity\n"
              "from ingest.models.reranker.faq import FaqEntry\n"
              "names = ['Acorn Inn', 'Oakes Inn', 'Eagle Inn', 'Lions Inn', 'Birch Inn']\n"
              "es = [FaqEntry(f'h:{i}:0', n, 'q', 'a') for i, n in enumerate(names)]\n"
              "print(last_entity(['compare lions inn and eagle inn and oakes inn'],"
              " entity_patterns(es)))\n")
    seen = set()
    for seed in ("1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True)
        seen.add(out.stdout.strip())
    assert seen == {"Eagle Inn"}


def test_the_latest_turn_naming_an_entity_wins() -> None:
    patterns = entity_patterns(entries("Acorn Inn", "Avalon Hotel"))
    assert last_entity(["i like the acorn inn", "what about avalon hotel", "is it cheap"],
                       patterns) == "Avalon Hotel"
    assert last_entity(["hello"], patterns) is None
