"""A plain-text document's title: its headline, not the site furniture above it.

Pages saved as text often begin with a site name, a section name, a date or a "you are here"
trail before the headline. The headline is the first of the opening lines whose words the
article's paragraphs go on to use; furniture shares little with them.
"""

from __future__ import annotations

import re

from rag.text.language import tokenize

OPENING_LINES = 10  # where a headline is looked for
PARAGRAPH = 40  # characters: a line at least this long is body text
TITLE_LIMIT = 80

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _terms(text: str) -> set[str]:
    """Content words: the lexical tokens (jieba words for Chinese, folded) of 2+ Chinese characters
    or 3+ letters."""
    return {t for t in tokenize(text) if (len(t) >= 2 and _CJK.match(t)) or (len(t) >= 3 and t.isalpha())}


def _candidate(line: str) -> bool:
    """Words rather than a date or a number, no longer than a headline, not a sentence ending in a
    full stop (headlines end bare, or with ? or !)."""
    letters = sum(c.isalpha() for c in line)
    digits = sum(c.isdigit() for c in line)
    return letters >= 4 and digits <= letters and len(line) <= 200 and not line.endswith(("。", "."))


def headline(text: str) -> str:
    """The first opening line sharing at least 40 % of its terms with the body's paragraphs; else the
    opening line sharing most (at least a third); else the first line."""
    lines = [ln.strip().lstrip("#").strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        return ""
    body = _terms(" ".join(ln for ln in lines if len(ln) >= PARAGRAPH))
    best, best_share = lines[0], 0.0
    for i, line in enumerate(lines[:OPENING_LINES]):
        if not _candidate(line):
            continue
        terms = _terms(line)
        rest = _terms(" ".join(ln for ln in lines[i + 1:] if len(ln) >= PARAGRAPH)) if len(line) >= PARAGRAPH else body
        share = len(terms & rest) / len(terms) if terms else 0.0
        if share >= 0.4:
            return shorten(line)
        if share > best_share:
            best, best_share = line, share
    return shorten(best if best_share >= 1 / 3 else lines[0])


def shorten(title: str, limit: int = TITLE_LIMIT) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"
