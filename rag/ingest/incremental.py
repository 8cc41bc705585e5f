"""Ingest: files → documents → chunks → vectors → a new index generation, incrementally.

Unchanged documents (same bytes, same model, same chunker) keep their chunks and
vectors; changed and new ones are processed; documents that were ingested from under
one of the given paths and are no longer there are dropped. Documents from elsewhere
are kept. A bad file is reported and never indexed; if an earlier version of it is in
the index, that version stays.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rag.config import Config
from rag.errors import IndexUnusable
from rag.index.embeddings import FIELDS, Embedder
from rag.index.store import (
    LEXICAL,
    LEXICAL_TOKENS,
    current_manifest,
    load_index,
    store_settings,
    stored_tokens,
    write_index,
    write_lock,
)
from rag.ingest.chunks import split_document
from rag.ingest.documents import Document, DocumentError, find_files, load_document
from rag.models.loading import EMBEDDER_NAME, embedder_checksum

log = logging.getLogger(__name__)

# how files become text (rag.ingest.html, pdf, word, ebook, titles): an index made by another
# version reads every file again
EXTRACTION = "2"


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    chunks: int = 0
    generation: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def index_settings(cfg: Config) -> dict:
    return dict(embedder=EMBEDDER_NAME, embedder_sha256=embedder_checksum(), lexical=LEXICAL_TOKENS,
                chunker=dict(size=cfg.chunk_size, overlap=cfg.chunk_overlap, splitter="recursive-v1",
                             extraction=EXTRACTION))


def _previous(cfg: Config, settings: dict, rebuild: bool):
    """The live index if it can be reused for unchanged documents, else None."""
    if rebuild:
        return None
    try:
        old = load_index(cfg.index_dir, milvus_uri=cfg.milvus_uri)
    except IndexUnusable as exc:
        if (Path(cfg.index_dir) / "CURRENT").exists():
            log.warning("existing index not reused: %s", exc)
        return None
    same = all(old.manifest.get(k) == settings[k] for k in ("embedder_sha256", "chunker"))
    return old if same else None


def _under(path: str, roots: list[Path]) -> bool:
    p = Path(path).resolve()
    return any(p == r or r in p.parents for r in roots)


def ingest(paths: list[Path], cfg: Config, rebuild: bool = False, progress: bool = True) -> IngestReport:
    """Bring the index at ``cfg.index_dir`` in line with ``paths``."""
    report = IngestReport()
    roots = [Path(p).resolve() for p in paths]
    files = find_files([Path(p) for p in paths])
    settings = index_settings(cfg)
    with write_lock(Path(cfg.index_dir)):
        old = _previous(cfg, settings, rebuild)
        old_docs = dict(old.documents) if old else {}
        docs: dict[str, Document] = {}
        for path in tqdm(files, desc="Reading", unit="file", disable=not progress):
            try:
                doc = load_document(path.resolve(), int(cfg.max_file_mb * 1e6))
            except DocumentError as exc:
                report.errors.append(str(exc))
                log.debug("not indexed: %s", exc)  # reported once, by the caller, from report.errors
                continue
            if doc.doc_id in docs:
                report.errors.append(f"{path}: another file named {doc.doc_id} is already in this ingest; rename one")
                continue
            docs[doc.doc_id] = doc
        for doc_id, doc in old_docs.items():  # kept: from elsewhere, or now unreadable
            if doc_id not in docs and (not _under(doc.path, roots) or Path(doc.path).exists()):
                docs[doc_id] = doc
        kept: dict[str, list[int]] = {}  # doc id → its chunk rows in the old index
        if old:
            for row, chunk in enumerate(old.chunks):
                kept.setdefault(chunk.doc_id, []).append(row)
        todo = []
        for doc_id, doc in docs.items():
            prev = old_docs.get(doc_id)
            if prev is not None and prev.sha256 == doc.sha256 and doc_id in kept:
                report.unchanged.append(doc_id)
            else:
                (report.updated if prev is not None else report.added).append(doc_id)
                todo.append(doc)
        report.removed = sorted(set(old_docs) - set(docs))
        pending = {d.doc_id for d in todo}
        live = old.manifest if old else current_manifest(cfg.index_dir)  # a rebuild stays in the live store
        store, uri = store_settings(live, cfg.store, cfg.milvus_uri)
        moving = old and (store, uri) != store_settings(old.manifest)
        if old and not report.changed and not moving and old.manifest.get("lexical") == settings["lexical"]:
            report.generation, report.chunks = old.generation, len(old.chunks)
            return report
        new_chunks = [c for d in todo for c in split_document(d, cfg.chunk_size, cfg.chunk_overlap)]
        new_vectors = Embedder(cfg).passages([c.text for c in new_chunks], progress=progress, indexing=True)
        fresh: dict[str, list[int]] = {}
        for row, chunk in enumerate(new_chunks):
            fresh.setdefault(chunk.doc_id, []).append(row)
        chunks, picks = [], []  # picks: (new?, row) of each chunk of the new generation, in order
        for doc_id in sorted(docs):
            new = doc_id in pending
            rows = fresh.get(doc_id, []) if new else kept[doc_id]
            chunks += [(new_chunks if new else old.chunks)[r] for r in rows]
            picks += [(new, r) for r in rows]
        matrix = _vectors(picks, new_vectors, old)
        ordered = [docs[d] for d in sorted(docs)]
        gen = write_index(Path(cfg.index_dir), ordered, chunks, matrix, settings, cfg.exact_max_vectors, store, uri,
                          _kept_tokens(old, [None if new else r for new, r in picks]))
        report.generation, report.chunks = gen.name, len(chunks)
    return report


def _vectors(picks: list[tuple[bool, int]], new_vectors: dict[str, np.ndarray], old) -> dict[str, np.ndarray]:
    """Each field's matrix in ``picks`` order: new rows from ``new_vectors``, kept rows from the live
    index ``old``, fetched in one call a field whichever store holds them (one Milvus round trip, not
    one a document)."""
    is_new = np.array([new for new, _ in picks], dtype=bool)
    kept = [r for new, r in picks if not new]
    fresh = [r for new, r in picks if new]
    matrix = {}
    for f in FIELDS:
        parts = [(~is_new, old.dense.vectors(f, kept))] if kept else []
        parts += [(is_new, np.asarray(new_vectors[f], dtype=np.float32)[fresh])] if fresh else []
        out = np.zeros((len(picks), parts[0][1].shape[1] if parts else 1), dtype=np.float32)
        for where, rows in parts:
            out[where] = rows
        matrix[f] = out
    return matrix


def _kept_tokens(old, rows: list[int | None]) -> dict[str, list[list[str] | None]]:
    """Per lexical field, the tokens ``old`` stored for each kept chunk (its row; None: a new
    chunk), so adding one file does not tokenise the whole collection again."""
    out = {}
    for name in LEXICAL:
        stored = stored_tokens(old, name) if old else None
        out[name] = [stored[r] if stored is not None and r is not None else None for r in rows]
    return out


def remove(doc_ids: list[str], cfg: Config) -> IngestReport:
    """Take documents out of the index at ``cfg.index_dir`` (a new generation, written atomically;
    the other documents keep their chunks and vectors). The files themselves are not touched."""
    return _rewrite(cfg, gone=set(doc_ids))


def migrate(cfg: Config, store: str, milvus_uri: str = "") -> IngestReport:
    """Move the index's vectors to another store (``faiss`` or ``milvus``, a Milvus server at
    ``milvus_uri`` or Milvus Lite when empty): a new generation with the same documents, chunks and
    vectors (nothing is embedded again), switched in atomically."""
    # the live index is read where its manifest says; ``milvus_uri`` is only where it goes
    return _rewrite(dataclasses.replace(cfg, milvus_uri=""), store=store, milvus_uri=milvus_uri)


def _rewrite(cfg: Config, gone: set[str] = frozenset(), store: str = "", milvus_uri: str = "") -> IngestReport:
    """A new generation of the live index without the documents ``gone``, in ``store`` (default:
    where the index is)."""
    report = IngestReport()
    with write_lock(Path(cfg.index_dir)):
        old = load_index(cfg.index_dir, milvus_uri=cfg.milvus_uri)
        report.errors += [f"{d}: not in the index" for d in sorted(gone - set(old.documents))]
        report.removed = sorted(gone & set(old.documents))
        store, uri = store_settings(old.manifest, store, milvus_uri)
        if not report.removed and (store, uri) == store_settings(old.manifest):
            report.generation, report.chunks = old.generation, len(old.chunks)
            return report
        rows = [r for r, c in enumerate(old.chunks) if c.doc_id not in gone]
        matrix = {f: old.dense.vectors(f, rows) for f in FIELDS}
        docs = [d for doc_id, d in sorted(old.documents.items()) if doc_id not in gone]
        report.unchanged = [d.doc_id for d in docs]
        settings = dict(index_settings(cfg), chunker=old.manifest.get("chunker"))  # the chunks are the old ones
        gen = write_index(Path(cfg.index_dir), docs, [old.chunks[r] for r in rows], matrix, settings,
                          cfg.exact_max_vectors, store, uri, _kept_tokens(old, rows))
        report.generation, report.chunks = gen.name, len(rows)
    return report
