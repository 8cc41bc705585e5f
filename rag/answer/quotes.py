"""Quote lookup: where does this fragment come from?

Exact matching ignores script (traditional = simplified), case, spacing and
punctuation: both sides are reduced to a *skeleton* of folded letters and digits that
remembers each character's position in the cleaned text. A fragment with no exact
match (a paraphrase, a translation) falls back to retrieval, with the longest common
stretch of the skeletons marking the place in each passage, or, when they share none
(a translation), the passage's phrase closest in meaning by the two encoders.

Each match gets a confidence and is *close* or not (``QuoteJudge``, fitted by ``rag fit-quotes`` on
fragments that are in an index — translated, misremembered, pasted in part — and fragments that are
not; ``models/quotes.json``); a lookup with no close match says so.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.errors import ModelError
from rag.index.store import Index
from rag.reader.base import Span, sigmoid
from rag.retrieval.retriever import Filters, Retriever, passage, quoted_fragments
from rag.text.language import CJK, fold

EXACT, OVERLAP, MEANING = "exact", "overlap", "meaning"


@dataclass(frozen=True)
class QuoteMatch:
    source: str
    start: int  # original offsets
    end: int
    text: str  # original_text[start:end]
    score: float  # 1.0 exact; else the share of the fragment found (overlap), or the cosine (meaning)
    exact: bool
    clean_start: int = 0  # the same place in the document's cleaned text
    clean_end: int = 0
    kind: str = EXACT  # exact | overlap (a stretch of the fragment found) | meaning (a translation)
    confidence: float | None = None  # how likely this is the source (``QuoteJudge``)
    close: bool = True  # likely enough to say "it comes from here"

    def to_json(self) -> dict:
        return dict(source=self.source, start=self.start, end=self.end, text=self.text,
                    score=round(self.score, 4), exact=self.exact, kind=self.kind, confidence=self.confidence,
                    close=self.close)


NO_RIVAL = 0.3  # the score a best match is compared with when no other document has a match


def rival(match: QuoteMatch, matches: list[QuoteMatch]) -> float:
    """The best score among ``matches`` in another document than ``match``'s (``NO_RIVAL`` if none)."""
    return max((o.score for o in matches if o.source != match.source), default=NO_RIVAL)


@dataclass(frozen=True)
class QuoteJudge:
    """How likely a match is the fragment's source: exact 1; an overlap, the share found, close from
    ``overlap`` on; a match by meaning, ``sigmoid(a·score + b·lead + c)``, where lead is its score
    above the best match in another document (a translation's source stands out; an unrelated
    text's nearest passages are all alike). Close: at least even odds. Fitted by ``rag fit-quotes``."""

    overlap: float
    meaning: tuple[float, float, float]  # a, b, c

    @classmethod
    def load(cls, path: Path | str) -> "QuoteJudge":
        fix = "restore models/quotes.json from the repository or fit it with `rag fit-quotes --data DIR`"
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            a, b, c = (float(v) for v in data["meaning"])
            return cls(float(data["overlap"]), (a, b, c))
        except FileNotFoundError as exc:
            raise ModelError(f"quote judgement not found at {path}: {fix}") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"quote judgement at {path} is unreadable ({exc}): {fix}") from exc

    def confidence(self, match: QuoteMatch, rival: float) -> float:
        if match.kind == EXACT:
            return 1.0
        if match.kind == OVERLAP:
            return match.score
        a, b, c = self.meaning
        return float(sigmoid(a * match.score + b * (match.score - rival) + c))

    def judge(self, matches: list[QuoteMatch]) -> list[QuoteMatch]:
        out = []
        for m in matches:
            p = self.confidence(m, rival(m, matches))
            close = m.exact or (p >= self.overlap if m.kind == OVERLAP else p >= 0.5)
            out.append(replace(m, confidence=round(p, 4), close=close))
        return out


def skeleton(text: str) -> tuple[str, list[int]]:
    """Folded letters and digits of ``text`` and the index of each in ``text``."""
    folded = fold(text)
    keep = [i for i, ch in enumerate(folded) if ch.isalnum()]
    return "".join(folded[i] for i in keep), keep


@functools.lru_cache(maxsize=8)
def _skeletons(index: Index) -> dict[str, tuple[str, list[int]]]:
    return {doc_id: skeleton(doc.cleaned.text) for doc_id, doc in index.documents.items()}


def _match(index: Index, doc_id: str, c0: int, c1: int, score: float, kind: str) -> QuoteMatch:
    doc = index.documents[doc_id]
    start, end = doc.cleaned.original_span(c0, c1)
    return QuoteMatch(doc_id, start, end, doc.original[start:end], score, kind == EXACT, c0, c1, kind)


def find_quote(index: Index, retriever: Retriever, fragment: str, limit: int = 5,
               judge: QuoteJudge | None = None) -> list[QuoteMatch]:
    """The ``limit`` best places for ``fragment``: exact matches, else the closest phrases of
    the retrieved passages (at least ``top_k`` of them are searched, however few are wanted:
    a translation's source need not be the passage retrieval ranks first), each with its
    confidence and judged close or not by ``judge`` (none given: raw scores, all close), most
    likely first."""
    found = _find(index, retriever, fragment, limit)
    if judge is None:
        return found
    return sorted(judge.judge(found), key=lambda m: -m.confidence)


def _find(index: Index, retriever: Retriever, fragment: str, limit: int) -> list[QuoteMatch]:
    frag, _ = skeleton(fragment)
    if not frag:
        return []
    out: list[QuoteMatch] = []
    for doc_id, (sk, pos) in _skeletons(index).items():
        at = sk.find(frag)
        while at >= 0 and len(out) < limit:
            out.append(_match(index, doc_id, pos[at], pos[at + len(frag) - 1] + 1, 1.0, EXACT))
            at = sk.find(frag, at + 1)
    if out:
        return out[:limit]
    translated = []  # passages sharing no stretch with the fragment: another language
    for p in retriever.run(fragment, top_k=max(limit, retriever.cfg.top_k)):
        sk, pos = skeleton(p.chunk.text)
        found = overlap(frag, sk)
        base = p.chunk.clean_start
        if found:
            (b0, b1), share = found
            c0, c1 = _whole_words(p.chunk.text, pos[b0], pos[b1 - 1] + 1)
            match = _match(index, p.chunk.doc_id, base + c0, base + c1, share, OVERLAP)
            if all((m.source, m.start, m.end) != (match.source, match.start, match.end) for m in out):
                out.append(match)  # overlapping chunks find the same place
        else:
            translated.append(p)
    for p, (c0, c1, score) in zip(translated, _closest_phrases(retriever, fragment, translated)):
        out.append(_match(index, p.chunk.doc_id, c0, c1, score, MEANING))
    return sorted(out, key=lambda m: -m.score)[:limit]


MIN_BLOCK = 3  # characters: shorter common pieces are chance


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) widened to the whole Latin-script words it cuts."""
    def latin(i: int) -> bool:
        return 0 <= i < len(text) and text[i].isalnum() and not CJK.match(text[i])

    while latin(start - 1) and latin(start):
        start -= 1
    while latin(end) and latin(end - 1):
        end += 1
    return start, end


def overlap(frag: str, sk: str) -> tuple[tuple[int, int], float] | None:
    """Where a skeleton ``sk`` holds most of the fragment's skeleton ``frag`` (a quote with a word
    left out or changed): the stretch of ``sk`` from its first to its last common piece, aligned on
    the longest one, and the share of ``frag`` those pieces cover. None when the longest common
    piece is under a quarter of the fragment (no stretch shared: another language)."""
    matcher = difflib.SequenceMatcher(None, frag, sk, autojunk=False)
    m = matcher.find_longest_match(0, len(frag), 0, len(sk))
    if m.size < max(2, len(frag) // 4):
        return None
    lo = max(0, m.b - m.a - 8)  # where the fragment would start in sk, with some slack
    hi = min(len(sk), m.b - m.a + len(frag) + 8)
    blocks = [b for b in difflib.SequenceMatcher(None, frag, sk[lo:hi], autojunk=False).get_matching_blocks()
              if b.size >= MIN_BLOCK]
    if not blocks:
        return (m.b, m.b + m.size), m.size / len(frag)
    covered = sum(b.size for b in blocks)
    return (lo + blocks[0].b, lo + blocks[-1].b + blocks[-1].size), max(covered, m.size) / len(frag)


_PHRASE_END = re.compile(r"[，,、。！？!?；;：:\n「」『』“”\"（）()]+")
_JOIN = re.compile(r"\s*[，,、；;：:]\s*")
_SENTENCE_END = re.compile(r"[。！？!?\n]+|(?<=[^\W\d_]{2})\.(?=\s)")


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    """[a, b) without the whitespace at its ends."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def phrases(text: str) -> list[tuple[int, int]]:
    """(start, end) of one or two consecutive phrases (text between commas, stops, quotes), and of
    each sentence longer than that (a translated sentence is closest to its whole source)."""
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
    found = set(pieces) | set(pairs)
    sentences, pos = [], 0
    for m in list(_SENTENCE_END.finditer(text)) + [None]:
        end = m.end() if m else len(text)
        a, b = _strip(text, pos, end)
        if b > a and (a, b) not in found and sum(1 for p in pieces if a <= p[0] and p[1] <= b) > 2:
            sentences.append((a, b))
        pos = end
    return pieces + pairs + sentences


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
        a, b = _strip(p.chunk.text, *ss[best - at])
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
                 filters: Filters | None = None, judge: QuoteJudge | None = None) -> list[Span]:
    """The places ``fragment`` comes from (within ``filters``) as answer spans: a quote-lookup
    question is answered by the lookup, not by the reader (which would extract a piece of it),
    each place with its confidence, which the answer stage's threshold judges as any answer's."""
    matches = find_quote(index, retriever, fragment, limit=limit, judge=judge)
    if not matches:
        return []
    def score(m: QuoteMatch) -> float:
        return m.score if m.confidence is None else m.confidence

    best, spans = score(matches[0]), []
    for m in matches:
        chunk_id = _chunk_holding(index, m)
        if chunk_id is None or (filters and not filters.allows(index.chunks[chunk_id], index)):
            continue
        if score(m) >= RELATIVE_FLOOR * best:
            found = passage(index, chunk_id, m.score)
            spans.append(Span(found, m.clean_start, m.clean_end, score(m)))
    return spans


def _chunk_holding(index: Index, m: QuoteMatch) -> int | None:
    return next((i for i, c in enumerate(index.chunks) if c.doc_id == m.source
                 and c.clean_start <= m.clean_start and m.clean_end <= c.clean_end), None)
