"""Readers: from retrieved passages, the exact spans that answer the question.

Two readers behind one interface (``run(question, passages) -> list[Span]``), chosen by
``Config.reader``:

- ``neural``: the QA head trained on the e5-small encoder (``rag train-reader``); start/end
  logits over sliding windows; a span's confidence is the answer scorer's probability
  (``rag.answer_scoring``, fitted in the retrieval setting) or, without one,
  ``sigmoid(span − null)`` scaled by the calibration stored with the weights;
- ``sentence``: the baseline, the clause of the top passages closest to the question.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

import numpy as np

from .config import Config
from .retrieval import Passage

# without an answer scorer: chosen on the reader's held-out split (gold paragraphs; it answers
# 93 % of answerable questions there and abstains on 94 % of unanswerable ones)
READER_ONLY_THRESHOLD = 0.3
_CLAUSE_END = re.compile(r"[。！？!?；;\n]+|(?<=[a-z0-9)\]])\.(?=\s)")


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

    def __init__(self, cfg: Config, passages_read: int = 3):
        from .embeddings import Embedder

        self.cfg, self.passages_read = cfg, passages_read
        self.embedder = Embedder(cfg)
        self.threshold = 0.5  # the baseline's rescaled cosine: half way

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


class NeuralReader:
    """The trained extractive QA model, reading the top passages in sliding windows.

    Reading is most of a question's cost, so it is adaptive: the first ``cfg.read_first``
    passages, then the rest of the top ``cfg.passages_read`` only when no span reached the
    calibrated confidence ``cfg.confident``.
    """

    def __init__(self, cfg: Config):
        from .crosslingual import check_anchor_mode

        check_anchor_mode(cfg.question_anchors)  # a bad setting fails here, not at the first question
        self.cfg = cfg
        self._engine = self._tokenizer = self.scorer = None
        self.use_scorer = True  # False: raw reader candidates (what `rag fit-scorer` fits the scorer on)
        self._tokenizer_lock = threading.Lock()
        self.calibration = dict(scale=1.0, bias=0.0)
        self._threshold = READER_ONLY_THRESHOLD

    @property
    def threshold(self) -> float:
        """The abstention threshold fitted with the answer scorer (known once loaded)."""
        self.warm_up()
        return self._threshold

    def warm_up(self) -> None:
        if self._engine is not None:
            return
        from transformers import AutoTokenizer

        from .models import ensure_embedder, load_reader_engine

        engine, meta = load_reader_engine(self.cfg)
        self._tokenizer = AutoTokenizer.from_pretrained(str(ensure_embedder(self.cfg)), local_files_only=True)
        # calibrated per runtime when the export measured it (int8 shifts margins slightly)
        runtime = meta.get("runtimes", {}).get(self.cfg.reader_runtime, {})
        self.calibration.update(runtime.get("calibration") or meta.get("calibration", {}))
        if runtime.get("answer_scorer") and self.use_scorer:  # fitted per runtime by `rag fit-scorer`
            from .answer_scoring import AnswerScorer

            self.scorer = AnswerScorer.from_json(runtime["answer_scorer"])
            self._threshold = float(runtime["answer_scorer"].get("threshold", READER_ONLY_THRESHOLD))
        self._engine = engine

    def run(self, question: str, passages: list[Passage]) -> list[Span]:
        self.warm_up()
        first = max(1, min(self.cfg.read_first, self.cfg.passages_read))
        read = self._read(question, passages[:first])
        # the reader's own confidence decides whether to read on, so the answer scorer sees
        # the same candidates here as when it was fitted
        if not read or max(s.score for s in read) < self.cfg.confident:
            read += self._read(question, passages[first:self.cfg.passages_read])
        return self._score(question, passages, read)

    def _score(self, question: str, passages: list[Passage], spans: list[Span]) -> list[Span]:
        if self.scorer is None:
            return sorted(spans, key=lambda s: -s.score)
        return self.scorer.rescore(question, passages, spans)

    def encode(self, question: str, contexts: list[str]):
        """The reader's windows over ``contexts`` for ``question``. A fast tokenizer keeps its
        truncation and padding settings in shared state, so two threads encoding at once (the
        app serves requests in parallel) could get each other's padding: one at a time."""
        from .qa_model import encode_windows

        self.warm_up()
        questions = [self.question_for(question, c) for c in contexts]
        with self._tokenizer_lock:
            return encode_windows(self._tokenizer, questions, contexts,
                                  max_len=self.cfg.read_window, stride=self.cfg.read_stride)

    def question_for(self, question: str, context: str) -> str:
        """The question as the reader reads it over ``context`` (``Config.question_anchors``)."""
        from .crosslingual import anchor_question

        return anchor_question(question, context, self.cfg.question_anchors)

    def _read(self, question: str, read: list[Passage]) -> list[Span]:
        from .qa_model import span_candidates

        if not read:
            return []
        contexts = [p.chunk.text for p in read]
        enc = self.encode(question, contexts)
        start_logits, end_logits = self._engine(enc["input_ids"], enc["attention_mask"])
        cands = span_candidates(enc, start_logits, end_logits, top_n=self.cfg.span_candidates, contexts=contexts)
        a, b = self.calibration["scale"], self.calibration["bias"]
        spans = []
        for c in cands:
            p = read[c.context_index]
            conf = 1.0 / (1.0 + math.exp(-(a * (c.score - c.null_score) + b)))
            spans.append(Span(p, p.chunk.clean_start + c.start, p.chunk.clean_start + c.end, conf,
                              c.score, c.null_score))
        return spans


def make_reader(cfg: Config):
    """The reader named by ``cfg.reader`` (one line of configuration to switch)."""
    readers = {"neural": NeuralReader, "sentence": SentenceReader}
    if cfg.reader not in readers:
        raise ValueError(f"unknown reader '{cfg.reader}'; choose one of {sorted(readers)}")
    return readers[cfg.reader](cfg)
