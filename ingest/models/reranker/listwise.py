"""Listwise training: each right passage against the wrong ones of the same query, together.

Binary cross-entropy judges every pair on its own: a passage is pushed towards 1 or 0 whatever
the other candidates of its query score. What the service needs is an order: the right passage
above the wrong ones that the first stage retrieved with it. The localised contrastive loss
(Gao, Dai and Callan, "Rethink Training of BERT Rerankers in Multi-Stage Retrieval Pipeline",
ECIR 2021) trains exactly that: a row holds a query, one positive and ``k`` hard negatives
from the same query, and the loss is the softmax cross-entropy of the positive among them.
A share of binary cross-entropy on the same pairs keeps the sigmoid output a probability,
which the blend with the fused score and the optional rerank gate read.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ingest.models.reranker.records import Pair

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder
    from torch import Tensor


def listwise_rows(pairs: Sequence[Pair], *, negatives: int, seed: int) -> list[list[str]]:
    """``[query, positive, negative_1, ..., negative_k]`` for every positive pair, in order.

    Negatives come from the positive's own query (its ``group``). A query with fewer than
    ``negatives`` of them repeats its negatives; a query with none gives no row (unanswerable
    queries and positives without mined negatives teach ranking nothing). Each occurrence of
    a repeated positive draws its own negatives.
    """
    if negatives < 1:
        raise ValueError("a listwise row needs at least one negative")
    rng = random.Random(seed)
    wrong: dict[str, list[str]] = defaultdict(list)
    for p in pairs:
        if p.label < 0.5:
            wrong[p.group].append(p.passage)
    distinct = {group: list(dict.fromkeys(pool)) for group, pool in wrong.items()}
    rows: list[list[str]] = []
    for p in pairs:
        unique = distinct.get(p.group)
        if p.label < 0.5 or not unique:
            continue
        if len(unique) >= negatives:
            chosen = rng.sample(unique, negatives)
        else:
            chosen = [unique[i % len(unique)] for i in range(negatives)]
            rng.shuffle(chosen)
        rows.append([p.query, p.passage, *chosen])
    return rows


def row_columns(rows: Sequence[Sequence[str]]) -> dict[str, list[str]]:
    """The rows as dataset columns: ``query``, ``passage`` (the positive), ``negative_i``."""
    width = len(rows[0]) if rows else 2
    names = ["query", "passage"] + [f"negative_{i}" for i in range(1, width - 1)]
    return {name: [r[i] for r in rows] for i, name in enumerate(names)}


def localised_contrastive_loss(model: CrossEncoder, *, bce_weight: float) -> Any:
    """Softmax cross-entropy of the positive among its row, plus ``bce_weight`` of BCE.

    A loss module for ``CrossEncoderTrainer`` over ``row_columns`` datasets; torch is
    imported here, not when this module is.
    """
    import torch
    from sentence_transformers.util import batch_to_device
    from torch import nn

    class LocalisedContrastiveLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.bce_weight = bce_weight

        def forward(self, inputs: list[list[str]], labels: Tensor | None = None,
                    prompt: str | None = None, task: str | None = None) -> Tensor:
            queries, columns = inputs[0], inputs[1:]
            rows, width = len(queries), len(columns)
            # One forward pass over every pair of the batch, row by row.
            pairs = [[queries[r], columns[c][r]] for r in range(rows) for c in range(width)]
            features = batch_to_device(self.model.preprocess(pairs, prompt=prompt, task=task),
                                       self.model.device)
            logits = self.model(features)["scores"].reshape(rows, width)
            target = torch.zeros(rows, dtype=torch.long, device=logits.device)
            loss = nn.functional.cross_entropy(logits, target)
            if self.bce_weight:
                binary = torch.zeros_like(logits)
                binary[:, 0] = 1.0
                loss = loss + self.bce_weight * nn.functional.binary_cross_entropy_with_logits(
                    logits, binary)
            return loss

        def get_config_dict(self) -> dict[str, float]:
            return {"bce_weight": self.bce_weight}

    return LocalisedContrastiveLoss()
