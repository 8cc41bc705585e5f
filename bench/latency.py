"""Cold start and ingest (child processes), warm question latency and warm ingest (this process)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from rag_bench.common import current, peak_rss_mb, percentiles, run_child

from rag.config import Config


def bench_cold(cfg: Config, index_dir: Path, question: str) -> dict:
    env = dict(os.environ, RAG_HOME=str(cfg.home))
    corpus = str(cfg.corpus_dir)
    cold_s, ingest_rss, _ = run_child(["ingest", corpus, "--index", str(index_dir)], env)
    unchanged_s, _, _ = run_child(["ingest", corpus, "--index", str(index_dir)], env)
    start_s, start_rss, _ = run_child(["ask", question, "--json", "--index", str(index_dir)], env)
    manifest = json.loads((current(index_dir) / "manifest.json").read_text())
    return dict(documents=manifest["n_documents"], chunks=manifest["n_chunks"],
                cold_ingest_s=cold_s, reingest_unchanged_s=unchanged_s,
                ingest_peak_rss_mb=ingest_rss, cold_start_s=start_s,
                cold_ingest_docs_per_s=round(manifest["n_documents"] / cold_s, 2),
                cold_ingest_chunks_per_s=round(manifest["n_chunks"] / cold_s, 2))


def ask_many(qa, items: list[dict]) -> dict:
    from rag.evaluation import score_item

    totals, parts, hits = [], {"embedding": [], "retrieval": [], "reading": []}, []
    for item in items:
        t0 = time.perf_counter()
        result = qa.run(item["question"])
        totals.append(1000 * (time.perf_counter() - t0))
        for k in parts:
            parts[k].append(result.timings_ms.get(k, 0.0))
        if item.get("answers"):
            hits.append(score_item(item, result.to_json())["hit"])
    return dict(total=percentiles(totals), **{k: percentiles(v) for k, v in parts.items()},
                hit=round(float(np.mean(hits)), 3) if hits else None)


def bench_queries(cfg: Config, items: list[dict]) -> dict:
    from rag.pipeline import QA

    t0 = time.perf_counter()
    qa = QA(cfg).warm_up()
    load_s = time.perf_counter() - t0
    qa.run(items[0]["question"])  # first call pays one-off allocations
    stats = ask_many(qa, items)
    return dict(model_load_s=round(load_s, 2), serve_peak_rss_mb=peak_rss_mb(), **stats)


def bench_warm_ingest(cfg: Config) -> dict:
    """Chunks/s of a full rebuild with the models already loaded (embedding dominates)."""
    from rag.ingest.incremental import ingest

    t0 = time.perf_counter()
    report = ingest([cfg.corpus_dir], cfg, rebuild=True, progress=False)
    dt = time.perf_counter() - t0
    return dict(warm_ingest_s=round(dt, 2), ingest_chunks_per_s=round(report.chunks / dt, 1),
                ingest_docs_per_s=round((len(report.added) + len(report.updated)) / dt, 2))
