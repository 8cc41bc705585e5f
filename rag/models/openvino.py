"""Graphs on OpenVINO: int8 weights in memory, bf16 arithmetic where the CPU has it.

The exported fp32 graph is rewritten so that its large weights are stored as int8 with one scale
per output channel (or per row of an embedding table), behind a ``DequantizeLinear``: the word
embeddings always, each MatMul's weights too unless the graph is to keep them in float. OpenVINO's
CPU plugin keeps such weights int8 and decompresses them inside its kernels, and on CPUs with AMX or
AVX-512 BF16 it computes in bf16 by default (f32 elsewhere). Activations stay in floating point, so
the outputs follow the fp32 model far more closely than ONNX Runtime's dynamic int8 (activations
quantised too). Float matrices cost memory (≈ 115 MB more for a 12-layer e5-small) and read ≈ 12 %
faster than int8 ones: the reader keeps them, the e5 encoder does not (docs/experiments/speed.md).
Compiled graphs are cached next to the graph (``openvino-cache/``), so later loads take ~0.2 s.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import shutil
import threading
from pathlib import Path

import numpy as np

from rag.errors import ModelError, require

log = logging.getLogger(__name__)

MIN_QUANTISED = 4096  # weights smaller than this (biases, the QA head) stay fp32


def weight_only_int8(source: Path, target: Path, matmuls: bool = True) -> Path:
    """``source`` with its MatMul weights (unless ``matmuls`` is False) and embedding tables as
    symmetric per-channel int8.

    Written here rather than with ``nncf.compress_weights`` (OpenVINO's tool for the same): that
    would add nncf and its dependencies to the install for these few lines; ONNX Runtime's
    quantiser has no weight-only int8 mode that OpenVINO reads."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    uses: dict[str, set[tuple[str, int]]] = {}
    for node in graph.node:
        for slot, name in enumerate(node.input):
            uses.setdefault(name, set()).add((node.op_type, slot))
    dequantise = []
    for init in list(graph.initializer):
        weight = numpy_helper.to_array(init)
        kinds = uses.get(init.name, set())
        if weight.dtype != np.float32 or weight.ndim != 2 or weight.size < MIN_QUANTISED or not kinds:
            continue
        if kinds <= {("MatMul", 1)} and matmuls:
            axis = 1  # [in, out]: a scale per output column
        elif kinds <= {("Gather", 0)}:
            axis = 0  # [vocabulary, width]: a scale per row
        else:
            continue
        scale = np.abs(weight).max(axis=1 - axis) / 127.0
        scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
        shaped = scale[None, :] if axis == 1 else scale[:, None]
        q = np.clip(np.rint(weight / shaped), -127, 127).astype(np.int8)
        names = (init.name + "_int8", init.name + "_scale", init.name + "_zero")
        graph.initializer.remove(init)
        graph.initializer.extend([numpy_helper.from_array(q, names[0]), numpy_helper.from_array(scale, names[1]),
                                  numpy_helper.from_array(np.zeros(scale.shape, np.int8), names[2])])
        dequantise.append(helper.make_node("DequantizeLinear", list(names), [init.name], axis=axis,
                                           name=init.name + "_dequantise"))
    for node in reversed(dequantise):
        graph.node.insert(0, node)
    onnx.save(model, str(target))
    log.info("%d weights stored as int8", len(dequantise))
    return target


MAX_REQUESTS = 2  # inference requests a graph keeps: each holds its own activation buffers


class OpenVinoGraph:
    """A compiled graph; ``run(inputs)`` → its outputs as numpy arrays. Safe to call from several
    threads: they share at most ``MAX_REQUESTS`` inference requests (a server's many worker threads
    would otherwise each keep one for good). The CPU plugin keeps memory for the largest input it
    has run: callers bound their batches (``rag.models.e5_onnx.TOKEN_BUDGET``)."""

    def __init__(self, source, threads: int | None = None):
        """``source``: an ONNX graph's path (its compiled copy cached beside it) or an
        ``openvino.Model`` built in memory."""
        settings = {"INFERENCE_NUM_THREADS": threads or max(1, os.cpu_count() or 1), "PERFORMANCE_HINT": "LATENCY"}
        self.compiled = _compile_cached(source, settings) if isinstance(source, Path) else \
            _core().compile_model(source, "CPU", settings)
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._made = 0
        self._lock = threading.Lock()

    def _borrow(self):
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                if self._made < MAX_REQUESTS:
                    self._made += 1
                    return self.compiled.create_infer_request()
            return self._idle.get()

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        request = self._borrow()
        try:
            result = request.infer(inputs)
            # copies: the request reuses its output buffers at the next call
            return [np.array(result[out]) for out in self.compiled.outputs]
        finally:
            self._idle.put(request)


def _compile_cached(path: Path, settings: dict):
    cache = path.parent / "openvino-cache"
    try:
        return _core().compile_model(str(path), "CPU", dict(settings, CACHE_DIR=str(cache)))
    except RuntimeError:
        # a damaged compiled copy must not stop the model from loading: compile from the graph
        log.warning("OpenVINO could not load %s from its cache; compiling it again", path.name)
        shutil.rmtree(cache, ignore_errors=True)
        return _core().compile_model(str(path), "CPU", settings)


@functools.lru_cache(maxsize=1)
def _core():
    """The process's one OpenVINO ``Core`` (it loads the CPU plugin); every graph compiles on it."""
    ov = require("openvino", ModelError("the models run on OpenVINO, which is not installed: pip install "
                                        "'openvino>=2025.4,<2027' (or set RAG_READER_RUNTIME=onnx-int8 for the reader)"))
    return ov.Core()
