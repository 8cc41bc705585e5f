"""The extractive QA model's mechanics, shared by training and inference.

Windows: question + a slice of the passage (``max_len`` tokens, ``stride`` overlap), the
pair encoded ``<s> question </s></s> passage </s>``. Spans: the best start/end token
pair inside the passage part of a window, mapped back to character offsets of the
passage through the tokenizer's offset mapping. The null score is start+end logit of
``<s>`` (index 0), as in SQuAD 2.0 BERT models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LEN = 256
STRIDE = 96
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class SpanCandidate:
    context_index: int  # which context of the batch
    start: int  # character offsets into that context
    end: int
    score: float  # start logit + end logit
    null_score: float  # the window's no-answer score


def encode_windows(tokenizer, questions: list[str], contexts: list[str],
                   max_len: int = MAX_LEN, stride: int = STRIDE):
    """Tokenise (question, context) pairs into overlapping windows with offsets."""
    questions = [_clip_question(tokenizer, q) for q in questions]
    return tokenizer(
        questions, contexts, truncation="only_second", max_length=max_len, stride=stride,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest",
        return_tensors="np",
    )


def _clip_question(tokenizer, question: str) -> str:
    ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    if len(ids) <= MAX_QUESTION_TOKENS:
        return question
    return tokenizer.decode(ids[:MAX_QUESTION_TOKENS])


def context_mask(encoding, i: int) -> np.ndarray:
    """True for the tokens of window ``i`` that belong to the passage."""
    return np.array([s == 1 for s in encoding.sequence_ids(i)])


def span_candidates(encoding, start_logits: np.ndarray, end_logits: np.ndarray,
                    top_n: int = 5, max_answer_tokens: int = MAX_ANSWER_TOKENS,
                    contexts: list[str] | None = None) -> list[SpanCandidate]:
    """The ``top_n`` best spans of every window, with character offsets."""
    out = []
    offsets = encoding["offset_mapping"]
    mapping = encoding["overflow_to_sample_mapping"]
    for w in range(len(start_logits)):
        mask = context_mask(encoding, w)
        if not mask.any():
            continue
        s_log = np.where(mask, start_logits[w], -np.inf)
        e_log = np.where(mask, end_logits[w], -np.inf)
        null = float(start_logits[w][0] + end_logits[w][0])
        starts = np.argsort(s_log)[::-1][:20]
        ends = np.argsort(e_log)[::-1][:20]
        pairs = []
        for s in starts:
            for e in ends:
                if s <= e < s + max_answer_tokens and np.isfinite(s_log[s] + e_log[e]):
                    pairs.append((float(s_log[s] + e_log[e]), int(s), int(e)))
        pairs.sort(reverse=True)
        ctx_i = int(mapping[w])
        for score, s, e in pairs[:top_n]:
            c0, c1 = int(offsets[w][s][0]), int(offsets[w][e][1])
            if contexts is not None:
                c0, c1 = trim_span(contexts[ctx_i], c0, c1)
            if c1 > c0:
                out.append(SpanCandidate(ctx_i, c0, c1, score, null))
    return out


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding spaces and dangling punctuation; never cut inside a word."""
    strip = " \t\r\n\u3000，。、；：,.;:!?！？“”\"'‘’（）()《》【】「」"
    while start < end and text[start] in strip:
        start += 1
    while end > start and text[end - 1] in strip:
        end -= 1
    # extend to whole Latin/digit words: a span must not end inside "PyTorch" or "2016"
    while start > 0 and _wordish(text[start - 1]) and _wordish(text[start]):
        start -= 1
    while end < len(text) and _wordish(text[end - 1]) and _wordish(text[end]):
        end += 1
    return start, end


def _wordish(ch: str) -> bool:
    """Letters and digits of alphabetic scripts (CJK characters are words on their own)."""
    return ch.isalnum() and ord(ch) < 0x2E80
