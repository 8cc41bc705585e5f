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

from rag.models.tokenizer import padded

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


@dataclass(frozen=True)
class Windows:
    """Tokenised (question, passage) windows, padded to the longest."""

    input_ids: np.ndarray  # (windows, tokens) int64
    attention_mask: np.ndarray
    offsets: list[list[tuple[int, int]]]  # per token: character offsets into its text
    sequence_ids: list[list[int | None]]  # per token: 0 question, 1 passage, None special/padding
    sample: np.ndarray  # per window: index of its (question, passage) pair

    def __len__(self) -> int:
        return len(self.input_ids)

    def context_mask(self, i: int) -> np.ndarray:
        """True for the tokens of window ``i`` that belong to the passage."""
        return np.array([s == 1 for s in self.sequence_ids[i]])


def encode_windows(tokenizer, questions: list[str], contexts: list[str],
                   max_len: int = MAX_LEN, stride: int = STRIDE) -> Windows:
    """Tokenise (question, context) pairs into overlapping windows with offsets.
    ``tokenizer`` is a ``rag.models.tokenizer.SharedTokenizer``."""
    questions = [tokenizer.clip(q, MAX_QUESTION_TOKENS) for q in questions]
    encodings = tokenizer.encode_batch(list(zip(questions, contexts)), max_len, stride=stride, strategy="only_second")
    windows, sample = [], []
    for i, enc in enumerate(encodings):
        for w in [enc, *enc.overflowing]:
            windows.append(w)
            sample.append(i)
    ids, mask = padded(windows, tokenizer.pad_id)
    pad = ids.shape[1] - mask.sum(axis=1)
    return Windows(ids, mask, [list(w.offsets) + [(0, 0)] * p for w, p in zip(windows, pad)],
                   [list(w.sequence_ids) + [None] * p for w, p in zip(windows, pad)], np.array(sample, dtype=int))


def span_candidates(encoding: Windows, start_logits: np.ndarray, end_logits: np.ndarray,
                    top_n: int = 5, max_answer_tokens: int = MAX_ANSWER_TOKENS,
                    contexts: list[str] | None = None) -> list[SpanCandidate]:
    """The ``top_n`` best spans of every window, with character offsets."""
    out = []
    for w in range(len(start_logits)):
        mask = encoding.context_mask(w)
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
        ctx_i = int(encoding.sample[w])
        for score, s, e in pairs[:top_n]:
            c0, c1 = int(encoding.offsets[w][s][0]), int(encoding.offsets[w][e][1])
            if contexts is not None:
                c0, c1 = trim_span(contexts[ctx_i], c0, c1)
            if c1 > c0:
                out.append(SpanCandidate(ctx_i, c0, c1, score, null))
    return out


# closing quotes and brackets → their openers (not ’: it is also the apostrophe of "Tencent’s")
_CLOSERS = {"」": "「", "』": "『", "）": "（", ")": "(", "】": "【", "》": "《", "”": "“"}


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding spaces and dangling punctuation; end before a closing quote or bracket
    whose opener is not in the span (絕悟」和首個「電競虛擬人 → 絕悟); never cut inside a word."""
    strip = " \t\r\n\u3000，。、；：,.;:!?！？“”\"'‘’（）()《》【】「」"
    while start < end and text[start] in strip:
        start += 1
    for i in range(start + 1, end):
        if text[i] in _CLOSERS and not _balanced_closer(text, start, i):
            end = i
            break
    while end > start and text[end - 1] in strip and not _balanced_closer(text, start, end - 1):
        end -= 1
    # extend to whole Latin/digit words: a span must not end inside "PyTorch" or "2016"
    while start > 0 and _wordish(text[start - 1]) and _wordish(text[start]):
        start -= 1
    while end < len(text) and _wordish(text[end - 1]) and _wordish(text[end]):
        end += 1
    return start, end


def _balanced_closer(text: str, start: int, i: int) -> bool:
    """Whether ``text[i]`` closes a quote or bracket opened within ``text[start:i]``."""
    return text[i] in _CLOSERS and _CLOSERS[text[i]] in text[start:i]


def _wordish(ch: str) -> bool:
    """Letters and digits of alphabetic scripts (CJK characters are words on their own)."""
    return ch.isalnum() and ord(ch) < 0x2E80
