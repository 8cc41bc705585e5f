"""Quote lookup: where does this fragment come from?

Exact matching ignores script (traditional = simplified), case, spacing and
punctuation: both sides are reduced to a *skeleton* of folded letters and digits that
remembers each character's position in the cleaned text. A fragment with no exact
match (a paraphrase, a translation) falls back to retrieval, with the longest common
stretch of the skeletons marking the place in each passage, or, when they share none
(a translation), the passage's phrase closest in meaning by the two encoders.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

import numpy as np

from rag.index.store import Index
from rag.reader.base import Span
from rag.retrieval.retriever import Filters, Retriever, passage, quoted_fragments
from rag.text.language import fold


@dataclass(frozen=True)
class QuoteMatch:
    source: str
    start: int  # original offsets
    end: int
    text: str  # original_text[start:end]
    score: float  # 1.0 exact; else the share of the fragment found, or retrieval similarity
    exact: bool
    clean_start: int = 0  # the same place in the document's cleaned text
    clean_end: int = 0

    def to_json(self) -> dict:
        return dict(source=self.source, start=self.start, end=self.end, text=self.text,
                    score=round(self.score, 4), exact=self.exact)


def skeleton(text: str) -> tuple[str, list[int]]:
    """Folded letters and digits of ``text`` and the index of each in ``text``."""
    folded = fold(text)
    keep = [i for i, ch in enumerate(folded) if ch.isalnum()]
    return "".join(folded[i] for i in keep), keep


@functools.lru_cache(maxsize=8)
def _skeletons(index: Index) -> dict[str, tuple[str, list[int]]]:
    return {doc_id: skeleton(doc.cleaned.text) for doc_id, doc in index.documents.items()}


def _match(index: Index, doc_id: str, c0: int, c1: int, score: float, exact: bool) -> QuoteMatch:
    doc = index.documents[doc_id]
    start, end = doc.cleaned.original_span(c0, c1)
    return QuoteMatch(doc_id, start, end, doc.original[start:end], score, exact, c0, c1)


def find_quote(index: Index, retriever: Retriever, fragment: str, limit: int = 5) -> list[QuoteMatch]:
    """The ``limit`` best places for ``fragment``: exact matches, else the closest phrases of
    the retrieved passages (at least ``top_k`` of them are searched, however few are wanted:
    a translation's source need not be the passage retrieval ranks first)."""
    frag, _ = skeleton(fragment)
    if not frag:
        return []
    out: list[QuoteMatch] = []
    for doc_id, (sk, pos) in _skeletons(index).items():
        at = sk.find(frag)
        while at >= 0 and len(out) < limit:
            out.append(_match(index, doc_id, pos[at], pos[at + len(frag) - 1] + 1, 1.0, True))
            at = sk.find(frag, at + 1)
    if out:
        return out[:limit]
    translated = []  # passages sharing no stretch with the fragment: another language
    for p in retriever.run(fragment, top_k=max(limit, retriever.cfg.top_k)):
        sk, pos = skeleton(p.chunk.text)
        m = difflib.SequenceMatcher(None, frag, sk, autojunk=False).find_longest_match(0, len(frag), 0, len(sk))
        base = p.chunk.clean_start
        if m.size >= max(2, len(frag) // 4):
            c0, c1 = base + pos[m.b], base + pos[m.b + m.size - 1] + 1
            out.append(_match(index, p.chunk.doc_id, c0, c1, m.size / len(frag), False))
        else:
            translated.append(p)
    for p, (c0, c1, score) in zip(translated, _closest_phrases(retriever, fragment, translated)):
        out.append(_match(index, p.chunk.doc_id, c0, c1, score, False))
    return sorted(out, key=lambda m: -m.score)[:limit]


_PHRASE_END = re.compile(r"[，,、。！？!?；;：:\n「」『』“”\"（）()]+")


_JOIN = re.compile(r"\s*[，,、；;：:]\s*")


def phrases(text: str) -> list[tuple[int, int]]:
    """(start, end) of one or two consecutive phrases (text between commas, stops, quotes)."""
    pieces, pos = [], 0
    for m in _PHRASE_END.finditer(text):
        if m.start() > pos:
            pieces.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        pieces.append((pos, len(text)))
    pieces = [(a, b) for a, b in pieces if text[a:b].strip()]
    # two phrases join across a comma-like mark, never across a sentence end or a quote mark
    pairs = [(a, d) for (a, b), (c, d) in zip(pieces, pieces[1:]) if _JOIN.fullmatch(text[b:c])]
    return pieces + pairs


SHORTLIST = 6  # phrases per passage that the slower e5 encoder also scores


def _closest_phrases(retriever: Retriever, fragment: str, passages: list) -> list[tuple[int, int, float]]:
    """For each passage, its phrase most similar to ``fragment`` (a translated quote shares no
    characters with its source, only meaning): cleaned offsets and cosine. The fast encoder
    (USE) shortlists every passage's phrases; both encoders' mean cosine picks among those."""
    if not passages:
        return []
    embedder = retriever.embedder
    spans = [phrases(p.chunk.text) or [(0, len(p.chunk.text))] for p in passages]
    texts = [p.chunk.text[a:b] for p, ss in zip(passages, spans) for a, b in ss]
    use = embedder.passages(texts, fields=("use",))["use"] @ embedder.queries([fragment], fields=("use",))["use"][0]
    shortlist, at = [], 0
    for ss in spans:
        shortlist.append(at + np.argsort(-use[at:at + len(ss)])[:SHORTLIST])
        at += len(ss)
    flat = np.concatenate(shortlist)
    e5 = embedder.passages([texts[i] for i in flat], fields=("e5",))["e5"] @ embedder.queries([fragment], fields=("e5",))["e5"][0]
    mean = dict(zip(flat.tolist(), ((use[flat] + e5) / 2).tolist()))
    out, at = [], 0
    for p, ss, short in zip(passages, spans, shortlist):
        best = max(short.tolist(), key=mean.get)
        a, b = ss[best - at]
        text = p.chunk.text
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        out.append((p.chunk.clean_start + a, p.chunk.clean_start + b, max(0.0, mean[best])))
        at += len(ss)
    return out


# asking where a text comes from, in the three languages (not "where did 'X' happen", nor
# "who said 'X'", which asks for a person)
_LOOKUP = re.compile(r"\b(?:source|quot(?:e|ation)|saying|come[s]? from|origin(?:al)?|appear[s]?|locate"
                     r"|sumber|kutipan|berasal)\b|出处|出自|来源|原文|引文|引语|哪篇", re.IGNORECASE)
_PERSON = re.compile(r"\b(?:who|whom|siapa)\b|谁|誰", re.IGNORECASE)


def lookup_request(question: str) -> str | None:
    """The quoted fragment a question asks to locate ("Find the source of 'X'", "「X」出自哪里")."""
    fragments = quoted_fragments(question)
    if not fragments:
        return None
    rest = question.replace(fragments[0], " ")
    if _PERSON.search(rest) or not _LOOKUP.search(rest):
        return None
    return fragments[0]


RELATIVE_FLOOR = 0.9  # a looked-up place is an answer when it scores at least 90 % of the best


def lookup_spans(index: Index, retriever: Retriever, fragment: str, limit: int,
                 filters: Filters | None = None) -> list[Span]:
    """The places ``fragment`` comes from (within ``filters``) as answer spans: a quote-lookup
    question is answered by the lookup, not by the reader (which would extract a piece of it)."""
    matches = find_quote(index, retriever, fragment, limit=limit)
    if not matches:
        return []
    best, spans = matches[0].score, []
    for m in matches:
        chunk_id = _chunk_holding(index, m)
        if chunk_id is None or (filters and not filters.allows(index.chunks[chunk_id], index)):
            continue
        if m.score >= RELATIVE_FLOOR * best:
            found = passage(index, chunk_id, m.score)
            spans.append(Span(found, m.clean_start, m.clean_end, m.score))
    return spans


def _chunk_holding(index: Index, m: QuoteMatch) -> int | None:
    return next((i for i, c in enumerate(index.chunks) if c.doc_id == m.source
                 and c.clean_start <= m.clean_start and m.clean_end <= c.clean_end), None)
