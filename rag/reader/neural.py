"""The neural reader: the QA head trained on the e5-small encoder (``rag train-reader``).

Start/end logits over sliding windows of each passage; a span's confidence is the answer
scorer's probability (``rag.answer.scorer``, fitted in the retrieval setting) or, without
one, the reader's own calibrated ``sigmoid(scale · (span − null) + bias)``.
"""

from __future__ import annotations

from rag.config import Config
from rag.reader.base import Calibration, Span
from rag.retrieval.retriever import Passage

# without an answer scorer: chosen on the reader's held-out split (gold paragraphs; it answers
# 93 % of answerable questions there and abstains on 94 % of unanswerable ones)
READER_ONLY_THRESHOLD = 0.3


class NeuralReader:
    """The trained extractive QA model, reading the top passages in sliding windows.

    Reading is most of a question's cost, so it is adaptive: the first ``cfg.read_first``
    passages, then the rest of the top ``cfg.passages_read`` only when no span reached the
    calibrated confidence ``cfg.confident``.
    """

    def __init__(self, cfg: Config):
        from rag.text.crosslingual import check_anchor_mode

        check_anchor_mode(cfg.question_anchors)  # a bad setting fails here, not at the first question
        self.cfg = cfg
        self._engine = self._tokenizer = self.scorer = None
        self.calibration = Calibration()
        self._threshold = READER_ONLY_THRESHOLD

    @property
    def threshold(self) -> float:
        """The abstention threshold fitted with the answer scorer (known once loaded)."""
        self.warm_up()
        return self._threshold

    def warm_up(self) -> None:
        if self._engine is not None:
            return
        from rag.models.loading import load_reader_engine, load_tokenizer

        engine, meta = load_reader_engine(self.cfg)
        self._tokenizer = load_tokenizer(self.cfg)
        # calibrated per runtime when the export measured it (int8 shifts margins slightly)
        runtime = meta.get("runtimes", {}).get(self.cfg.reader_runtime, {})
        self.calibration = Calibration(**(runtime.get("calibration") or meta.get("calibration", {})))
        # fitted per runtime by `rag fit-scorer`; Config.answer_scorer False: the raw candidates
        if runtime.get("answer_scorer") and self.cfg.answer_scorer:
            from rag.answer.scorer import AnswerScorer

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
        """The reader's windows over ``contexts`` for ``question``."""
        from rag.reader.windows import encode_windows

        self.warm_up()
        questions = [self.question_for(question, c) for c in contexts]
        return encode_windows(self._tokenizer, questions, contexts,
                              max_len=self.cfg.read_window, stride=self.cfg.read_stride)

    def question_for(self, question: str, context: str) -> str:
        """The question as the reader reads it over ``context`` (``Config.question_anchors``)."""
        from rag.text.crosslingual import anchor_question

        return anchor_question(question, context, self.cfg.question_anchors)

    def _read(self, question: str, read: list[Passage]) -> list[Span]:
        from rag.reader.windows import span_candidates

        if not read:
            return []
        contexts = [p.chunk.text for p in read]
        enc = self.encode(question, contexts)
        start_logits, end_logits = self._engine(enc.input_ids, enc.attention_mask)
        cands = span_candidates(enc, start_logits, end_logits, top_n=self.cfg.span_candidates, contexts=contexts)
        spans = []
        for c in cands:
            p = read[c.context_index]
            conf = float(self.calibration.confidence(c.score - c.null_score))
            spans.append(Span(p, p.chunk.clean_start + c.start, p.chunk.clean_start + c.end, conf,
                              c.score, c.null_score))
        return spans
