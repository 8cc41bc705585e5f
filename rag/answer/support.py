"""Whether a cited sentence states the fact asked: how many of the question's key terms it holds.

An answer's text can occur in sentences about other things ("2017" of another person's
departure). A citation proves the answer only where the sentence also names what the question is
about. Key terms: the question's names (matched as written, as the characters the documents pair
them with — ``Aliases`` — or as characters their pinyin spells) and its other content words (an
English word also by its dictionary translations; a Chinese question's jieba words less its
question and function words).
"""

from __future__ import annotations

import re

from rag.text.aliases import Aliases
from rag.text.crosslingual import STOPWORDS, translate_words
from rag.text.language import CJK, NAME_RUN, fold, pinyin_windows, tokenize

# two-character words (folded) that ask or connect rather than say what is asked about; jieba's
# part-of-speech tags would tell them apart, but its tagger costs 40 MB more than its words
_FUNCTION_WORDS = frozenset("什么 哪里 哪儿 哪个 哪些 哪位 哪家 哪年 为什么 怎么 怎样 如何 是否 时候 时间 名字 地方 多少 "
                            "可以 因为 所以 但是 已经 这个 那个 这些 那些 他们 我们 她们 它们 一个 哪一年 什么样".split())


def key_terms(question: str, aliases: Aliases | None = None) -> list[tuple[set[str], set[str]]]:
    """Groups of (folded strings any of which counts, pinyin spellings of a name)."""
    groups: list[tuple[set[str], set[str]]] = []
    if CJK.search(question):
        for word in dict.fromkeys(tokenize(question)):  # folded, in order, once each
            if len(word) >= 2 and CJK.match(word) and word not in _FUNCTION_WORDS:
                latin = aliases.latin(word) if aliases else None
                groups.append(({word} | ({latin.lower()} if latin else set()), set()))
        return groups
    in_names = set()
    for run in NAME_RUN.finditer(question):
        words = run.group().split()
        if len(words) == 1 and words[0].lower() in STOPWORDS:
            continue  # a question word written with a capital ("When")
        in_names |= {w.lower() for w in words}
        written = run.group().lower()
        han = aliases.characters(run.group()) if aliases else set()
        joined = "".join(w.lower() for w in words)
        spellings = {joined, "".join(w.lower() for w in reversed(words))} if len(words) == 2 else {joined}
        groups.append(({written, *han}, spellings))
    for word, found in translate_words(question):
        if word not in in_names:
            groups.append(({word, *(fold(zh) for zh in found if len(zh) >= 2)}, set()))
    return groups


def support(groups: list[tuple[set[str], set[str]]], text: str) -> float:
    """Share of the key-term groups ``text`` holds (0 when there are none)."""
    if not groups:
        return 0.0
    folded = fold(text)
    windows = pinyin_windows(text) if any(p for _, p in groups) else {}
    hits = 0
    for terms, spellings in groups:
        if any(_holds(folded, t) for t in terms) or any(s in windows for s in spellings):
            hits += 1
    return hits / len(groups)


def _holds(folded: str, term: str) -> bool:
    if CJK.search(term):
        return term in folded
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", folded) is not None
