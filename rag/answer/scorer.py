"""Answer scoring: the confidence of a candidate span in the retrieval setting.

The reader's own calibration (``sigmoid(a·(span − null) + b)``) was fitted with the gold
paragraph in hand. Over *retrieved* passages other evidence matters as much: how well the
passage matched, whether other passages agree, whether the span is the kind of thing the
question asks for (a year for "when", a duration for "how long"), whether it merely echoes
the question. ``AnswerScorer`` models those features, fitted on held-out articles run through
the real pipeline (``rag fit-scorer``, ``rag_train.scorer``): a choice model picks among a
question's candidates, a calibrated logistic model says how likely the pick is right, which
decides abstention.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from rag.errors import ModelError
from rag.reader.base import sigmoid
from rag.text.crosslingual import translate_words
from rag.text.language import CJK, fold, normalize_answer, pinyin_spans, pinyin_tokens, query_pinyin_tokens, tokenize

FEATURES = ("margin", "gap", "null", "rank", "retrieval_gap", "dense", "top_dense", "support",
            "length", "echo", "type_match", "type_mismatch", "latin_question", "context_match",
            "passage_match", "name_absent", "anchor_distance")
CONTEXT = 60  # characters each side of a span that should echo the question
FAR = 300  # characters: an anchor farther from a span than this (or none) counts as this far

# what a question asks for, by its question words (English, Chinese, Indonesian)
_EXPECT = (
    ("duration", re.compile(r"\bhow long\b|多久|多长时间|多長時間|几年|幾年|berapa lama", re.I)),
    ("time", re.compile(r"\bwhen\b|\b(?:what|which) (?:year|month|day|date|time)\b|哪一?年|何时|何時|什么时候|"
                        r"什麼時候|哪一?天|几月|幾月|几号|幾號|日期|\bkapan\b|tahun berapa|tanggal berapa", re.I)),
    ("number", re.compile(r"\bhow (?:many|much|old)\b|多少|几[个位名家次种]|幾[個位名家次種]|\bberapa\b", re.I)),
    ("person", re.compile(r"\bwho(?:m|se)?\b|谁|誰|\bsiapa\b", re.I)),
)
_NUMERAL = r"(?:\d[\d,.]*|[一二两兩三四五六七八九十百千万萬半几幾]+)"
_DURATION = re.compile(_NUMERAL + r"\s*(?:多)?(?:年|个月|個月|月|周|週|天|日|小时|小時|分钟|分鐘|秒|"
                       r"years?|months?|weeks?|days?|hours?|tahun|bulan|minggu|hari|jam)", re.I)
_TIME = re.compile(r"(?:1[0-9]|20)\d\d|\d+\s*[月日号號]|[一二三四五六七八九十]+月|"
                   r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|"
                   r"\b(?:januari|februari|maret|april|mei|juni|juli|agustus|september|oktober|november|desember)\b",
                   re.I)
_NUMBER = re.compile(r"\d|[一二两兩三四五六七八九十百千万萬]+[个個位名家次种種人]")


def expected_type(question: str) -> str | None:
    """"duration", "time", "number", "person" or None, from the question words."""
    for kind, pattern in _EXPECT:
        if pattern.search(question):
            return kind
    return None


def type_agreement(expected: str | None, answer: str) -> tuple[float, float]:
    """(match, mismatch) of an answer with the expected kind; (0, 0) when nothing is expected."""
    if expected is None:
        return 0.0, 0.0
    if expected == "person":
        ok = not re.search(r"\d", answer)
    else:
        ok = bool({"duration": _DURATION, "time": _TIME, "number": _NUMBER}[expected].search(answer))
    return float(ok), float(not ok)


def echo(question: str, answer: str) -> float:
    """How much of the answer the question already says (a span naming the question's own
    subject is rarely the answer): share of its characters in the question, or for a Latin
    question, whether the Chinese answer's pinyin is one of the question's names."""
    return _echo(normalize_answer(question), question_terms(question)[1], bool(CJK.search(question)), answer)


def _echo(folded_question: str, names: set[str], cjk_question: bool, answer: str) -> float:
    """``echo`` with the question's parts computed once per question, not once per span."""
    a = normalize_answer(answer)
    if not a:
        return 0.0
    share = sum(ch in folded_question for ch in a) / len(a)
    if names and not cjk_question and CJK.search(answer) and any(t in names for t in pinyin_tokens(answer)):
        share = 1.0
    return share


def question_terms(question: str) -> tuple[list[set[str]], set[str]]:
    """(term groups, name pinyin) of a question. A group is one question word and its
    dictionary translations; the span's surroundings match the group if they hold any."""
    if CJK.search(question):
        groups = [{t} for t in set(tokenize(question)) if len(t) >= 2]
    else:
        # capitalised words the dictionary lacks are names, matched as one group below;
        # one-character glosses ("查", "住") match almost anywhere: only words count
        capital = {w.lower() for w in re.findall(r"\b[A-Z][a-z]+", question)}
        groups = [{word, *(fold(zh) for zh in found if len(zh) >= 2)}
                  for word, found in translate_words(question) if found or word not in capital]
    return groups, set(query_pinyin_tokens(question))


def _found(terms: tuple[list[set[str]], set[str]], text: str) -> tuple[int, bool]:
    """(how many of the question's term groups ``text`` holds, whether it holds one of its names:
    written out in Latin letters, or as the characters it transliterates)."""
    return _found_folded(terms, fold(text))


def _found_folded(terms: tuple[list[set[str]], set[str]], window: str,
                  pinyin: list[str] | None = None) -> tuple[int, bool]:
    """``_found`` of text already folded; ``pinyin``: its ``pinyin_tokens`` when already known
    (``features`` folds each passage and reads its pinyin once, for this and ``anchors``)."""
    groups, names = terms
    hits = sum(any(t in window for t in g) for g in groups)
    named = bool(names) and (any(n in window for n in names if len(n) > 3) or
                             bool(names & set(pinyin_tokens(window) if pinyin is None else pinyin)))
    return hits, named


def _share(terms: tuple[list[set[str]], set[str]], found: tuple[int, bool]) -> float:
    groups, names = terms
    return (found[0] + found[1]) / (len(groups) + bool(names)) if groups or names else 0.0


def context_match(terms: tuple[list[set[str]], set[str]], passage_text: str, start: int, end: int) -> float:
    """Share of the question's term groups found within ``CONTEXT`` characters of a span
    (a transliterated name counts when its pinyin matches the characters)."""
    return _share(terms, _found(terms, passage_text[max(0, start - CONTEXT):end + CONTEXT]))


def anchors(groups: list[set[str]], names: set[str], folded: str,
            grams: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
    """Where a passage (``folded``: its ``fold``; ``grams``: its ``pinyin_spans``) names what the
    question is about: its ``names`` (in Latin letters, or the characters they transliterate) or, for
    a question without names, its words of three characters or more ("贾佳亚", "研究院")."""
    if names:
        found = [(m.start(), m.end()) for n in names if len(n) > 3 for m in re.finditer(re.escape(n), folded)]
        return found + [(a, b) for joined, a, b in grams if joined in names]
    words = {t for g in groups for t in g if len(t) >= 3}
    return [(m.start(), m.end()) for w in words for m in re.finditer(re.escape(w), folded)]


def anchor_distance(places: list[tuple[int, int]], start: int, end: int) -> float:
    """log(1 + characters between a span and the nearest anchor), at most ``FAR``: in a list
    ("A 15 years, B 16 years") the answer about B stands next to B. A span covering an anchor is
    beside it (counting only anchors outside spans was measured worse: docs/experiments)."""
    near = min((max(0, a - end, start - b) for a, b in places), default=FAR)
    return math.log1p(min(near, FAR))


def features(question: str, passages: list, spans: list) -> np.ndarray:
    """One row of ``FEATURES`` per span (spans carry ``logit``, ``null`` and ``text``)."""
    if not spans:
        return np.zeros((0, len(FEATURES)))
    rank = {id(p): i for i, p in enumerate(passages)}
    top = passages[0] if passages else spans[0].passage
    top_dense = max((p.dense for p in passages), default=top.dense)
    best = max(s.logit - s.null for s in spans)
    keys = [normalize_answer(s.text) for s in spans]
    expected = expected_type(question)
    latin = float(not CJK.search(question))
    terms = question_terms(question)
    folded_question = normalize_answer(question)
    # how much of the question the whole passage speaks of: low for every passage when the
    # documents do not cover the question's topic at all; and whether it holds none of a
    # Latin-script question's capitalised words, its names (a passage about someone else)
    texts = {s.passage.chunk_id: s.passage.chunk.text for s in spans}  # each passage once
    folded = {cid: fold(text) for cid, text in texts.items()}
    # the pinyin windows of each passage, read once: for the names in it and for where they stand
    grams = {cid: pinyin_spans(window) if terms[1] else [] for cid, window in folded.items()}
    found = {cid: _found_folded(terms, window, [g[0] for g in grams[cid]]) for cid, window in folded.items()}
    passage_match = {cid: _share(terms, f) for cid, f in found.items()}
    name_absent = {cid: float(bool(latin and terms[1]) and not f[1]) for cid, f in found.items()}
    # a question's first word is capitalised as any sentence's ("What", "Siapa"): not a name
    first = re.match(r"\W*(\w+)", question)
    names = terms[1] - {first.group(1).lower()} if first else terms[1]
    places = {cid: anchors(terms[0], names, window, grams[cid]) for cid, window in folded.items()}
    rows = []
    for s, key in zip(spans, keys):
        others = {spans[j].passage.chunk_id for j, k in enumerate(keys)
                  if spans[j].passage.chunk_id != s.passage.chunk_id and k and key and (k in key or key in k)}
        match, mismatch = type_agreement(expected, s.text)
        base = s.passage.chunk.clean_start
        rows.append((s.logit - s.null, s.logit - s.null - best, s.null,
                     math.log1p(rank.get(id(s.passage), len(passages))), s.passage.score - top.score,
                     s.passage.dense, top_dense, math.log1p(len(others)), math.log1p(len(key)),
                     _echo(folded_question, terms[1], not latin, s.text), match, mismatch, latin,
                     context_match(terms, s.passage.chunk.text, s.start - base, s.end - base),
                     passage_match[s.passage.chunk_id], name_absent[s.passage.chunk_id],
                     anchor_distance(places[s.passage.chunk_id], s.start - base, s.end - base)))
    return np.asarray(rows, dtype=float)


@dataclass(frozen=True)
class AnswerScorer:
    """Three fitted parts over ``FEATURES`` (standardised with the stored mean and std):

    - the *choice* model (conditional logit over a question's candidates) picks the answer
      and says how the probability splits among the candidates;
    - the *pointwise* logistic model (``weights``, ``bias``, fitted on every candidate) rates a
      candidate on an absolute scale…
    - …and its *calibration* (Platt: ``scale``, ``shift``), fitted on each question's chosen
      candidate, turns that rating into the chance that the shown answer is right.

    A candidate's confidence is the chosen one's, times its choice probability relative to
    the chosen one's: confidences follow the choice order, and the best one decides abstention.
    """

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    scale: float = 1.0  # calibration: sigmoid(scale · pointwise logit + shift)
    shift: float = 0.0
    choice: tuple[float, ...] = ()  # conditional-logit weights; none: rank by the pointwise logit

    @classmethod
    def from_json(cls, data: dict) -> "AnswerScorer":
        if tuple(data["names"]) != FEATURES:
            raise ModelError("the answer scorer in reader.json was fitted on other features; "
                             "re-run `rag fit-scorer`")
        return cls(tuple(data["names"]), tuple(data["mean"]), tuple(data["std"]),
                   tuple(data["weights"]), float(data["bias"]), float(data["scale"]), float(data["shift"]),
                   tuple(data.get("choice", ())))

    def to_json(self) -> dict:
        return dict(names=list(self.names), mean=list(self.mean), std=list(self.std),
                    weights=list(self.weights), bias=self.bias, scale=self.scale, shift=self.shift,
                    choice=list(self.choice))

    def _standard(self, x: np.ndarray) -> np.ndarray:
        return (x - np.asarray(self.mean)) / np.asarray(self.std)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The pointwise model's logit of each candidate."""
        return self._standard(x) @ np.asarray(self.weights) + self.bias

    def choice_scores(self, x: np.ndarray) -> np.ndarray:
        """The choice model's score of each of one question's candidates (higher is better)."""
        return self._standard(x) @ np.asarray(self.choice) if self.choice else self.logits(x)

    def pointwise(self, x: np.ndarray) -> np.ndarray:
        """The calibrated pointwise probability of each candidate, on its own."""
        return sigmoid(self.scale * self.logits(x) + self.shift)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Confidence of each of one question's candidates (rows of ``x``)."""
        if not len(x):
            return np.zeros(0)
        s = self.choice_scores(x)
        best = int(np.argmax(s))
        return self.pointwise(x[best:best + 1])[0] * np.exp(s - s[best])

    def rescore(self, question: str, passages: list, spans: list) -> list:
        """The spans with ``score`` replaced by the scorer's confidence, best first."""
        if not spans:
            return []
        probs = self.probabilities(features(question, passages, spans))
        out = [replace(s, score=float(p)) for s, p in zip(spans, probs)]
        out.sort(key=lambda s: -s.score)
        return out
