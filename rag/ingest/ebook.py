"""EPUB books → ``Extracted``: the chapters in reading order, each read whole as HTML.

``ebooklib`` opens the book and gives its spine (reading order) and title; each chapter's markup
goes through ``rag.ingest.html.markup_blocks``, the same blocks, lists and tables as a web page.
"""

from __future__ import annotations

from pathlib import Path

from rag.ingest.extracted import Extracted, TextBuilder
from rag.ingest.html import markup_blocks


class EbookUnreadable(ValueError):
    """Not an EPUB file ebooklib can open."""


def read_epub(path: Path) -> Extracted:
    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(str(path), options={"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises bare Exception, zipfile and lxml errors for a bad book
        raise EbookUnreadable(str(exc) or type(exc).__name__) from exc
    titles = book.get_metadata("DC", "title")
    out = TextBuilder()
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        out.extend(markup_blocks(item.get_content()))
    return out.build(titles[0][0] if titles else "")
