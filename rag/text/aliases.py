"""Names the documents themselves spell in both scripts: "吳恩達(Andrew Ng)", "Li Lei (李磊)".

A Chinese article often gives a person's or a company's Latin name once, in brackets after the
characters (or the other way round). Those pairs say what a Latin-script question's name is in
the documents' characters, and how to write a Chinese answer for a Latin-script reader, in the
spelling the documents use rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.text.language import fold

_HAN = r"[\u3400-\u9fff\uf900-\ufaff·]{2,8}"
_LATIN = r"[A-Z][A-Za-z'.-]*(?:\s+[A-Z][A-Za-z'.-]*){0,4}"
_PAIRS = (
    re.compile(rf"(?P<han>{_HAN})\s*[(（]\s*(?P<latin>{_LATIN})\s*[)）]"),
    re.compile(rf"(?P<latin>{_LATIN})\s*[(（]\s*(?P<han>{_HAN})\s*[)）]"),
)


def pairs(text: str) -> list[tuple[str, str]]:
    """(characters, Latin name) pairs ``text`` spells out, in the order they appear."""
    found = []
    for pattern in _PAIRS:
        for m in pattern.finditer(text):
            latin = m.group("latin").strip(" .-'")
            if len(latin) >= 2:
                found.append((m.start(), m.group("han"), latin))
    return [(han, latin) for _, han, latin in sorted(found)]


class Aliases:
    """Both directions of the pairs found in a collection: folded characters ↔ Latin name."""

    def __init__(self, texts: Iterable[str]):
        self.latin_of: dict[str, str] = {}  # folded characters → Latin name as written
        self.han_of: dict[str, set[str]] = {}  # lower-case Latin name → folded characters
        for text in texts:
            for han, latin in pairs(text):
                key = fold(han)
                # a longer run of characters before the bracket ("院長吳恩達") ends in the name
                self.latin_of.setdefault(key, latin)
                self.han_of.setdefault(latin.lower(), set()).add(key)

    def latin(self, han: str) -> str | None:
        """The Latin name the documents give for characters ``han`` (or for the name they end in)."""
        key = fold(han)
        if key in self.latin_of:
            return self.latin_of[key]
        # an acronym after a phrase ("…研究院(AIR)") names the phrase, not a word it ends in
        return next((latin for chars, latin in self.latin_of.items()
                     if len(key) >= 2 and chars.endswith(key) and not latin.isupper()), None)

    def characters(self, latin: str) -> set[str]:
        """The folded characters the documents give for a Latin name."""
        return self.han_of.get(latin.lower(), set())
