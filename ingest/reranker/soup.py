"""Average the weights of rerankers trained from the same start (a uniform "model soup").

Models fine-tuned from the same pretrained weights with different seeds (different negatives
and batch order) stay close enough in weight space that their average is itself a good
model, usually steadier than any one of them on text unlike the training data (Wortsman et
al., 2022, "Model soups"). It scores exactly as fast as one of them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WEIGHTS = "model.safetensors"  # the encoder's, and each module folder's own (the head's)


def average_weights(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The element-wise mean of state dicts with the same keys and shapes."""
    if not states:
        raise ValueError("nothing to average")
    keys = set(states[0])
    for s in states[1:]:
        if set(s) != keys:
            raise ValueError("the models do not have the same parameters")
    out = {}
    for k in states[0]:
        shapes = {tuple(s[k].shape) for s in states}
        if len(shapes) != 1:
            raise ValueError(f"{k}: shapes differ {sorted(shapes)}")
        if states[0][k].is_floating_point():
            out[k] = sum(s[k].double() for s in states) / len(states)
            out[k] = out[k].to(states[0][k].dtype)
        else:
            out[k] = states[0][k].clone()
    return out


def soup(folders: Sequence[Path], out: Path) -> dict[str, object]:
    """Write the average of the reranker ``folders`` to ``out`` and return its record.

    ``out`` gets the first folder's tokenizer and configuration, the averaged weights and a
    ``training.json`` holding the first model's parameters and every ingredient's record.
    """
    from safetensors.torch import load_file, save_file

    if len(folders) < 2:
        raise ValueError("a soup needs at least two models")
    if any(out.resolve() == f.resolve() for f in folders):
        raise ValueError("the soup must not overwrite one of its models")
    records = [json.loads((f / "training.json").read_text(encoding="utf-8"))
               if (f / "training.json").exists() else {} for f in folders]
    params = [r.get("params", {}) for r in records]
    for key in ("layers", "max_length", "focus"):
        if len({json.dumps(p.get(key)) for p in params}) != 1:
            raise ValueError(f"the models differ in {key}: they cannot be averaged")
    files = sorted(p.relative_to(folders[0]) for p in folders[0].rglob(WEIGHTS))
    if not files:
        raise ValueError(f"{folders[0]} holds no {WEIGHTS}")
    averaged = {rel: average_weights([load_file(str(f / rel)) for f in folders])
                for rel in files}
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folders[0], out, ignore=shutil.ignore_patterns(WEIGHTS, "training.json",
                                                                   "README.md"))
    for rel, state in averaged.items():
        save_file(state, str(out / rel), metadata={"format": "pt"})
    first = records[0]
    record: dict[str, object] = {
        "base_model": first.get("base_model"), "init": None, "params": first.get("params", {}),
        "soup_of": [{"folder": f.name, "seed": r.get("params", {}).get("seed"),
                     "train_loss": r.get("train_loss"), "train_seconds": r.get("train_seconds")}
                    for f, r in zip(folders, records, strict=True)],
        "pairs": first.get("pairs"), "positives": first.get("positives"),
        "train_seconds": round(sum(float(r.get("train_seconds") or 0) for r in records), 1),
        "train_loss": first.get("train_loss"),
        "torch": first.get("torch"), "python": first.get("python"),
        "data": first.get("data", {}),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record
