"""What every reader shares: the ``Span`` it returns, the ``Reader`` protocol, the choice of reader.

A reader follows the protocol of Haystack's components: ``__init__`` takes only the
configuration and loads nothing; ``warm_up()`` loads models (once); ``run(question,
passages)`` returns candidate spans, best first; ``threshold`` is the confidence below which
its answers are withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.config import Config
from rag.errors import ConfigError
from rag.retrieval.retriever import Passage


@dataclass(frozen=True)
class Span:
    """A candidate answer: ``[start, end)`` in the passage's document *cleaned* text."""

    passage: Passage
    start: int
    end: int
    score: float  # confidence in [0, 1]
    logit: float = 0.0  # the reader's raw span score (start + end logit)…
    null: float = 0.0  # …and its window's no-answer score

    @property
    def text(self) -> str:
        base = self.passage.chunk.clean_start
        return self.passage.chunk.text[self.start - base:self.end - base]


class Reader(Protocol):
    def __init__(self, cfg: Config) -> None: ...

    @property
    def threshold(self) -> float: ...

    def warm_up(self) -> None: ...

    def run(self, question: str, passages: list[Passage]) -> list[Span]: ...


def sigmoid(z):
    """The logistic function, for a number or an array (clipped so ``exp`` never overflows)."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the reader's span-over-null margin: ``sigmoid(scale · margin + bias)``."""

    scale: float = 1.0
    bias: float = 0.0

    def confidence(self, margin):
        return sigmoid(self.scale * np.asarray(margin, dtype=float) + self.bias)


def make_reader(cfg: Config) -> Reader:
    """The reader named by ``cfg.reader`` (one line of configuration to switch)."""
    from rag.reader.neural import NeuralReader
    from rag.reader.sentence import SentenceReader

    readers = {"neural": NeuralReader, "sentence": SentenceReader}
    if cfg.reader not in readers:
        raise ConfigError(f"unknown reader '{cfg.reader}'; choose one of {sorted(readers)}")
    return readers[cfg.reader](cfg)
