"""Scoring a sentence-transformers ``CrossEncoder`` with ONNX Runtime instead of torch.

The model is exported once, with its own modules (transformer, pooling, score head), to an
ONNX file kept in a cache folder under a name derived from its weights, optionally with int8
dynamic quantisation of the weights (``onnxruntime.quantization``). Pairs are tokenised by the
CrossEncoder itself and the logits go through its own activation, so only the runtime
changes: in fp32 the scores equal torch's to float precision; in int8 they move by about as
much as torch's own int8 scores do. ONNX Runtime's int8 kernels are faster than torch's
dynamic quantisation on a CPU (see ``python -m eval.models.latency --backend onnx``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import ConfigurationError

logger = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_key(source: str) -> str:
    """Names a model's weights: a hash of a folder's config and weight files (all of their
    bytes), or of the id when ``source`` is not a folder."""
    folder = Path(source)
    h = hashlib.sha256()
    if not folder.is_dir():
        h.update(source.encode())
        return h.hexdigest()[:20]
    for name in sorted(os.listdir(folder)):
        if name.endswith((".safetensors", ".bin", ".json")) and (folder / name).is_file():
            h.update(name.encode())
            with (folder / name).open("rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    h.update(block)
    return h.hexdigest()[:20]


def export(model: Any, path: Path, *, int8: bool) -> Path:
    """Write ``model`` (a CrossEncoder on the CPU) to ``path`` as ONNX, int8 if asked.

    The file appears complete or not at all: it is written under a temporary name first.
    """
    import torch

    features = model.preprocess([("a question", "a passage")])
    names = [n for n in INPUTS if isinstance(features.get(n), torch.Tensor)]

    class Scores(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors, strict=True)))["scores"]

    path.parent.mkdir(parents=True, exist_ok=True)
    plain = path.with_name(f"{path.name}.{os.getpid()}.fp32.tmp")  # one per exporting process
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"scores": {0: "batch"}}
    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(Scores(), tuple(features[n] for n in names), str(plain),
                          input_names=names, output_names=["scores"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    done = plain
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        done = path.with_name(f"{path.name}.{os.getpid()}.int8.tmp")
        quantize_dynamic(str(plain), str(done), weight_type=QuantType.QInt8)
        plain.unlink()
    os.replace(done, path)
    logger.info("exported the reranker to %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def require_onnx_runtime() -> Any:
    """ONNX Runtime, or a ConfigurationError that says how to install it."""
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
        import onnxruntime
    except ImportError as exc:
        raise ConfigurationError(
            "the onnx reranker backend needs ONNX Runtime: install the onnx extra "
            "(pip install 'groundline[onnx]') or set GROUNDLINE_RETRIEVAL__RERANKER_BACKEND=torch"
        ) from exc
    return onnxruntime


class OnnxScorer:
    """``predict(pairs)`` of a CrossEncoder, run by ONNX Runtime on the CPU."""

    def __init__(self, model: Any, *, source: str, cache_dir: Path, int8: bool,
                 threads: int = 1) -> None:
        """Export ``model`` to ``cache_dir`` unless its file is there, and open a session.

        Args:
            model: The loaded CrossEncoder (fp32); it keeps tokenising and activating.
            source: The folder or id it was loaded from (names the cached file).
            cache_dir: Where exported files are kept.
            int8: Quantise the weights to int8.
            threads: ONNX Runtime's intra-op threads.
        """
        ort = require_onnx_runtime()
        self._model = model
        self.path = cache_dir / f"{model_key(source)}{'-int8' if int8 else ''}.onnx"
        if not self.path.exists():
            export(model, self.path, int8=int8)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(self.path), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    def predict(self, pairs: Sequence[tuple[str, str]], *, batch_size: int) -> np.ndarray:
        """Probabilities (the model's activation of its logit) of the pairs, in order.

        Pairs are batched by length, longest first, so a batch pads little.
        """
        import torch

        order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
        out = np.empty(len(pairs), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            features = self._model.preprocess([pairs[i] for i in rows])
            logits = self._session.run(None, {n: features[n].numpy() for n in self._inputs})[0]
            with torch.no_grad():
                probs = self._model.activation_fn(torch.from_numpy(logits))
            out[rows] = probs.numpy().reshape(-1)
        return out
