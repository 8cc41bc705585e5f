"""The fused score: one weight per retrieval channel, fitted on held-out articles.

``models/retrieval.json`` holds the weights (``rag fit-scorer`` refits them); a candidate's
fused score is its channel columns (``retriever.channel_columns``) dotted with them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelError
from rag.index.embeddings import FIELDS

LEXICAL_CHANNELS = ("bm25", "pinyin", "translated")
CHANNELS = FIELDS + LEXICAL_CHANNELS  # dense fields, then lexical channels


class FusionError(ModelError):
    """The retrieval fusion weights are missing or unreadable."""


@dataclass(frozen=True)
class Fusion:
    """Weight of each retrieval channel's column in the fused score."""

    weights: dict[str, float]

    def vector(self) -> np.ndarray:
        return np.array([self.weights[c] for c in CHANNELS])

    def to_json(self) -> dict:
        return dict(channels=list(CHANNELS), weights={c: round(float(self.weights[c]), 4) for c in CHANNELS})

    @classmethod
    def from_json(cls, data: dict) -> "Fusion":
        weights = data["weights"]
        values = {c: float(weights[c]) for c in CHANNELS}
        if not all(math.isfinite(v) for v in values.values()):
            raise ValueError("a weight is not a finite number")
        return cls(values)

    @classmethod
    def load(cls, path: Path) -> "Fusion":
        """Read and validate a fusion file (``FusionError`` naming the file if unusable)."""
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise FusionError(f"retrieval fusion weights not found at {path}: restore models/retrieval.json "
                              "from the repository or refit them with `rag fit-scorer`") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise FusionError(f"retrieval fusion weights at {path} are unreadable ({e}): restore "
                              "models/retrieval.json from the repository or refit them with `rag fit-scorer`") from e
