"""Scaling: the seed corpus ×10 … ×1000 as synthetic chunks of real sentences, with real vectors.

Scaled corpora are built from real sentences of the seed documents, shuffled into new
chunks; their vectors are the normalised mean of those sentences' real embeddings, so the
1000× index is built in minutes rather than the hours embedding it would take.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
import time
from pathlib import Path

import numpy as np
from rag_bench.common import current, dir_mb, rss_now_mb
from rag_bench.latency import ask_many

from rag.config import Config

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[。！？!?；])|(?<=[.;])\s+|\n+")


def seed_sentences(index) -> list[str]:
    """Distinct sentences of the indexed documents' cleaned text."""
    seen, out = set(), []
    for doc in index.documents.values():
        for s in _SENTENCE_END.split(doc.cleaned.text):
            s = s.strip()
            if len(s) >= 8 and s not in seen:
                seen.add(s)
                out.append(s)
    return out


def synthetic_corpus(sentences: list[str], vectors: dict[str, np.ndarray], n_chunks: int,
                     chunk_chars: int, seed: int):
    """(documents, chunks, vectors): ``n_chunks`` chunks of shuffled seed sentences, 13 a document."""
    from rag.ingest.chunks import Chunk
    from rag.ingest.cleaning import MappedText
    from rag.ingest.documents import Document

    rng = np.random.default_rng(seed)
    docs, chunks, members = [], [], []
    per_doc = 13
    for d in range(0, n_chunks, per_doc):
        doc_id, parts, pos = f"synthetic-{d // per_doc:06d}.txt", [], 0
        for _ in range(min(per_doc, n_chunks - d)):
            picked, length = [], 0
            while length < chunk_chars * 0.8:
                i = int(rng.integers(len(sentences)))
                picked.append(i)
                length += len(sentences[i])
            text = "".join(sentences[i] for i in picked)
            chunks.append(Chunk(doc_id, text, pos, pos + len(text), pos, pos + len(text)))
            members.append(picked)
            parts.append(text)
            pos += len(text)
        body = "".join(parts)
        docs.append(Document(doc_id, f"/synthetic/{doc_id}", body,
                             MappedText(body, np.arange(len(body) + 1)), "zh",
                             hashlib.sha256(body.encode()).hexdigest()))
    out = {}
    for field, sent in vectors.items():
        rows = np.zeros((len(chunks), sent.shape[1]), dtype=np.float32)
        for i, picked in enumerate(members):
            rows[i] = sent[picked].mean(axis=0)
        out[field] = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return docs, chunks, out


def ann_recall_at_10(index, qvecs: dict[str, np.ndarray]) -> float:
    """Mean share of exact top-10 neighbours the index returns (1.0 for exact indexes)."""
    recalls = []
    for field, spec in index.manifest["dense"].items():
        if spec["index"] in ("IndexFlatIP", "FLAT"):
            recalls.append(1.0)
            continue
        everything = index.dense.vectors(field, list(range(index.dense.count(field))))
        truth = np.argsort(-(qvecs[field] @ everything.T), axis=1)[:, :10]
        got = index.dense.search(field, qvecs[field], 10)
        recalls += [len(set(t) & set(g)) / 10 for t, g in zip(truth, got)]
    return round(float(np.mean(recalls)), 4)


def bench_scaling(cfg: Config, index, items: list[dict], factors: tuple[int, ...],
                  work: Path, quick: bool, store: str = "faiss") -> list[dict]:
    """Latency, build time, recall@10 and size of synthetic corpora ``factors`` × the seed's, with
    their vectors in ``store``."""
    from rag.index.embeddings import Embedder
    from rag.index.store import write_index
    from rag.ingest.incremental import index_settings
    from rag.pipeline import QA

    sentences = seed_sentences(index)
    if quick:
        sentences = sentences[:120]
    embedder = Embedder(cfg)
    log.info("scaling: embedding %d seed sentences", len(sentences))
    sent_vecs = embedder.passages(sentences)
    questions = [it["question"] for it in items]
    qvecs = embedder.queries(questions)
    rows = []
    for factor in factors:
        n = factor * len(index.chunks)
        log.info("scaling ×%d: %d chunks", factor, n)
        docs, chunks, vecs = synthetic_corpus(sentences, sent_vecs, n, cfg.chunk_size, seed=factor)
        target = work / f"scale-{store}-{factor}"
        t0 = time.perf_counter()
        write_index(target, docs, chunks, vecs, index_settings(cfg), cfg.exact_max_vectors, store)
        build_s = time.perf_counter() - t0
        del docs, chunks, vecs
        scaled_cfg = dataclasses.replace(cfg, index_dir=target)
        t0 = time.perf_counter()
        qa = QA(scaled_cfg)
        scaled = qa.index  # one process opens a Milvus Lite database once
        load_s = time.perf_counter() - t0
        qa.warm_up()
        stats = ask_many(qa, items)
        rss = rss_now_mb()  # whole process after answering on this index (vectors are memory-mapped)
        rows.append(dict(
            store=store, factor=factor, chunks=len(scaled.chunks),
            dense_index=sorted({scaled.dense.index_type(f) for f in scaled.manifest["dense"]}),
            build_s=round(build_s, 1), load_s=round(load_s, 2), rss_mb=round(rss, 1),
            p50_ms=stats["total"]["p50"], p95_ms=stats["total"]["p95"],
            retrieval_p50_ms=stats["retrieval"]["p50"],
            recall_at_10=ann_recall_at_10(scaled, qvecs), index_mb=dir_mb(current(target)),
        ))
        scaled.dense.close()
        del qa, scaled
        shutil.rmtree(target, ignore_errors=True)
    return rows
