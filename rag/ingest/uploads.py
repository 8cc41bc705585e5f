"""Uploads: copy user files into the index's uploads folder under safe names, then ingest them;
remove documents again (and their uploaded files).

A file that cannot be a document (wrong type, too large, binary, empty, undecodable)
is refused before anything is written, so a bad upload changes nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Config
from rag.ingest.documents import SUPPORTED, SUPPORTED_NAMES, DocumentError, load_document
from rag.ingest.incremental import IngestReport, ingest, remove


@dataclass
class UploadReport:
    stored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ingest: IngestReport | None = None


def upload_dir(cfg: Config) -> Path:
    return Path(cfg.index_dir) / "uploads"


def safe_name(name: str) -> str:
    """A file name with no directories, no control or path characters, never hidden."""
    base = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    base = re.sub(r"[\x00-\x1f\x7f:*?\"<>|]", "", base).strip().strip(".")
    base = re.sub(r"\s+", "_", base)
    return base[:120] or "upload.txt"


def store_and_ingest(files: list[tuple[str, Path]], cfg: Config, progress: bool = False) -> UploadReport:
    """``files`` are (name the user gave, temporary path) pairs."""
    report = UploadReport()
    target = upload_dir(cfg)
    target.mkdir(parents=True, exist_ok=True)
    accepted = []
    for given, tmp in files:
        name = safe_name(given)
        if Path(name).suffix.lower() not in SUPPORTED - {""}:
            report.errors.append(f"{given}: unsupported file type; upload {SUPPORTED_NAMES} files")
            continue
        try:
            load_document(Path(tmp), int(cfg.max_file_mb * 1e6), doc_id=name)  # validate first
        except DocumentError as exc:
            report.errors.append(f"{given}: {exc.reason}")
            continue
        dest = target / name
        if dest.exists() and _digest(dest) != _digest(Path(tmp)):
            dest = target / f"{dest.stem}-{_digest(Path(tmp))[:8]}{dest.suffix}"
        shutil.copyfile(tmp, dest)
        accepted.append(dest)
        report.stored.append(dest.name)
    if accepted:
        report.ingest = ingest(accepted, cfg, progress=progress)
        report.errors += report.ingest.errors
    return report


def remove_documents(doc_ids: list[str], cfg: Config) -> IngestReport:
    """Take documents out of the index; a file that was uploaded here is deleted too (a document
    indexed from elsewhere stays where it is)."""
    from rag.index.store import load_index

    index = load_index(cfg.index_dir, milvus_uri=cfg.milvus_uri)
    paths = {d: Path(doc.path) for d, doc in index.documents.items() if d in set(doc_ids)}
    report = remove(doc_ids, cfg)
    uploads = upload_dir(cfg).resolve()
    for doc_id in report.removed:
        if doc_id in paths and paths[doc_id].resolve().parent == uploads:
            paths[doc_id].unlink(missing_ok=True)
    return report


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
