"""What a file reader hands on: the text the user sees, with its title, date, pages and table cells.

Readers of web pages, Word files and EPUBs build the text block by block with ``TextBuilder``,
which records where each table cell lies; the PDF reader records where each page starts. So a
citation can say "p. 2" or "row Harlow, column Opened" by offsets alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# between the cells of a table row as the text shows it: "Harlow — Opened: 1998 — Passengers a day: 12,400"
CELL_SEPARATOR = " — "


@dataclass(frozen=True)
class Cell:
    start: int  # offsets into the extracted text
    end: int
    row: str  # the row's label (its first cell)
    column: str  # the column's header ("" when the table has none)


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str = ""
    date: str = ""  # publication date as the file gives it (ISO where known)
    pages: tuple[int, ...] = ()  # offset where each page starts (PDFs)
    cells: tuple[Cell, ...] = ()


@dataclass
class TextBuilder:
    """Blocks in reading order: paragraphs and headings apart by a blank line, list items and table
    rows a line each."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    cells: list[Cell] = field(default_factory=list)
    _kind: str = ""  # of the last block: list items follow items, and rows rows, on the next line

    def _put(self, text: str, kind: str) -> int:
        if self.parts:
            sep = "\n" if kind != "block" and kind == self._kind else "\n\n"
            self.parts.append(sep)
            self.length += len(sep)
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        self._kind = kind
        return start

    def block(self, text: str) -> None:
        """A paragraph or heading (whitespace runs become one space)."""
        text = " ".join(text.split())
        if text:
            self._put(text, "block")

    def item(self, text: str, marker: str = "• ") -> None:
        text = " ".join(text.split())
        if text:
            self._put(marker + text, "item")

    def table(self, rows: list[list[str]], header: list[str] | None = None) -> None:
        """Each row on its own line, every cell after the first with its column header: the row is
        readable alone, and each cell's place is recorded. Without a header the first row is taken
        as one when the table has more rows."""
        rows = [[" ".join(c.split()) for c in r] for r in rows if any(c.strip() for c in r)]
        if header is None and len(rows) > 1:
            header, rows = rows[0], rows[1:]
        header = header or []
        for cells in rows:
            label = cells[0] if cells else ""
            pieces, spans, pos = [], [], 0
            for j, value in enumerate(cells):
                if not value:
                    continue
                column = header[j] if j < len(header) else ""
                prefix = f"{column}: " if j and column else ""
                piece = (CELL_SEPARATOR if pieces else "") + prefix + value
                lo = pos + len(piece) - len(value)
                spans.append((lo, lo + len(value), column))
                pieces.append(piece)
                pos += len(piece)
            if not pieces:
                continue
            start = self._put("".join(pieces), "row")
            self.cells += [Cell(start + lo, start + hi, label, column) for lo, hi, column in spans]

    def extend(self, other: Extracted) -> None:
        """Another text's blocks after these (an EPUB chapter), its cells moved to their new offsets."""
        if other.text.strip():
            start = self._put(other.text, "block")
            self.cells += [replace(c, start=c.start + start, end=c.end + start) for c in other.cells]

    def build(self, title: str = "", date: str = "") -> Extracted:
        return Extracted("".join(self.parts), title.strip(), date, cells=tuple(self.cells))
