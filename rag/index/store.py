"""The on-disk index: documents, chunks, vectors (faiss or Milvus), BM25 (bm25s) and a manifest.

Layout of an index directory::

    index/CURRENT          name of the live generation (replaced atomically)
    index/gen-<id>/        manifest.json, documents.jsonl, offsets.npy, chunks.jsonl, bm25/, pinyin/,
                           tokens-<field>.npz (each chunk's lexical tokens, reused by the next
                           generation for the chunks it keeps), and the vectors: <field>.npy +
                           <field>.faiss per dense field (faiss), or milvus.db/ (Milvus Lite) or
                           nothing (a Milvus server; rag.index.milvus)
    index/.lock            held by a writer

A writer builds a complete new generation, then swaps CURRENT with ``os.replace``:
a crash at any moment leaves the previous generation live. Loading validates the
manifest (format version, model checksum, file sizes, counts) and says what to do
when something is off. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.errors import ConfigError, IndexLocked, IndexUnusable, IndexWriteError
from rag.index.dense import STORES, DenseStore, FaissStore, write_faiss
from rag.index.milvus import drop_generation, is_server
from rag.ingest.chunks import Chunk
from rag.ingest.cleaning import MappedText
from rag.ingest.documents import Document
from rag.ingest.extracted import Cell
from rag.ingest.titles import headline

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
FILES = ("documents.jsonl", "offsets.npy", "chunks.jsonl")
LEXICAL = ("bm25", "pinyin")  # BM25 over words, BM25 over names (pinyin n-grams, Latin full names)
LEXICAL_TOKENS = "words+names-v3"  # what ``lexical_tokens`` makes; a change refreshes the lexical fields


@dataclass(eq=False)  # identity semantics: one loaded generation is one object
class Index:
    """A loaded, validated index generation."""

    path: Path
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    dense: DenseStore  # the chunk vectors of each dense field, and their search (faiss or Milvus)
    lexical: dict[str, object]  # "bm25" / "pinyin" → bm25s.BM25

    @property
    def generation(self) -> str:
        return self.path.name


def _bm25s():
    import bm25s

    # bm25s sets its own logger to DEBUG on import; keep it at the application's level
    logging.getLogger("bm25s").setLevel(max(logging.getLogger().getEffectiveLevel(), logging.WARNING))
    return bm25s


# ---- writing ----------------------------------------------------------------------

@contextlib.contextmanager
def write_lock(index_dir: Path):
    """Exclusive writer lock; a second writer is refused with a clear message."""
    import fcntl

    index_dir.mkdir(parents=True, exist_ok=True)
    fh = open(index_dir / ".lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise IndexLocked(f"another ingest is writing {index_dir}; wait for it to finish and retry") from exc
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


TOKENS = "tokens-{}.npz"


def _save_tokens(path: Path, tokens: list[list[str]]) -> None:
    """Each chunk's tokens as ids into a vocabulary (npz: ids, offsets, the vocabulary as JSON)."""
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(t, len(vocab)) for ts in tokens for t in ts), dtype=np.int32)
    offsets = np.cumsum([0] + [len(ts) for ts in tokens], dtype=np.int64)
    np.savez_compressed(path, ids=ids, offsets=offsets, vocab=np.array(json.dumps(list(vocab), ensure_ascii=False)))


def stored_tokens(index: "Index", field: str) -> list[list[str]] | None:
    """Each chunk's ``field`` tokens as ``index`` stored them, or None when it has none of this
    ``LEXICAL_TOKENS`` version (tokenising again is then the only way)."""
    path = index.path / TOKENS.format(field)
    if index.manifest.get("lexical") != LEXICAL_TOKENS or not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            ids, offsets, vocab = stored["ids"], stored["offsets"], json.loads(str(stored["vocab"]))
        words = np.array(vocab, dtype=object)[ids].tolist()
    except (OSError, ValueError, KeyError, IndexError) as exc:
        log.warning("stored tokens %s unreadable (%s): tokenising the chunks again", path, exc)
        return None
    if len(offsets) != len(index.chunks) + 1:
        return None
    return [words[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def lexical_tokens(field: str, text: str) -> list[str]:
    """A chunk's tokens in a lexical field: words, or names (pinyin of Chinese character
    windows and full names in Latin letters, so "Ma Weiying" meets 馬維英 and itself)."""
    from rag.text.language import latin_name_tokens, pinyin_tokens, tokenize

    if field == "bm25":
        return tokenize(text) or ["\u2205"]
    return (pinyin_tokens(text) + latin_name_tokens(text)) or ["\u2205"]


def write_index(index_dir: Path, documents: list[Document], chunks: list[Chunk],
                vectors: dict[str, np.ndarray], settings: dict, exact_max: int,
                store: str = "faiss", milvus_uri: str = "",
                known_tokens: dict[str, list[list[str] | None]] | None = None) -> Path:
    """Write a new generation and make it live atomically; its vectors go to ``store``
    (``rag.index.dense``). ``known_tokens``: per lexical field, each chunk's tokens when an
    earlier generation stored them (None: tokenise it). Caller holds ``write_lock``."""
    bm25s = _bm25s()
    if store not in STORES:
        raise ConfigError(f"unknown store '{store}'; choose one of {', '.join(STORES)}")
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / (".tmp-" + gen.name)
    tmp.mkdir()
    try:
        offsets, rows, pos = [], [], 0
        for d in documents:
            offsets.append(np.asarray(d.cleaned.offsets, dtype=np.int64))
            rows.append(dict(doc_id=d.doc_id, path=d.path, lang=d.lang, sha256=d.sha256, title=d.title, date=d.date,
                             pages=list(d.pages), cells=[asdict(c) for c in d.cells],
                             original=d.original, cleaned=d.cleaned.text,
                             offsets=[pos, pos + len(d.cleaned.offsets)]))
            pos += len(d.cleaned.offsets)
        _write_jsonl(tmp / "documents.jsonl", rows)
        np.save(tmp / "offsets.npy", np.concatenate(offsets) if offsets else np.zeros(0, np.int64))
        _write_jsonl(tmp / "chunks.jsonl", (asdict(c) for c in chunks))
        files = list(FILES)
        if store == "faiss":
            dense_entry, dense_files = write_faiss(tmp, vectors, exact_max)
            files += dense_files
        else:
            from rag.index.milvus import write_milvus

            langs = {d.doc_id: d.lang for d in documents}
            dense_entry = write_milvus(tmp, gen.name, vectors, [c.doc_id for c in chunks],
                                       [langs[c.doc_id] for c in chunks], exact_max, milvus_uri)
        for field in LEXICAL:
            known = (known_tokens or {}).get(field) or [None] * len(chunks)
            tokens = [k if k is not None else lexical_tokens(field, c.text) for k, c in zip(known, chunks)]
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
            bm25.save(str(tmp / field), show_progress=False)
            _save_tokens(tmp / TOKENS.format(field), tokens)
            files.append(TOKENS.format(field))
        manifest = dict(
            format_version=FORMAT_VERSION, created=time.strftime("%Y-%m-%dT%H:%M:%S"),
            dense={f: dict(index=v["index"], dim=v["dim"]) for f, v in dense_entry["fields"].items()},
            store=dense_entry, n_documents=len(documents), n_chunks=len(chunks),
            documents={d.doc_id: dict(sha256=d.sha256, path=d.path, lang=d.lang,
                                      chunks=sum(c.doc_id == d.doc_id for c in chunks)) for d in documents},
            files={name: (tmp / name).stat().st_size for name in files},
            **settings,
        )
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        _fsync_dir(tmp)
        tmp.rename(gen)
        pointer = index_dir / (".CURRENT-" + uuid.uuid4().hex[:6])
        pointer.write_text(gen.name + "\n")
        with open(pointer) as fh:
            os.fsync(fh.fileno())
        os.replace(pointer, index_dir / CURRENT)
        _fsync_dir(index_dir)
    except BaseException as exc:  # nothing of the unfinished generation stays, on disk or on a server
        shutil.rmtree(tmp, ignore_errors=True)
        drop_generation(milvus_uri, gen.name, tuple(vectors))
        if not isinstance(exc, OSError):
            raise
        free = shutil.disk_usage(index_dir).free / 1e6
        raise IndexWriteError(
            f"could not write the new index in {index_dir} ({exc}; {free:.1f} MB free on that disk). "
            "Free some space or choose another --index, then run the ingest again; "
            "the previous index is still live and unchanged.") from exc
    _remove_stale(index_dir, keep=gen.name)
    return gen


def _fsync_dir(path: Path) -> None:
    for f in path.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale(index_dir: Path, keep: str) -> None:
    """Old generations and leftovers of interrupted writers (a reader may still map
    the previous generation, so it is kept one round)."""
    gens = sorted((p for p in index_dir.glob("gen-*") if p.name != keep), key=lambda p: p.stat().st_mtime)
    for p in gens[:-1] + list(index_dir.glob(".tmp-gen-*")) + list(index_dir.glob(".CURRENT-*")):
        manifest = _read_manifest(p) if p.is_dir() else None
        entry = (manifest or {}).get("store") or {}
        if entry.get("kind") == "milvus":
            drop_generation(entry["uri"], p.name, tuple(entry["fields"]))
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def _read_manifest(gen: Path) -> dict | None:
    try:
        return json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---- reading ------------------------------------------------------------------------

def current_generation(index_dir: Path) -> Path | None:
    pointer = Path(index_dir) / CURRENT
    if not pointer.is_file():
        return None
    return Path(index_dir) / pointer.read_text().strip()


def current_manifest(index_dir: Path) -> dict | None:
    """The live generation's manifest, or None when there is none or it cannot be read
    (``load_index`` then says what is wrong)."""
    gen = current_generation(index_dir)
    return _read_manifest(gen) if gen else None


def store_settings(manifest: dict | None, store: str = "", milvus_uri: str = "") -> tuple[str, str]:
    """(store, Milvus server URI) for a new generation: the ones asked for, else the live index's
    (``manifest``), else faiss. The URI is empty for faiss and for Milvus Lite."""
    entry = (manifest or {}).get("store") or {}
    kind = store or entry.get("kind", "faiss")
    server = entry.get("uri", "") if entry.get("kind") == "milvus" and is_server(entry.get("uri", "")) else ""
    return kind, (milvus_uri or server) if kind == "milvus" else ""


def load_index(index_dir: Path, embedder_sha256: str | None = None, milvus_uri: str = "") -> Index:
    """Load and validate the live generation; raise ``IndexUnusable`` saying what to do.
    ``milvus_uri`` overrides the Milvus server an index's manifest names (another host's view)."""
    bm25s = _bm25s()
    index_dir = Path(index_dir)
    fix = f"rebuild it with: rag ingest <your documents> --index {index_dir} --rebuild"
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexUnusable(f"no index at {index_dir} (no {CURRENT} file); build one with: rag ingest PATH --index {index_dir}")
    try:
        manifest = json.loads((gen / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexUnusable(f"index {gen} has a missing or unreadable manifest ({exc}); {fix}") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexUnusable(f"index {gen} has format version {manifest.get('format_version')}, "
                          f"this rag reads version {FORMAT_VERSION}; {fix}")
    if embedder_sha256 and manifest.get("embedder_sha256") != embedder_sha256:
        raise IndexUnusable(f"index {gen} was built with other embedding weights "
                          f"({str(manifest.get('embedder_sha256'))[:12]}…); {fix}")
    for name, size in manifest.get("files", {}).items():
        path = gen / name
        if not path.is_file() or path.stat().st_size != size:
            raise IndexUnusable(f"index file {path} is missing or truncated; {fix}")
    try:
        offsets = np.load(gen / "offsets.npy", mmap_mode="r")
        documents = {}
        for line in open(gen / "documents.jsonl", encoding="utf-8"):
            row = json.loads(line)
            lo, hi = row["offsets"]
            cleaned = MappedText(row["cleaned"], offsets[lo:hi])
            documents[row["doc_id"]] = Document(
                row["doc_id"], row["path"], row["original"], cleaned, row["lang"], row["sha256"],
                row.get("title") or headline(cleaned.text), row.get("date", ""), tuple(row.get("pages", ())),
                tuple(Cell(**c) for c in row.get("cells", ())))
        chunks = [Chunk(**json.loads(line)) for line in open(gen / "chunks.jsonl", encoding="utf-8")]
        fields = list(manifest["dense"])
        entry = manifest.get("store") or dict(kind="faiss")
        if entry["kind"] == "milvus":
            from rag.index.milvus import MilvusStore

            dense = MilvusStore(gen, entry, milvus_uri)
        else:
            dense = FaissStore(gen, fields)
        lexical = {f: bm25s.BM25.load(str(gen / f), mmap=True, show_progress=False) for f in LEXICAL}
    except IndexUnusable:
        raise
    except Exception as exc:  # any parse failure means the same thing to the user
        raise IndexUnusable(f"index {gen} is corrupt ({type(exc).__name__}: {exc}); {fix}") from exc
    counts = {len(chunks), manifest.get("n_chunks")}
    counts |= {dense.count(f) for f in fields}
    if len(counts) != 1 or len(documents) != manifest.get("n_documents"):
        raise IndexUnusable(f"index {gen} is inconsistent (chunk/vector counts {sorted(map(str, counts))}); {fix}")
    return Index(gen, manifest, documents, chunks, dense, lexical)
