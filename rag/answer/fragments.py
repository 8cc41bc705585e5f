"""Fuller answers for bare fragments: a month or day without its year, a lone number.

An answer stays an exact span of its source. When the year stands right beside a date
("2021年11月", "November 2021"), the span grows to take it in. A fragment still bare after
that ("11月" in "11月,复旦大学官宣…") carries its clause, and for a date, the date the
document gives itself in its first lines ("发布时间:2021-12-16", "Published 16 Dec 2021"),
so "11月" can be read as November 2021.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM_ZH = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
_MONTHS = ("january february march april may june july august september october november december "
           "januari februari maret mei juni juli agustus oktober desember "
           "jan feb mar apr jun jul aug agu sep sept oct okt nov dec des")
_MONTH_WORD = r"(?:" + "|".join(sorted(set(_MONTHS.split()), key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:1[89]|20)\d{2}"
# a month and/or day with no year in it
_DATE_ZH = re.compile(rf"(?:{_NUM_ZH}月(?:{_NUM_ZH}[日号])?|{_NUM_ZH}[日号])(?:[上中下]旬|初|底)?")
_DATE_LATIN = re.compile(rf"(?:\d{{1,2}}\s+{_MONTH_WORD}|{_MONTH_WORD}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?)", re.I)
_NUMBER = re.compile(r"[\d.,]+|[一二两三四五六七八九十百千万亿]+")
_YEAR_BEFORE = re.compile(rf"({_YEAR})\s*年\s*$|({_YEAR}),?\s+$")
_YEAR_AFTER = re.compile(rf"^,?\s*({_YEAR})\b(?!\s*年)")
_CLAUSE_END = re.compile(r"[，,；;。！？!?\n]|\.(?=\s|$)")
_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
CLAUSE_MAX = 80  # characters of clause on each side at most
CLAUSE_MIN = 12  # characters after the answer before the clause may end ("11月," goes on)
DATELINE_CHARS = 600  # where a document states its own date
_DATELINE = re.compile(
    rf"({_YEAR})\s*[-/.年]\s*(\d{{1,2}})\s*[-/.月]\s*(\d{{1,2}})\s*日?"
    rf"|(\d{{1,2}})\s+({_MONTH_WORD})\s+({_YEAR})|({_MONTH_WORD})\s+(\d{{1,2}}),?\s+({_YEAR})", re.I)


@dataclass(frozen=True)
class Context:
    """What a bare answer needs around it: its clause (cleaned-text offsets) and the
    document's own date when the answer is a date without a year."""

    start: int
    end: int
    dated: str | None = None


def is_date_without_year(text: str) -> bool:
    text = text.strip()
    return bool(_DATE_ZH.fullmatch(text) or _DATE_LATIN.fullmatch(text))


def is_bare(text: str) -> bool:
    """A date without its year, or a number with nothing to say what it counts."""
    return is_date_without_year(text) or _is_count(text)


def _is_count(text: str) -> bool:
    """A number alone (a year alone says enough)."""
    text = text.strip()
    return bool(_NUMBER.fullmatch(text)) and not re.fullmatch(_YEAR, text)


def widen(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` grown to take in the year written right beside a date without one."""
    if not is_date_without_year(text[start:end]):
        return start, end
    before = _YEAR_BEFORE.search(text[max(0, start - 8):start])
    if before:
        return start - len(before.group()), end
    after = _YEAR_AFTER.match(text[end:end + 8])
    if after:
        return start, end + after.end()
    return start, end


def context(text: str, start: int, end: int) -> Context | None:
    """The clause around a bare answer ``text[start:end]`` (and the document's date for a
    date); None when the answer says enough on its own."""
    date = is_date_without_year(text[start:end])
    if not (date or _is_count(text[start:end])):
        return None
    ends = [m.end() for m in _CLAUSE_END.finditer(text, max(0, start - CLAUSE_MAX), start)]
    c0 = ends[-1] if ends else max(0, start - CLAUSE_MAX)
    limit = min(len(text), end + CLAUSE_MAX)
    ends = [m.start() for m in (_SENTENCE_END.search(text, end, limit),
                                _CLAUSE_END.search(text, min(len(text), end + CLAUSE_MIN), limit)) if m]
    c1 = min(ends, default=limit)
    while c0 < start and text[c0].isspace():
        c0 += 1
    return Context(c0, c1, dateline(text) if date else None)


def dateline(text: str) -> str | None:
    """The first full date (with a year) in a document's opening lines, as written."""
    m = _DATELINE.search(text[:DATELINE_CHARS])
    return m.group().strip() if m else None
