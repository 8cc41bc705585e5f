"""The same work in a Haystack 2 pipeline, for comparison (needs the ``[bench]`` extra)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from rag_bench.common import percentiles

from rag.config import Config


def export_reader_for_transformers(cfg: Config, out: Path) -> Path:
    """Our reader as a plain ``transformers`` QA model folder (for Haystack's ExtractiveReader)."""
    from transformers import AutoTokenizer

    from rag.models.loading import ensure_embedder, load_reader_model

    model, _ = load_reader_model(cfg)
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(ensure_embedder(cfg)), local_files_only=True).save_pretrained(str(out))
    return out


def bench_haystack(cfg: Config, index, items: list[dict], work: Path) -> dict:
    """The same work in a Haystack 2 pipeline: same chunks, same e5 embedder, its in-memory
    store and retriever (top 5), its ExtractiveReader on our reader weights (same windows)."""
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # it would call home otherwise
    try:
        from haystack import Document as HDocument
        from haystack import Pipeline
        from haystack.components.embedders import (
            SentenceTransformersDocumentEmbedder,
            SentenceTransformersTextEmbedder,
        )
        from haystack.components.readers import ExtractiveReader
        from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
    except ImportError as exc:
        return dict(available=False, reason=f"haystack-ai (2.x) is not installed ({exc}); "
                                            "install it with: pip install -e '.[bench]'")
    from rag.evaluation import best_f1
    from rag.models.loading import ensure_embedder

    model_dir = str(ensure_embedder(cfg))
    reader_dir = export_reader_for_transformers(cfg, work / "haystack-reader")
    common = dict(model=model_dir, normalize_embeddings=True, local_files_only=True, progress_bar=False)
    t0 = time.perf_counter()
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")
    doc_embedder = SentenceTransformersDocumentEmbedder(prefix="passage: ", **common)
    doc_embedder.warm_up()
    docs = [HDocument(content=c.text, meta=dict(doc_id=c.doc_id)) for c in index.chunks]
    store.write_documents(doc_embedder.run(documents=docs)["documents"])
    index_s = time.perf_counter() - t0
    pipe = Pipeline()
    pipe.add_component("embedder", SentenceTransformersTextEmbedder(prefix="query: ", **common))
    pipe.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=cfg.top_k))
    pipe.add_component("reader", ExtractiveReader(model=str(reader_dir), top_k=cfg.answers,
                                                  max_seq_length=256, stride=96, no_answer=True))
    pipe.connect("embedder.embedding", "retriever.query_embedding")
    pipe.connect("retriever.documents", "reader.documents")
    t0 = time.perf_counter()
    pipe.warm_up()
    load_s = time.perf_counter() - t0

    def ask(q):
        return pipe.run({"embedder": {"text": q}, "reader": {"query": q}})

    ask(items[0]["question"])
    times, hits = [], []
    for item in items:
        t0 = time.perf_counter()
        out = ask(item["question"])
        times.append(1000 * (time.perf_counter() - t0))
        if item.get("answers"):
            spans = [a.data for a in out["reader"]["answers"] if a.data]
            hits.append(float(bool(spans) and best_f1(spans[0], item["answers"]) >= 0.5))
    import haystack

    return dict(available=True, version=haystack.__version__, index_s=round(index_s, 2),
                load_s=round(load_s, 2), total=percentiles(times),
                hit=round(float(np.mean(hits)), 3) if hits else None)
