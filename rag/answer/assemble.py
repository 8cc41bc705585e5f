"""Answers: reader spans → deduplicated answers with citations into the original text.

An answer's ``text`` is the span as a reader sees it (cleaned: inline pinyin and junk
removed); each citation gives ``start``/``end`` into the document's original text, and
``original`` = ``original_text[start:end]`` exactly (equal to ``text`` unless cleaning
removed something inside the span). The same answer found in several places, in
traditional or simplified script, becomes one answer with several citations. A bare
fragment (a month without its year, a lone number) is widened or given its clause
(``rag.answer.fragments``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from rag.answer.fragments import context, widen
from rag.answer.support import key_terms, support
from rag.index.store import Index
from rag.reader.base import Span
from rag.text.aliases import Aliases
from rag.text.language import CJK, normalize_answer

_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[。！？!?\n]|(?<=[a-z0-9)\]])\.(?=\s)")
QUOTE_MAX = 160  # characters of context on each side at most


@dataclass(frozen=True)
class Citation:
    source: str  # document file name
    text: str  # the cited span as read (cleaned); script may differ from the answer's
    start: int  # offsets into the original text
    end: int
    original: str  # original_text[start:end]
    quote: str  # the sentence(s) around the answer (cleaned)
    quote_start: int  # original offsets of the quote
    quote_end: int
    answer_in_quote: tuple[int, int]  # where the answer sits inside ``quote``
    score: float
    page: int | None = None  # 1-based, in documents with pages (PDFs)
    cell: dict | None = None  # {"row", "column"} when the answer is a table cell
    support: float | None = None  # share of the question's key terms the quote holds


@dataclass(frozen=True)
class AnswerContext:
    """The clause around a bare answer (cleaned text, original offsets) and the document's
    own date when the answer is a date without a year."""

    text: str
    start: int
    end: int
    answer_in_context: tuple[int, int]
    dated: str | None


@dataclass
class Answer:
    text: str
    score: float
    citations: list[Citation] = field(default_factory=list)
    context: AnswerContext | None = None
    romanized: str | None = None  # a Chinese answer in Latin letters, for a question asked in them

    def to_json(self) -> dict:
        first = self.citations[0]
        ctx = self.context and dict(asdict(self.context), answer_in_context=list(self.context.answer_in_context))
        return dict(text=self.text, score=round(self.score, 4), romanized=self.romanized, source=first.source,
                    start=first.start, end=first.end, page=first.page, quote=first.quote, original=first.original,
                    context=ctx,
                    citations=[dict(asdict(c), answer_in_quote=list(c.answer_in_quote)) for c in self.citations])


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence(s) of ``text`` containing ``[start, end)``, at most QUOTE_MAX each side."""
    lo = max(0, start - QUOTE_MAX)
    ends = [m.end() for m in _SENTENCE_END.finditer(text, lo, start)]
    q0 = ends[-1] if ends else lo
    m = _SENTENCE_END.search(text, end, min(len(text), end + QUOTE_MAX))
    q1 = m.end() if m else min(len(text), end + QUOTE_MAX)
    if _inside_word(text, q0):  # a long sentence cut short: start and end at whole words
        space = _SPACE.search(text, q0, start)
        q0 = space.end() if space else q0
    if _inside_word(text, q1):
        spaces = [m.start() for m in _SPACE.finditer(text, end, q1)]
        q1 = spaces[-1] if spaces else q1
    while q0 < start and text[q0].isspace():
        q0 += 1
    while q1 > end and text[q1 - 1].isspace():
        q1 -= 1
    return q0, q1


def _inside_word(text: str, i: int) -> bool:
    """Whether ``i`` falls between two letters or digits of a Latin-script word."""
    return 0 < i < len(text) and all(c.isalnum() and not CJK.match(c) for c in (text[i - 1], text[i]))


def cite(index: Index, span: Span, bounds: tuple[int, int] | None = None) -> Citation:
    """The citation of ``span`` (or of ``bounds``, cleaned-text offsets in its document)."""
    doc = index.documents[span.passage.chunk.doc_id]
    cleaned = doc.cleaned
    s0, e0 = bounds or (span.start, span.end)
    start, end = cleaned.original_span(s0, e0)
    q0, q1 = sentence_bounds(cleaned.text, s0, e0)
    qs, qe = cleaned.original_span(q0, q1)
    cell = doc.cell_at(start, end)
    return Citation(doc.doc_id, cleaned.text[s0:e0], start, end, doc.original[start:end],
                    cleaned.text[q0:q1], qs, qe, (s0 - q0, e0 - q0), round(span.score, 4),
                    doc.page_at(start), cell and dict(row=cell.row, column=cell.column))


def answer_context(index: Index, doc_id: str, start: int, end: int) -> AnswerContext | None:
    cleaned = index.documents[doc_id].cleaned
    found = context(cleaned.text, start, end)
    if found is None:
        return None
    o0, o1 = cleaned.original_span(found.start, found.end)
    return AnswerContext(cleaned.text[found.start:found.end], o0, o1,
                         (start - found.start, end - found.start), found.dated)


def assemble(index: Index, spans: list[Span], limit: int, threshold: float, question: str = "",
             aliases: Aliases | None = None) -> list[Answer]:
    """Group spans by their folded text; keep answers scoring at least ``threshold``. With the
    ``question``, each answer's citations are ordered by how much of the question their sentence
    states (``rag.answer.support``), and only those stating as much as the first are kept: the
    first cites the sentence about what was asked, the others the same fact said again. A span
    under the threshold may still cite an answer kept."""
    answers: dict[str, Answer] = {}
    where: dict[int, tuple[str, tuple[int, int]]] = {}  # id(citation) → (document, cleaned bounds)
    for span in sorted(spans, key=lambda s: -s.score):
        doc = index.documents[span.passage.chunk.doc_id]
        bounds = widen(doc.cleaned.text, span.start, span.end)
        text = doc.cleaned.text[bounds[0]:bounds[1]]
        key = normalize_answer(text)
        if not key or (span.score < threshold and (key not in answers or not question)):
            continue
        cit = cite(index, span, bounds)
        where[id(cit)] = (doc.doc_id, bounds)
        if key in answers:
            if all((c.source, c.start) != (cit.source, cit.start) for c in answers[key].citations):
                answers[key].citations.append(cit)
            continue
        if _overlaps(key, answers):
            continue
        if len(answers) < limit:
            answers[key] = Answer(text, span.score, [cit], answer_context(index, doc.doc_id, *bounds))
    if question:
        groups = key_terms(question, aliases)
        for answer in answers.values():
            _order_citations(index, answer, groups, where)
    return list(answers.values())


def _order_citations(index: Index, answer: Answer, groups, where) -> None:
    first = answer.citations[0]
    rated = [replace(c, support=round(support(groups, c.quote), 3)) for c in answer.citations]
    for c, r in zip(answer.citations, rated):
        where[id(r)] = where[id(c)]
    rated.sort(key=lambda c: (-c.support, -c.score))
    best = rated[0].support
    answer.citations = [c for c in rated if c.support >= best and (c is rated[0] or best > 0)]
    if (answer.citations[0].source, answer.citations[0].start) != (first.source, first.start):
        doc_id, bounds = where[id(answer.citations[0])]
        answer.context = answer_context(index, doc_id, *bounds)


def _overlaps(key: str, answers: dict[str, Answer]) -> bool:
    """A span contained in (or containing) an answer already kept is a variant of it."""
    return any(key in k or k in key for k in answers)
