"""English cognates of a question's foreign words ("laboratorium" → laboratory, "presiden" →
president), so that an Indonesian question reaches the English–Chinese dictionary too.

A lowercase word that CC-CEDICT's English glosses do not hold is compared with the gloss words
spelled like it (``difflib`` ratio ≥ ``SPELLING``, also with k read as c), and the closest is
kept only when the e5 encoder puts the two together as well (cosine ≥ ``MEANING``): spelling
proposes and meaning decides, so "kepala" (head) is not read as Kerala, nor "kantor" (office)
as cantor. Words shorter than ``MIN_LETTERS`` are left alone: short words look alike by chance.
"""

from __future__ import annotations

import difflib
import functools
import re

import numpy as np

SPELLING = 0.8  # difflib ratio of a candidate's spelling to the word's
MEANING = 0.915  # e5 cosine ("query: " prompts) a candidate must reach
MIN_LETTERS = 6
_WORD = re.compile(r"[a-z]+")


@functools.lru_cache(maxsize=1)
def _vocabulary() -> dict[str, list[str]]:
    """Single English gloss words (4 letters or more) with a Chinese headword of two
    characters or more, by their first two letters."""
    from rag.text.crosslingual import glossed_as

    out: dict[str, list[str]] = {}
    for word, heads in glossed_as().items():
        if len(word) >= 4 and _WORD.fullmatch(word) and any(len(h) >= 2 for h in heads):
            out.setdefault(word[:2], []).append(word)
    return out


def _spelled_like(word: str) -> list[str]:
    vocabulary, seen = _vocabulary(), set()
    out = []
    for form in dict.fromkeys((word, word.replace("k", "c"))):
        matcher = difflib.SequenceMatcher(b=form)
        for candidate in vocabulary.get(form[:2], []):
            matcher.set_seq1(candidate)
            if candidate not in seen and matcher.real_quick_ratio() >= SPELLING \
                    and matcher.quick_ratio() >= SPELLING and matcher.ratio() >= SPELLING:
                seen.add(candidate)
                out.append(candidate)
    return out


@functools.lru_cache(maxsize=4096)
def cognate(word: str) -> str | None:
    """The English gloss word that ``word`` (lowercase, not in the dictionary) is a cognate of, or None."""
    if len(word) < MIN_LETTERS or not _WORD.fullmatch(word):
        return None
    candidates = _spelled_like(word)
    if not candidates:
        return None
    from rag.config import Config
    from rag.models.loading import load_embedder

    vectors = load_embedder(Config.from_env()).encode([word, *candidates], "query")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = vectors[1:] @ vectors[0]
    best = int(np.argmax(cosines))
    return candidates[best] if cosines[best] >= MEANING else None
