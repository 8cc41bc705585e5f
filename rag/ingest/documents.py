"""Documents: read a file (txt, md, html, pdf) into text, detect its language, clean it.

A document's *original text* is what the file says as text: the decoded file for
txt/md, the extracted text for html and pdf. Every offset the project reports indexes
that string (Python ``str`` indices), and the index stores it, so ``original[start:end]``
can always be checked.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.ingest.cleaning import MappedText, clean
from rag.text.language import detect_language

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ""}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


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


def title_of(text: str, limit: int = 80) -> str:
    """A document's title: its first non-empty line (a Markdown heading's text), at most ``limit``
    characters. HTML pages begin with their first heading, as ``html_text`` keeps block order."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = line.lstrip("#").strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def decode_bytes(data: bytes, path: Path | str = "<bytes>") -> str:
    """Bytes → text: BOMs, then strict UTF-8, then charset detection (GBK, Big5, …)."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise DocumentError(path, f"starts with a {codec} byte-order mark but does not decode ({exc.reason})") from exc
    if b"\x00" in data[:8192]:
        raise DocumentError(path, "looks binary (NUL bytes); give a text, HTML or PDF file")
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


def html_text(markup: str) -> str:
    """Visible text of an HTML page, one block per line; scripts and styles dropped."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(markup)
    for node in tree.css("script, style, noscript, template, svg, iframe, head"):
        node.decompose()
    body = tree.body or tree.root
    return body.text(separator="\n", strip=True) if body is not None else ""


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise DocumentError(path, "is an encrypted PDF; decrypt it first (e.g. qpdf --decrypt)")
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(path, f"is not a readable PDF ({exc}); repair or re-export it") from exc


def read_text(path: Path, max_bytes: int) -> tuple[str, str]:
    """(original text, sha256 of bytes) of a supported file, or a DocumentError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(path, f"unsupported file type '{suffix}'; supported: txt, md, html, pdf")
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
        if not data.startswith(b"%PDF"):
            raise DocumentError(path, "has a .pdf name but is not a PDF file")
        text = pdf_text(path)
    else:
        text = decode_bytes(data, path)
        if suffix in HTML_SUFFIXES:
            text = html_text(text)
    return text, digest


def load_document(path: Path, max_bytes: int, doc_id: str | None = None) -> Document:
    """Read, clean and describe one file."""
    original, digest = read_text(path, max_bytes)
    if not original.strip():
        raise DocumentError(path, "is empty (no text to index)")
    cleaned = clean(original)
    if not cleaned.text.strip():
        raise DocumentError(path, "has no text left after cleaning (only boilerplate or symbols)")
    return Document(doc_id or Path(path).name, str(path), original, cleaned,
                    detect_language(cleaned.text), digest)


def find_files(paths: list[Path]) -> list[Path]:
    """Supported files under the given files/directories, sorted; symlink loops are skipped."""
    found: dict[str, Path] = {}
    for root in paths:
        root = Path(root)
        if root.is_file():
            found[str(root.resolve())] = root
            continue
        if not root.exists():
            raise DocumentError(root, "does not exist")
        for path in sorted(root.rglob("*")):  # rglob does not follow directory symlinks
            if path.is_file() and path.suffix.lower() in SUPPORTED and not path.name.startswith("."):
                found.setdefault(str(path.resolve()), path)
    return sorted(found.values(), key=lambda p: p.name)
