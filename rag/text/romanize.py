"""Chinese text in Latin letters for a reader who asked in a Latin script: 賈佳亞 → Jiǎ Jiāyà.

Words come from jieba; a word the documents spell in Latin letters themselves (``Aliases``:
"吳恩達(Andrew Ng)") takes that spelling; a person's name — two or three characters, a common
surname first, and not a word of jieba's dictionary — is written "Surname Givenname"; other words
are toned pinyin (``pypinyin``), a word's syllables joined. Digits and Latin letters stay as they
are. (jieba's part-of-speech tagger would find names too, for 40 MB more memory.)
"""

from __future__ import annotations

import re

from rag.text.aliases import Aliases
from rag.text.language import CJK, words_of

_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# a date or a quantity reads without help: "2017年", "3月5日", "10人"
_UNITS_ONLY = re.compile(r"^[\d\s,.:\-/年月日号號时時分秒人个個位名家次万萬亿億元岁歲]+$")


def _syllables(word: str) -> list[str]:
    from pypinyin import Style, pinyin

    return [s[0] for s in pinyin(word, style=Style.TONE, heteronym=False, errors="default")]


# the most common Chinese surnames (simplified; words are matched folded)
_SURNAMES = frozenset("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
                      "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
                      "武戴莫孔向汤漆")


def _is_name(folded: str) -> bool:
    from rag.text.language import jieba_frequency

    return len(folded) in (2, 3) and folded[0] in _SURNAMES and not jieba_frequency(folded)


def _word(word: str, folded: str) -> str:
    """A person's name as "Surname Givenname"; another word's syllables joined, a word of four
    characters or more as pairs ("fùdàn dàxué")."""
    syllables = _syllables(word)
    if _is_name(folded):
        return syllables[0].capitalize() + " " + "".join(syllables[1:]).capitalize()
    if len(syllables) >= 4:
        return " ".join("".join(syllables[i:i + 2]) for i in range(0, len(syllables), 2))
    return "".join(syllables)


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
        for folded, start, end in words_of(run.group()):
            word = run.group()[start:end]  # the characters as written
            spelled = aliases.latin(word) if aliases and len(word) >= 2 else None
            words.append(spelled or _word(word, folded))
        piece = " ".join(w for w in words if w)
        before = text[run.start() - 1] if run.start() else " "
        after = text[run.end()] if run.end() < len(text) else " "
        out.append((" " if before.isalnum() else "") + piece + (" " if after.isalnum() else ""))
        pos = run.end()
    out.append(text[pos:])
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()
