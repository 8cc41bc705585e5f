"""Chinese text in Latin letters for a reader who asked in a Latin script: 賈佳亞 → Jiǎ Jiāyà.

Words come from jieba; a person's name (jieba's ``nr``) is written surname first, each part
capitalised, places and organisations capitalised, and any word the documents spell in Latin letters themselves (``Aliases``:
"吳恩達(Andrew Ng)") takes that spelling. Other words are toned pinyin (``pypinyin``), a word's
syllables joined; digits and Latin letters stay as they are.
"""

from __future__ import annotations

import re

from rag.text.aliases import Aliases
from rag.text.language import CJK, pos_words

_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# a date or a quantity reads without help: "2017年", "3月5日", "10人"
_UNITS_ONLY = re.compile(r"^[\d\s,.:\-/年月日号號时時分秒人个個位名家次万萬亿億元岁歲]+$")


def _syllables(word: str) -> list[str]:
    from pypinyin import Style, pinyin

    return [s[0] for s in pinyin(word, style=Style.TONE, heteronym=False, errors="default")]


_PROPER = {"ns", "nt", "nz", "nrt", "nrfg"}  # jieba's places, organisations, other proper nouns


def _word(word: str, tag: str) -> str:
    """A person's name as "Surname Givenname"; another word's syllables joined, a word of four
    characters or more as pairs ("Fùdàn Dàxué"), proper nouns capitalised."""
    syllables = _syllables(word)
    if tag == "nr" and len(syllables) > 1:
        return syllables[0].capitalize() + " " + "".join(syllables[1:]).capitalize()
    parts = ["".join(syllables[i:i + 2]) for i in range(0, len(syllables), 2)] if len(syllables) >= 4 \
        else ["".join(syllables)]
    return " ".join(p.capitalize() if tag in _PROPER or tag == "nr" else p for p in parts)


def romanize(text: str, aliases: Aliases | None = None) -> str | None:
    """``text`` with its Chinese words in Latin letters; None when it has no Chinese characters
    or is a date or quantity in digits."""
    if not CJK.search(text) or _UNITS_ONLY.match(text):
        return None
    whole = aliases.latin(text.strip()) if aliases else None
    if whole:
        return whole
    out, pos = [], 0
    for run in _HAN_RUN.finditer(text):
        out.append(text[pos:run.start()])
        words = []
        for _folded, tag, start, end in pos_words(run.group()):
            word = run.group()[start:end]  # pos_words folds: the characters as written
            spelled = aliases.latin(word) if aliases and len(word) >= 2 else None
            words.append(spelled or _word(word, tag))
        piece = " ".join(w for w in words if w)
        before = text[run.start() - 1] if run.start() else " "
        after = text[run.end()] if run.end() < len(text) else " "
        out.append((" " if before.isalnum() else "") + piece + (" " if after.isalnum() else ""))
        pos = run.end()
    out.append(text[pos:])
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()
