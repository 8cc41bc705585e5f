"""Models as ONNX graphs: derived once from their torch form, cached, run without torch
(on OpenVINO, ``rag.models.openvino``, or ONNX Runtime, here).

A graph is exported with eager attention (the default SDPA export masks scores with
``Where``/``IsNaN`` nodes that took a third of the reader's time), optionally fused by ONNX
Runtime's BERT optimizer (one ``Attention``, ``SkipLayerNormalization`` and ``BiasGelu`` node a
layer), and quantised: dynamic int8 for ONNX Runtime (per-channel weights, the word-embedding
table included, activations quantised at run time), or for OpenVINO int8 weights only (every
MatMul and the embedding table, or the embedding table alone).
docs/experiments/speed.md has the figures. Serving imports only the runtime; building imports
torch, once per ``RAG_HOME``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

# part of every cached graph's path: a change to how graphs are built rebuilds them
GRAPH_VERSION = "g3"


def inference_session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU inference engine for the graph at ``path``, using every core."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle threads would otherwise spin after each call and slow whichever model runs next
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # no arena: it keeps the peak of the largest batch so far (380 MB after one ingest batch)
    opts.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


# each quantisation and its part of a graph's file name ("w8": int8 weights only; "e8": only the
# embedding table int8)
GRAPH_NAMES = {"dynamic": "int8", "weights": "w8", "embeddings": "e8", "none": "fp32"}


def graph_file(artefact: str, quantise: str) -> str:
    """The file name of ``artefact``'s graph quantised as ``quantise`` (``GRAPH_NAMES``)."""
    return f"{artefact}-{GRAPH_NAMES[quantise]}-{GRAPH_VERSION}.onnx"


def cached_graph(folder: Path, artefact: str, quantise: str, what: str, build: Callable[[Path], Path],
                 keep: tuple[str, ...] = ()) -> Path:
    """``artefact``'s graph quantised as ``quantise`` in ``folder`` (``graph_file``), built on first
    use by ``build(work_folder)`` under the artefact's lock, in a private folder, then published
    (``rag.models.cache``). The artefact's other graphs are removed then — older versions, and
    quantisations no longer used — but for the current versions of the quantisations in ``keep``
    (those other runtimes still read)."""
    from rag.models.cache import artefact_lock, private_folder, publish, stage

    wanted = Path(folder) / graph_file(artefact, quantise)
    if wanted.is_file():
        return wanted
    with artefact_lock(wanted, what):
        if wanted.is_file():  # another process built it while this one waited
            return wanted
        with private_folder(wanted) as work, stage(f"building {what} as an ONNX graph"):
            publish(build(work), wanted)
        kept = {graph_file(artefact, q) for q in (quantise, *keep)}
        # a process still running an old graph keeps reading it: removal only unlinks the name
        for stale in wanted.parent.glob(f"{artefact}-*.onnx"):
            if stale.name not in kept:
                stale.unlink(missing_ok=True)
        # OpenVINO's compiled copies of this folder's graphs (rag.models.openvino) are made again
        shutil.rmtree(wanted.parent / "openvino-cache", ignore_errors=True)
    return wanted


def build_bert_graph(module, bert_config, outputs: dict[str, dict[int, str]], work: Path,
                     quantise: str = "dynamic", fuse: bool = True) -> Path:
    """Export ``module`` (a torch module over ``(input_ids, attention_mask)`` whose encoder is a
    BERT with ``bert_config``; ``outputs`` names each output and its dynamic axes), fuse it for
    ONNX Runtime unless ``fuse`` is False, and quantise it: ``dynamic`` int8 for ONNX Runtime,
    int8 ``weights`` only or int8 ``embeddings`` only for OpenVINO (``rag.models.openvino``,
    unfused graphs), or ``none``."""
    if quantise not in GRAPH_NAMES:
        raise ValueError(f"quantise must be one of {tuple(GRAPH_NAMES)}, not {quantise!r}")
    path = _export(module, outputs, work / "exported.onnx")
    _release_memory()
    if fuse:
        path = _fuse(path, bert_config, work / "fused.onnx")
        _release_memory()
    if quantise in ("weights", "embeddings"):
        from rag.models.openvino import weight_only_int8

        return weight_only_int8(path, work / "int8-weights.onnx", matmuls=quantise == "weights")
    return _quantize_int8(path, work / "int8.onnx") if quantise == "dynamic" else path


def _release_memory() -> None:
    """Hand freed memory back to the system between build steps, so their peaks do not add up."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def eager_attention(model):
    """``model`` switched to eager attention, which exports to plain additive masking."""
    model.set_attn_implementation("eager")
    return model


def _export(module, outputs: dict[str, dict[int, str]], target: Path) -> Path:
    import torch

    ids = torch.ones((2, 16), dtype=torch.long)
    inputs = {n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask")}
    torch.onnx.export(module.eval(), (ids, torch.ones_like(ids)), str(target), input_names=list(inputs),
                      output_names=list(outputs), opset_version=17, dynamo=False, dynamic_axes=inputs | outputs)
    return target


def _fuse(source: Path, bert_config, target: Path) -> Path:
    from onnxruntime.transformers import optimizer

    # opt_level 0: the same fusions in Python alone (ONNX Runtime's own pass, which the inference
    # engine runs at load anyway, would add 1.2 GB to the build's peak memory)
    fused = optimizer.optimize_model(str(source), model_type="bert", num_heads=bert_config.num_attention_heads,
                                     hidden_size=bert_config.hidden_size, opt_level=0)
    fused.save_model_to_file(str(target))
    return target


def _quantize_int8(source: Path, target: Path) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # plain graphs: MatMul and the embedding Gathers; fused ones: MatMul, Attention and the
    # embeddings inside EmbedLayerNormalization, fused nodes being outside ONNX's type inference
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather", "Attention", "EmbedLayerNormalization"],
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return target
