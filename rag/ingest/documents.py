"""Documents: read a file (txt, md, html, pdf, docx, epub) into text, detect its language, clean it.

A document's *original text* is what the file says as text: the decoded file for txt/md, the
extracted text for the other formats (``rag.ingest.html``, ``pdf``, ``word``, ``ebook``), which
is also what the viewer shows. Every offset the project reports indexes that string (Python
``str`` indices), and the index stores it, so ``original[start:end]`` can always be checked.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.ingest.cleaning import MappedText, clean
from rag.ingest.extracted import Cell, Extracted
from rag.ingest.titles import headline, shorten
from rag.text.language import detect_language

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ""}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
WORD_SUFFIXES = {".docx"}
EPUB_SUFFIXES = {".epub"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | WORD_SUFFIXES | EPUB_SUFFIXES
SUPPORTED_NAMES = "txt, md, html, pdf, docx, epub"


class DocumentError(InputError):
    """A file that cannot be used as a document; the message says why and what to do."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True)
class Document:
    doc_id: str  # stable id: the file name (unique within an index)
    path: str
    original: str
    cleaned: MappedText
    lang: str
    sha256: str  # of the file's bytes
    title: str = ""
    date: str = ""  # publication date where the file gives one
    pages: tuple[int, ...] = ()  # original offset where each page starts (PDFs)
    cells: tuple[Cell, ...] = ()  # table cells, by original offsets

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding original ``offset``, for documents with pages."""
        if not self.pages:
            return None
        import bisect

        return max(1, bisect.bisect_right(self.pages, offset))

    def cell_at(self, start: int, end: int) -> Cell | None:
        """The table cell that holds original [start, end), if any."""
        return next((c for c in self.cells if c.start <= start and end <= c.end), None)


def decode_bytes(data: bytes, path: Path | str = "<bytes>") -> str:
    """Bytes → text: BOMs, then strict UTF-8, then charset detection (GBK, Big5, …)."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise DocumentError(path, f"starts with a {codec} byte-order mark but does not decode ({exc.reason})") from exc
    if b"\x00" in data[:8192]:
        raise DocumentError(path, "looks binary (NUL bytes); give a text, HTML, PDF, Word or EPUB file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            # a file cut inside its last character: keep everything before it
            log.warning("%s: ends inside a UTF-8 character (truncated file); the partial character is dropped", path)
            return data[:exc.start].decode("utf-8")
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=None).best()
    if best is None or best.percent_chaos > 20:
        raise DocumentError(path, "is not text in any encoding we recognise (binary or corrupt); "
                                  "convert it to UTF-8 text and try again")
    log.info("%s: decoded as %s", path, best.encoding)
    return str(best)


def read_text(path: Path, max_bytes: int) -> tuple[Extracted, str]:
    """(extracted text, sha256 of bytes) of a supported file, or a DocumentError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(path, f"unsupported file type '{suffix}'; supported: {SUPPORTED_NAMES}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(path, f"is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit "
                                      "(raise it with --max-file-mb or RAG_MAX_FILE_MB)")
        data = path.read_bytes()
    except PermissionError as exc:
        raise DocumentError(path, "cannot be read (permission denied); check its permissions") from exc
    except IsADirectoryError as exc:
        raise DocumentError(path, "is a directory") from exc
    digest = hashlib.sha256(data).hexdigest()
    if suffix in PDF_SUFFIXES:
        return _pdf(path, data), digest
    if suffix in WORD_SUFFIXES | EPUB_SUFFIXES:
        return _packaged(path, data, suffix), digest
    text = decode_bytes(data, path)
    if suffix in HTML_SUFFIXES:
        from rag.ingest.html import read_html

        return read_html(text), digest
    return Extracted(text), digest


def _pdf(path: Path, data: bytes) -> Extracted:
    from rag.ingest.pdf import PdfUnreadable, read_pdf

    if not data.startswith(b"%PDF"):
        raise DocumentError(path, "has a .pdf name but is not a PDF file")
    try:
        extracted = read_pdf(path)
    except PdfUnreadable as exc:
        if exc.encrypted:
            raise DocumentError(path, "is an encrypted PDF; decrypt it first (e.g. qpdf --decrypt)") from exc
        raise DocumentError(path, f"is not a readable PDF ({exc}); repair or re-export it") from exc
    if not extracted.text.strip():
        raise DocumentError(path, "has no text layer (a scanned PDF?); run OCR on it (e.g. ocrmypdf) and add it again")
    return extracted


def _packaged(path: Path, data: bytes, suffix: str) -> Extracted:
    """A .docx or .epub: a zip package its library reads."""
    kind = "Word" if suffix in WORD_SUFFIXES else "EPUB"
    if not data.startswith(b"PK"):
        raise DocumentError(path, f"has a {suffix} name but is not a {kind} file (not a zip package)")
    if suffix in WORD_SUFFIXES:
        from rag.ingest.word import WordUnreadable as Unreadable
        from rag.ingest.word import read_docx as read
    else:
        from rag.ingest.ebook import EbookUnreadable as Unreadable
        from rag.ingest.ebook import read_epub as read
    try:
        return read(path)
    except Unreadable as exc:
        raise DocumentError(path, f"is not a readable {kind} file ({exc}); open and save it again") from exc


def load_document(path: Path, max_bytes: int, doc_id: str | None = None) -> Document:
    """Read, clean and describe one file."""
    extracted, digest = read_text(path, max_bytes)
    original = extracted.text
    if not original.strip():
        raise DocumentError(path, "is empty (no text to index)")
    cleaned = clean(original)
    if not cleaned.text.strip():
        raise DocumentError(path, "has no text left after cleaning (only boilerplate or symbols)")
    title = shorten(extracted.title) if extracted.title else headline(cleaned.text)
    return Document(doc_id or Path(path).name, str(path), original, cleaned, detect_language(cleaned.text), digest,
                    title, extracted.date, extracted.pages, extracted.cells)


def find_files(paths: list[Path]) -> list[Path]:
    """The files under the given files/directories, sorted by name, hidden ones left out; a file
    of an unsupported type is listed too, so that reading it reports why it is not indexed.
    Directory symlinks are not followed (no loops)."""
    found: dict[str, Path] = {}
    for root in paths:
        root = Path(root)
        if root.is_file():
            found[str(root.resolve())] = root
            continue
        if not root.exists():
            raise DocumentError(root, "does not exist")
        for path in sorted(root.rglob("*")):  # rglob does not follow directory symlinks
            hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
            if path.is_file() and not hidden:
                found.setdefault(str(path.resolve()), path)
    return sorted(found.values(), key=lambda p: p.name)
