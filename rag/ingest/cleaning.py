"""Cleaning that remembers where every character came from.

A ``MappedText`` is cleaned text plus, for each of its characters, the index of the
character of the original text it came from. Every step is a pure function returning
edits (start, end, replacement) on the current text; ``apply_edits`` composes the map, so
a span of the cleaned text always resolves to exact offsets in the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

Edit = tuple[int, int, str]


@dataclass(frozen=True, eq=False)
class MappedText:
    text: str
    # offsets[i] = original index of text[i]; one extra entry at the end. A tuple when
    # built by cleaning, a memory-mapped numpy slice when loaded from an index.
    offsets: Sequence[int]

    @classmethod
    def identity(cls, text: str) -> "MappedText":
        return cls(text, tuple(range(len(text) + 1)))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering cleaned text[start:end] (end > start)."""
        if end <= start:
            pos = int(self.offsets[start])
            return pos, pos
        return int(self.offsets[start]), int(self.offsets[end - 1]) + 1

    def cleaned_index(self, original_pos: int) -> int:
        """First cleaned index whose original offset is >= ``original_pos``."""
        import bisect

        return bisect.bisect_left(self.offsets, original_pos, 0, len(self.text))


def apply_edits(mt: MappedText, edits: list[Edit]) -> MappedText:
    """Apply non-overlapping edits; replacement characters map to the edit's first char."""
    if not edits:
        return mt
    parts, offs, pos = [], [], 0
    for start, end, repl in sorted(edits):
        if start < pos:
            continue  # overlapping edit: the earlier one wins
        parts.append(mt.text[pos:start])
        offs.extend(mt.offsets[pos:start])
        parts.append(repl)
        offs.extend([mt.offsets[start]] * len(repl))
        pos = end
    parts.append(mt.text[pos:])
    offs.extend(mt.offsets[pos:])
    return MappedText("".join(parts), tuple(offs))


# ---- steps ------------------------------------------------------------------

_JUNK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff\u200b-\u200d\u2060\ufeff]")


def junk_characters(text: str) -> list[Edit]:
    """Control characters, U+FFFD, private-use code points and zero-width marks."""
    return [(m.start(), m.end(), "") for m in _JUNK.finditer(text)]


_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ"
_ANNOTATION = re.compile(r"(?<=[\u3400-\u9fff])\(([a-z%s]{1,7})\)" % _TONED)


@functools.lru_cache(maxsize=20000)
def _readings(char: str) -> frozenset[str]:
    from pypinyin import Style, pinyin

    return frozenset(_toneless(r) for r in pinyin(char, style=Style.TONE, heteronym=True)[0])


def _toneless(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable.replace("ü", "v"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def pinyin_annotations(text: str) -> list[Edit]:
    """Inline readings such as ``續(xù)``: removed only when they are a reading of that character."""
    edits = []
    for m in _ANNOTATION.finditer(text):
        if _toneless(m.group(1)) in _readings(text[m.start() - 1]):
            edits.append((m.start(), m.end(), ""))
    return edits


# Generic web furniture in the languages we serve: share/download prompts, navigation,
# "read more", copyright and reprint notices. Matched on whole short lines only.
_BOILERPLATE = re.compile(
    r"扫一扫|掃一掃|下载.{0,8}APP|下載.{0,8}APP|正在阅读|正在閱讀|您现在的位置|您現在的位置|"
    r"继续阅读|繼續閱讀|阅读全文|閱讀全文|点击(下方|阅读|查看)|點擊(下方|閱讀|查看)|今日荐文|"
    r"[「“]?在看[」”]?吗|分享到|分享至|版权所有|版權所有|版权声明|版權聲明|免责声明|免責聲明|"
    r"转载|轉載|授权事宜|授權事宜|责任编辑|責任編輯|关注我们|關注我們|"
    r"copyright|all rights reserved|share (this|on)|follow us|read more|subscribe|"
    r"bagikan|baca juga|hak cipta", re.IGNORECASE)
_MAX_BOILERPLATE_LINE = 60
# a teaser for another article: "...【继续阅读】", "… Read more" at the end of a line
_TEASER = re.compile(r"(\.{2,}|…)\s*[【\[]?(继续阅读|繼續閱讀|阅读全文|閱讀全文|read more|baca selengkapnya)[】\]]?$",
                     re.IGNORECASE)


def _lines(text: str):
    pos = 0
    for line in text.split("\n"):
        yield pos, pos + len(line), line
        pos += len(line) + 1


def boilerplate_lines(text: str) -> list[Edit]:
    """Short lines of site furniture, and lines with no letters or digits at all."""
    edits = []
    for start, end, line in _lines(text):
        s = line.strip()
        if not s:
            continue
        furniture = (len(s) <= _MAX_BOILERPLATE_LINE and _BOILERPLATE.search(s)) or _TEASER.search(s)
        if furniture or not any(c.isalnum() for c in s):
            edits.append((start, min(end + 1, len(text)), ""))
    return edits


# tags left in text saved from a web page, their "<" sometimes lost to a failed conversion ("?/p>")
_MARKUP = re.compile(r"""(?:<|(?<=\S)\?)/?(?:p|br|div|span|strong|em|b|i|li|ul|ol|h[1-6])"""
                     r"""(?:\s+[\w-]+=(?:"[^"<>]*"|'[^'<>]*'|[^\s<>]+))*\s*/?>""", re.IGNORECASE)


def markup_residue(text: str) -> list[Edit]:
    """HTML tags left in plain text ("</p>", "<br/>", and "?/p>" whose "<" was lost)."""
    return [(m.start(), m.end(), "") for m in _MARKUP.finditer(text)]


def duplicate_lines(text: str, min_chars: int = 8) -> list[Edit]:
    """Lines repeating an earlier line (a duplicated article body, a repeated title)."""
    seen: set[str] = set()
    edits, previous = [], None
    for start, end, line in _lines(text):
        key = re.sub(r"\s+", "", line)
        if not key:
            continue
        if key in seen and (len(key) >= min_chars or key == previous):
            edits.append((start, min(end + 1, len(text)), ""))
        seen.add(key)
        previous = key
    return edits


def whitespace(text: str) -> list[Edit]:
    """Indentation and runs of spaces become one space; three or more newlines two."""
    edits = [(m.start(), m.end(), "") for m in re.finditer(r"(?m)^[ \t\u3000]+|[ \t\u3000]+$", text)]
    edits += [(m.start(), m.end(), " ") for m in re.finditer(r"(?<=\S)[ \t\u3000]{2,}(?=\S)", text)]
    edits += [(m.start(), m.end(), "\n\n") for m in re.finditer(r"\n\s*\n\s*\n+", text)]
    return edits


STEPS = (junk_characters, pinyin_annotations, markup_residue, boilerplate_lines, duplicate_lines, whitespace)


def clean(original: str, steps=STEPS) -> MappedText:
    """Run every cleaning step in order; the result maps back into ``original``."""
    mt = MappedText.identity(original)
    for step in steps:
        mt = apply_edits(mt, step(mt.text))
    return mt
