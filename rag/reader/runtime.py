"""How the QA model runs: OpenVINO with an int8 embedding table and float matrices (the default),
ONNX Runtime with dynamic int8 or fp32, or PyTorch.

An engine is a callable ``(input_ids, attention_mask) -> (start_logits, end_logits)`` on
numpy arrays, so reading and held-out evaluation use either the same way.

The ONNX graph is derived from the torch model (base encoder + trained delta) on first use
and cached under ``RAG_HOME/reader-onnx/<delta checksum>/`` (``rag.models.onnx``: eager-attention
export; the embedding table int8 for OpenVINO, dynamic int8 for ONNX Runtime). Held-out F1 of each runtime
is in ``models/reader/reader.json``; speed in docs/experiments/speed.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rag.errors import ConfigError

log = logging.getLogger(__name__)

RUNTIMES = ("openvino", "onnx-int8", "onnx", "torch")
# how each ONNX runtime's graph is quantised (rag.models.onnx.build_bert_graph). OpenVINO: the
# embedding table int8, the matrices float — 12 % faster reading than int8 matrices and closer to
# fp32 (logit correlation 0.99994 against 0.99976), for ≈ 115 MB more (docs/experiments/speed.md)
QUANTISATION = {"openvino": "embeddings", "onnx-int8": "dynamic", "onnx": "none"}


class TorchEngine:
    def __init__(self, model):
        self.model = model

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray):
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
        return out.start_logits.numpy(), out.end_logits.numpy()


class OnnxEngine:
    def __init__(self, path: Path, threads: int | None = None):
        from rag.models.onnx import inference_session

        self.path = path
        self.session = inference_session(path, threads)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray):
        start, end = self.session.run(None, {"input_ids": input_ids.astype(np.int64),
                                             "attention_mask": attention_mask.astype(np.int64)})
        return start, end


class OpenVinoEngine:
    def __init__(self, path: Path, threads: int | None = None):
        from rag.models.openvino import OpenVinoGraph

        self.path = path
        self.graph = OpenVinoGraph(path, threads)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray):
        start, end = self.graph.run({"input_ids": input_ids.astype(np.int64),
                                     "attention_mask": attention_mask.astype(np.int64)})
        return start, end


def onnx_model(model_loader, cache: Path, quantise: str = "dynamic") -> Path:
    """The cached ONNX graph of the QA model, built on first use (about a minute);
    ``model_loader()`` gives the torch model and is called only when building."""
    from rag.models.onnx import build_bert_graph, cached_graph, eager_attention

    def build(work: Path) -> Path:
        model = eager_attention(model_loader())
        # not fused: the fused int8 attention shifts no-answer scores (correlation with fp32 0.978
        # against 0.990) and answered worse on the open corpus with a refitted answer scorer
        # (docs/experiments/speed.md); the answer scorer is fitted on this graph
        return build_bert_graph(model, model.config, {n: {0: "batch", 1: "tokens"} for n in ("start_logits", "end_logits")},
                                work, quantise=quantise, fuse=False)

    # the other runtimes' graphs stay; a graph no runtime reads any more goes
    return cached_graph(cache, "reader", quantise, "the reader", build, keep=tuple(QUANTISATION.values()))


def make_engine(runtime: str, model_loader, cache: Path, threads: int | None = None):
    """An engine for ``runtime``; ``model_loader()`` gives the torch model when needed."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown reader runtime '{runtime}'; choose one of {', '.join(RUNTIMES)}")
    if runtime == "torch":
        return TorchEngine(model_loader())
    graph = onnx_model(model_loader, cache, QUANTISATION[runtime])
    return OpenVinoEngine(graph, threads) if runtime == "openvino" else OnnxEngine(graph, threads)
