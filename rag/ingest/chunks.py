"""Chunks: overlapping pieces of a document's cleaned text that end at sentence ends.

Splitting is ``langchain-text-splitters``' recursive splitter with separators for
Chinese, Indonesian and English sentence and clause ends; each chunk keeps its
offsets into the cleaned text and, through the cleaning map, into the original.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.ingest.documents import Document

# Coarsest first: paragraphs, lines, sentence ends (CJK full stops need no space),
# clause marks, then words and finally characters.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "!", "?", ". ", "；", "; ", "，", ", ", "、", " ", ""]


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    text: str  # cleaned text of the chunk
    start: int  # offsets into the document's original text
    end: int
    clean_start: int  # offsets into the document's cleaned text
    clean_end: int


def split_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    """Chunks of at most ``size`` characters, overlapping by up to ``overlap``."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size, chunk_overlap=overlap, separators=SEPARATORS,
        keep_separator="end", strip_whitespace=True,
    )
    text = doc.cleaned.text
    chunks, cursor = [], 0
    for piece in splitter.split_text(text):
        # the splitter returns substrings in order; locate each from just after the
        # previous chunk's start (the overlap means it may begin before its end)
        found = text.find(piece, cursor)
        if found < 0:
            found = text.find(piece)
        if found < 0:
            continue
        start, end = doc.cleaned.original_span(found, found + len(piece))
        chunks.append(Chunk(doc.doc_id, piece, start, end, found, found + len(piece)))
        cursor = found + 1
    return chunks
