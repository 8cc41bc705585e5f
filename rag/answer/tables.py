"""Answers from tables: a cell of the row the question names, in the column the reader chose.

A table row reads alone ("Harlow — Opened: 1998 — Passengers a day: 12,400"), but a reader trained
on prose tells columns apart far better than rows: asked about Harlow it may take the passenger
count of the row below. Where a span falls in a table, it is cut to the one cell it starts in;
where the question names a row (writes its label, or another of its cells) and the span's cell is
in another row, the answer becomes the cell of the named row in the same column.
"""

from __future__ import annotations

import re
from dataclasses import replace

from rag.index.store import Index
from rag.ingest.documents import Document
from rag.ingest.extracted import Cell
from rag.reader.base import Span
from rag.text.language import fold


def _named_rows(doc: Document, question: str) -> set[str]:
    """Rows of ``doc``'s tables the question points at: it writes the row's label, or one of the
    row's cells ("Which station opened in 2004?"), as whole words (every word of a label of several)."""
    folded = fold(question)
    text = doc.original
    return {c.row for c in doc.cells if c.row and _names(folded, fold(text[c.start:c.end]))}


def _names(folded_question: str, label: str) -> bool:
    """The label as written, or (a label of several words: "Port Alden – Merrow") each of its words."""
    if len(label) < 2:
        return False
    words = re.findall(r"[^\W_]+", label)
    if len(words) > 1 and all(len(w) > 1 for w in words):
        return all(_word_in(folded_question, w) for w in words)
    return _word_in(folded_question, label)


def _word_in(folded_question: str, word: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", folded_question) is not None


def _cleaned_bounds(doc: Document, cell: Cell) -> tuple[int, int]:
    return doc.cleaned.cleaned_index(cell.start), doc.cleaned.cleaned_index(cell.end - 1) + 1


def realign(index: Index, spans: list[Span], question: str) -> list[Span]:
    """``spans`` with those in table cells cut to one cell and moved to the row the question names."""
    out = []
    named: dict[str, set[str]] = {}
    for span in spans:
        doc = index.documents[span.passage.chunk.doc_id]
        if not doc.cells:
            out.append(span)
            continue
        o0, o1 = doc.cleaned.original_span(span.start, span.end)
        cell = next((c for c in doc.cells if c.start <= o0 < c.end or o0 <= c.start < o1), None)
        if cell is None:
            out.append(span)
            continue
        if doc.doc_id not in named:
            named[doc.doc_id] = _named_rows(doc, question)
        rows = named[doc.doc_id]
        if rows and cell.row not in rows:
            moved = [c for c in doc.cells if c.row in rows and c.column == cell.column]
            if moved:
                cell = min(moved, key=lambda c: abs(c.start - cell.start))
        start, end = _cleaned_bounds(doc, cell)
        out.append(replace(span, start=start, end=end))
    return out
