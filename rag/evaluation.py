"""Metrics: answer EM / character F1 on folded text, retrieval recall and MRR, citations."""

from __future__ import annotations

import re
from collections import Counter

from .language import fold

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Folded script, lower case, no spaces or punctuation: "2022 年 3 月" == "2022年3月"."""
    return _PUNCT.sub("", fold(text))


def char_f1(prediction: str, gold: str) -> float:
    """Character-level F1 on normalised text (the CMRC / multilingual QA convention)."""
    p, g = normalize_answer(prediction), normalize_answer(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, golds: list[str]) -> float:
    return max((char_f1(prediction, g) for g in golds), default=0.0)


def exact_match(prediction: str, golds: list[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def contains_answer(text: str, golds: list[str]) -> bool:
    """Whether ``text`` holds one of the answers (folded, spacing ignored)."""
    t = normalize_answer(text)
    return any(normalize_answer(g) and normalize_answer(g) in t for g in golds)
