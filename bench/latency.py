"""Cold start and ingest (child processes), warm question latency and warm ingest of real
articles (this process)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
from rag_bench.common import current, peak_rss_mb, percentiles, run_child

from rag.config import PROJECT_ROOT, Config


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


# real articles for the ingest measurement: DRCD's Wikipedia paragraphs (CC BY-SA 3.0, see
# data/qa-extra/MANIFEST.md), one file an article; ≈ 3 000 chunks from both files
INGEST_SOURCES = ("DRCD_dev.json", "DRCD_test.json")


def write_articles(target: Path, limit: int) -> int:
    """Up to ``limit`` DRCD articles as text files under ``target``; returns how many."""
    target.mkdir(parents=True, exist_ok=True)
    n = 0
    for name in INGEST_SOURCES:
        for article in json.loads((PROJECT_ROOT / "data" / "qa-extra" / name).read_text(encoding="utf-8"))["data"]:
            if n >= limit:
                return n
            body = "\n\n".join(p["context"] for p in article["paragraphs"])
            (target / f"{n:04d}.txt").write_text(f"{article.get('title', '')}\n\n{body}\n", encoding="utf-8")
            n += 1
    return n


def bench_warm_ingest(cfg: Config, work: Path, quick: bool) -> dict:
    """Chunks/s of ingesting real articles into a new index with the models already loaded
    (embedding dominates): DRCD's Wikipedia articles, ≈ 3 000 chunks (60 articles with --quick)."""
    from rag.ingest.incremental import ingest

    corpus = work / "articles"
    articles = write_articles(corpus, 60 if quick else 10_000)
    t0 = time.perf_counter()
    report = ingest([corpus], dataclasses.replace(cfg, index_dir=work / "articles-index"), progress=True)
    dt = time.perf_counter() - t0
    return dict(corpus="DRCD dev+test articles (data/qa-extra)", articles=articles, chunks=report.chunks,
                warm_ingest_s=round(dt, 2), ingest_chunks_per_s=round(report.chunks / dt, 1),
                ingest_docs_per_s=round(len(report.added) / dt, 2))
