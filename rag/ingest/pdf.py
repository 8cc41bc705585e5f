"""PDFs → ``Extracted``: paragraphs reflowed, running headers and page numbers dropped, pages kept.

Text and line boxes come from PDFium (``pypdfium2``: Chrome's PDF engine, fast and exact about
where each line sits). What PDFium gives is typeset lines; this module decides what a reader
of the page sees: lines joined into paragraphs (a wider gap, a change of type size or a short
line ending a sentence starts a new one), a word hyphenated at a line end joined again, lines
in the top or bottom margin that repeat from page to page (running headers, footers) or are
bare page numbers dropped, a paragraph running over a page break kept whole. Where each page
starts is recorded, so a citation can name its page.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.extracted import Extracted

MARGIN = 0.12  # the top and bottom share of a page where running headers and footers sit
_PAGE_NUMBER = re.compile(r"^(page|p\.|hal\.?|halaman|第)?\s*[-–—]?\s*\d{1,4}\s*((/|of|dari|von)\s*\d{1,4})?"
                          r"\s*[-–—]?\s*(页|頁)?$", re.IGNORECASE)
_SENTENCE_END = tuple(".!?。！？:;：；\"”’」』)）")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_HYPHEN = "\x02"  # PDFium's mark for a hyphen at a line end


class PdfUnreadable(ValueError):
    """The file is not a PDF PDFium can open; ``encrypted`` when it wants a password."""

    def __init__(self, message: str, encrypted: bool = False):
        super().__init__(message)
        self.encrypted = encrypted


@dataclass
class Line:
    top: float  # distance from the page's top edge
    bottom: float
    left: float
    right: float
    text: str
    size: float  # type size (points) of the line's first character

    @property
    def height(self) -> float:
        return self.bottom - self.top


def read_pdf(path: Path) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise PdfUnreadable(str(exc), encrypted="password" in str(exc).lower()) from exc
    try:
        pages = []
        for page in pdf:
            height = page.get_height()
            pages.append((height, _page_lines(page.get_textpage(), height)))
        title = (pdf.get_metadata_dict().get("Title") or "").strip()
    finally:
        pdf.close()
    kept = _without_furniture(pages)
    text, starts = _reflow(kept)
    if not title or re.match(r"(?i)^(untitled|microsoft word|document\d*$)", title):
        title = _heading(kept)
    return Extracted(text, title, pages=tuple(starts))


def _page_lines(textpage, height: float) -> list[Line]:
    """The page's text boxes merged into lines (boxes whose vertical extents overlap), top to bottom."""
    import pypdfium2.raw as raw

    boxes = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top)
        text = re.sub(r"[\r\n\ufffe]+", " ", text).strip(" ")
        if text.strip():
            first = textpage.get_index(left + 0.5, (top + bottom) / 2, 2, 2)
            size = raw.FPDFText_GetFontSize(textpage.raw, first) if first >= 0 else 0.0
            boxes.append(Line(height - top, height - bottom, left, right, text, size or top - bottom))
    boxes.sort(key=lambda b: (b.top, b.left))
    lines: list[Line] = []
    for box in boxes:
        last = lines[-1] if lines else None
        if last and min(last.bottom, box.bottom) - max(last.top, box.top) > 0.5 * min(last.height, box.height):
            gap = " " if box.left - last.right > 1 and not (_CJK.search(last.text[-1:]) and _CJK.search(box.text[:1])) else ""
            last.text, last.right = last.text + gap + box.text, max(last.right, box.right)
            last.top, last.bottom = min(last.top, box.top), max(last.bottom, box.bottom)
            last.size = max(last.size, box.size)
        else:
            lines.append(box)
    return lines


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _without_furniture(pages: list[tuple[float, list[Line]]]) -> list[list[Line]]:
    """Drop margin lines that repeat on other pages (numbers aside), bare page numbers, and lines in
    the top margin set smaller than the body text (a running head, also on a one-page file)."""
    def margin(height: float, lines: list[Line]) -> list[Line]:
        return [ln for ln in lines if ln.bottom < height * MARGIN or ln.top > height * (1 - MARGIN)]

    seen: dict[str, int] = {}
    for height, lines in pages:
        for key in {_key(ln.text) for ln in margin(height, lines)}:
            seen[key] = seen.get(key, 0) + 1
    repeated = {k for k, n in seen.items() if n >= 2 and n >= len(pages) / 2}
    sizes = [ln.size for _, lines in pages for ln in lines]
    body = statistics.median(sizes) if sizes else 0.0
    out = []
    for height, lines in pages:
        furniture = {id(ln) for ln in margin(height, lines)
                     if _key(ln.text) in repeated or _PAGE_NUMBER.match(ln.text.strip())
                     or (ln.bottom < height * MARGIN and ln.size < 0.9 * body)}  # a running head in small type
        out.append([ln for ln in lines if id(ln) not in furniture])
    return out


def _starts_paragraph(prev: Line, line: Line, pitch: float, size: float, right: float) -> bool:
    if line.top - prev.top > 1.45 * pitch or line.top - prev.bottom > 0.9 * size:
        return True  # a wider gap
    if abs(line.size - prev.size) > 0.5:
        return True  # another type size: a heading
    return prev.text.rstrip().endswith(_SENTENCE_END) and prev.right < right - 0.12 * (right - prev.left)


def _join(text: str, line: str) -> str:
    if text.endswith(_HYPHEN) or (text.endswith("-") and line[:1].islower() and text[-2:-1].isalpha()):
        return (text[:-1] if line[:1].islower() else text[:-1] + "-") + line
    if _CJK.search(text[-1:]) or _CJK.search(line[:1]):
        return text + line
    return text + " " + line


def _reflow(pages: list[list[Line]]) -> tuple[str, list[int]]:
    """Paragraphs apart by a blank line; each page's start offset."""
    every = [ln for lines in pages for ln in lines]
    if not every:
        return "", [0] * len(pages)
    pitches = [b.top - a.top for lines in pages for a, b in zip(lines, lines[1:]) if b.top > a.top]
    pitch = statistics.median(pitches) if pitches else 1.0
    size = statistics.median(ln.size for ln in every)
    paragraphs: list[str] = []
    page_starts: list[tuple[int, int, int]] = []  # (paragraph, offset in it, page) where each page begins
    for number, lines in enumerate(pages):
        right = max((ln.right for ln in lines), default=0.0)
        for i, line in enumerate(lines):
            text = line.text.strip()
            if i == 0:
                last = paragraphs[-1] if paragraphs else ""
                if last and not last.endswith(_SENTENCE_END) and (text[:1].islower() or _CJK.search(text[:1])):
                    paragraphs[-1] = _join(last, text)  # a paragraph running over the page break
                    page_starts.append((len(paragraphs) - 1, len(paragraphs[-1]) - len(text), number))
                else:
                    page_starts.append((len(paragraphs), 0, number))
                    paragraphs.append(text)
            elif _starts_paragraph(lines[i - 1], line, pitch, size, right):
                paragraphs.append(text)
            else:
                paragraphs[-1] = _join(paragraphs[-1], text)
    texts = [p.replace(_HYPHEN, "-") for p in paragraphs]
    where, pos = [], 0
    for t in texts:
        where.append(pos)
        pos += len(t) + 2
    starts = [0] * len(pages)
    for para, offset, number in page_starts:
        starts[number] = where[para] + offset if para < len(where) else pos
    for n in range(1, len(pages)):  # a page with no text starts where the next text does
        starts[n] = max(starts[n], starts[n - 1])
    return "\n\n".join(texts), starts


def _heading(pages: list[list[Line]]) -> str:
    """The first page's line in the largest type among its first lines, when larger than the body's."""
    first = pages[0][:6] if pages and pages[0] else []
    if not first:
        return ""
    size = statistics.median(ln.size for lines in pages for ln in lines)
    best = max(first, key=lambda ln: ln.size)
    return best.text.strip() if best.size > 1.15 * size else ""
