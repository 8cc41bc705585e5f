"""How the QA model runs: PyTorch, or ONNX Runtime with int8 weights (the default).

An engine is a callable ``(input_ids, attention_mask) -> (start_logits, end_logits)`` on
numpy arrays, so reading and held-out evaluation use either the same way.

The ONNX model is derived from the torch model (base encoder + trained delta) on first
use and cached under ``RAG_HOME/reader-onnx/<delta checksum>/``: exported with
``torch.onnx`` and quantised with ONNX Runtime's dynamic int8 (per-channel weights,
word-embedding table included). Measured in ``models/reader/MODEL_CARD.md``: same
held-out F1 within noise, ~3× faster on these CPUs and a quarter of the memory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from rag.errors import ConfigError

log = logging.getLogger(__name__)

RUNTIMES = ("onnx-int8", "onnx", "torch")


class TorchEngine:
    def __init__(self, model):
        self.model = model

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray):
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
        return out.start_logits.numpy(), out.end_logits.numpy()


class OnnxEngine:
    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle ORT threads would otherwise spin and slow the torch embedder that runs next
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray):
        start, end = self.session.run(None, {"input_ids": input_ids.astype(np.int64),
                                             "attention_mask": attention_mask.astype(np.int64)})
        return start, end


def export_onnx(model, target: Path) -> Path:
    """The torch QA model as an ONNX graph with dynamic batch and length."""
    import torch

    ids = torch.ones((2, 16), dtype=torch.long)
    tmp = target.with_name(target.name + ".part")
    torch.onnx.export(
        model, (ids, torch.ones_like(ids)), str(tmp), input_names=["input_ids", "attention_mask"],
        output_names=["start_logits", "end_logits"], opset_version=17, dynamo=False,
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "start_logits", "end_logits")},
    )
    tmp.replace(target)
    return target


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation: weights per channel, activations at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(target.name + ".part")
    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather"])
    tmp.replace(target)
    return target


def onnx_model(model_loader, cache: Path, int8: bool) -> Path:
    """The cached ONNX file for this model, built on first use (about a minute) under the
    artefact's lock, in a private folder, then published (``rag.models.cache``);
    ``model_loader()`` gives the torch model and is called only when building."""
    from rag.models.cache import artefact_lock, private_folder, publish, stage

    wanted = cache / ("reader-int8.onnx" if int8 else "reader.onnx")
    if wanted.is_file():
        return wanted
    with artefact_lock(wanted, "the ONNX reader"):
        if wanted.is_file():  # another process built it while this one waited
            return wanted
        with private_folder(wanted) as work:
            with stage("exporting the reader to ONNX"):
                built = export_onnx(model_loader(), work / "reader.onnx")
            if int8:
                with stage("quantising the reader to int8"):
                    built = quantize_int8(built, work / "reader-int8.onnx")
            publish(built, wanted)
    return wanted


def make_engine(runtime: str, model_loader, cache: Path):
    """An engine for ``runtime``; ``model_loader()`` gives the torch model when needed."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown reader runtime '{runtime}'; choose one of {', '.join(RUNTIMES)}")
    if runtime == "torch":
        return TorchEngine(model_loader())
    path = onnx_model(model_loader, cache, int8=runtime == "onnx-int8")
    return OnnxEngine(path, threads=max(1, os.cpu_count() or 1))
