"""Word files (.docx) → ``Extracted``: headings, paragraphs, lists and tables in document order.

``python-docx`` reads the file; the title is the document's own (its properties, a paragraph in
the Title style, or its first heading).
"""

from __future__ import annotations

from pathlib import Path

from rag.ingest.extracted import Extracted, TextBuilder


class WordUnreadable(ValueError):
    """Not a .docx file python-docx can open."""


def read_docx(path: Path) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise WordUnreadable(str(exc) or type(exc).__name__) from exc
    out = TextBuilder()
    title = (document.core_properties.title or "").strip()
    heading = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            out.table([_row_cells(row) for row in block.rows])
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style == "Title" or style.startswith("Heading"):
            title = title or (text if style == "Title" else "")
            heading = heading or text
            out.block(text)
        elif style.startswith("List") or _numbered(block):
            out.item(text)
        else:
            out.block(text)
    return out.build(title or heading)


def _numbered(paragraph) -> bool:
    ppr = paragraph._p.pPr  # python-docx has no public accessor for list numbering
    return ppr is not None and ppr.numPr is not None


def _row_cells(row) -> list[str]:
    """A row's cell texts, a cell merged across columns once."""
    cells, last = [], None
    for cell in row.cells:
        if cell._tc is not last:  # a merged cell comes back once per grid column it spans
            cells.append(cell.text)
        last = cell._tc
    return cells
