"""The baseline reader: the clause of the top passages closest in meaning to the question."""

from __future__ import annotations

import re

import numpy as np

from rag.config import Config
from rag.index.embeddings import Embedder
from rag.reader.base import Span
from rag.retrieval.retriever import Passage

_CLAUSE_END = re.compile(r"[。！？!?；;\n]+|(?<=[a-z0-9)\]])\.(?=\s)")


def _clauses(passage: Passage) -> list[tuple[int, int]]:
    """(start, end) of clauses in document cleaned-text coordinates."""
    text, base, out, pos = passage.chunk.text, passage.chunk.clean_start, [], 0
    for m in _CLAUSE_END.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    spans = []
    for s, e in out:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e - s >= 2:
            spans.append((base + s, base + e))
    return spans


class SentenceReader:
    """Baseline: the clause most similar to the question (e5 cosine), from the top passages."""

    passages_read = 3
    threshold = 0.5  # the baseline's rescaled cosine: half way

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.embedder = Embedder(cfg)

    def warm_up(self) -> None:
        self.embedder.queries(["warm up"])

    def run(self, question: str, passages: list[Passage]) -> list[Span]:
        items = [(p, s, e) for p in passages[: self.passages_read] for s, e in _clauses(p)]
        if not items:
            return []
        texts = [p.chunk.text[s - p.chunk.clean_start:e - p.chunk.clean_start] for p, s, e in items]
        q = self.embedder.queries([question])
        c = self.embedder.passages(texts)
        sims = sum(c[f] @ q[f][0] for f in q) / len(q)
        order = np.argsort(-sims)
        # the baseline's confidence is its cosine rescaled; it abstains below 0.5
        return [Span(items[i][0], items[i][1], items[i][2], float(np.clip((sims[i] - 0.3) * 2, 0, 1)))
                for i in order[: self.cfg.answers * 2]]
