"""``rag bench``: indexing speed, query latency, memory, scaling, and Haystack 2 side by side.

Everything runs on this machine, offline, on a fresh temporary index (the user's index is
never touched). Cold numbers come from child processes (``os.wait4`` gives their peak
RSS); warm latency is measured in this process; scaling is in ``rag_bench.scaling``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rag_bench.common import QUESTIONS, cpu, load_questions
from rag_bench.haystack import bench_haystack
from rag_bench.latency import bench_cold, bench_queries, bench_warm_ingest
from rag_bench.milvus import bench_milvus
from rag_bench.scaling import bench_scaling

from rag.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchSettings:
    questions: Path | None = None  # default: bench/questions.jsonl
    quick: bool = False
    factors: tuple[int, ...] = (10, 100, 1000)
    work: Path | None = None  # temporary folder (default: a new one under the system temp dir)

    @property
    def n_questions(self) -> int:
        return 6 if self.quick else 10_000

    @property
    def scale_factors(self) -> tuple[int, ...]:
        return (2,) if self.quick else self.factors

    @property
    def milvus_factors(self) -> tuple[int, ...]:
        return (2,) if self.quick else (100,)


def run(cfg: Config, settings: BenchSettings) -> dict:
    """Every measurement; returns the JSON report."""
    items = load_questions(settings.questions or QUESTIONS, settings.n_questions)
    work = Path(settings.work or tempfile.mkdtemp(prefix="rag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    index_dir = work / "index"
    cfg = dataclasses.replace(cfg, index_dir=index_dir)
    try:
        log.info("1/6 cold ingest, unchanged re-ingest and cold start (child processes)")
        cold = bench_cold(cfg, index_dir, items[0]["question"])
        log.info("2/6 warm queries: %d questions", len(items))
        queries = bench_queries(cfg, items)
        log.info("3/6 warm ingest of real articles")
        warm = bench_warm_ingest(cfg, work, settings.quick)
        from rag.index.store import load_index

        index = load_index(index_dir)
        log.info("4/6 Haystack 2 pipeline on the same chunks and questions")
        haystack = bench_haystack(cfg, index, items, work)
        log.info("5/6 scaling ×%s", settings.scale_factors)
        scaling = bench_scaling(cfg, index, items, settings.scale_factors, work, settings.quick)
        log.info("6/6 the Milvus store (Milvus Lite): seed corpus and ×%s", settings.milvus_factors)
        milvus = bench_milvus(cfg, index, items, settings.milvus_factors, work, settings.quick)
    finally:
        if settings.work is None:
            shutil.rmtree(work, ignore_errors=True)
    ours = queries["total"]["p50"]
    theirs = haystack["total"]["p50"] if haystack.get("available") else None
    return dict(
        machine=dict(cpus=os.cpu_count(), cpu=cpu(), python=sys.version.split()[0], quick=settings.quick,
                     reader_runtime=cfg.reader_runtime),
        questions=len(items), reader=cfg.reader,
        ask_p50_ms=ours, ask_p95_ms=queries["total"]["p95"], ask_max_ms=queries["total"]["max"],
        embedding_p50_ms=queries["embedding"]["p50"], retrieval_p50_ms=queries["retrieval"]["p50"],
        reading_p50_ms=queries["reading"]["p50"], hit=queries["hit"],
        cold_start_s=cold["cold_start_s"], model_load_s=queries["model_load_s"],
        ingest_chunks_per_s=warm["ingest_chunks_per_s"], ingest_docs_per_s=warm["ingest_docs_per_s"],
        peak_rss_mb=max(cold["ingest_peak_rss_mb"], queries["serve_peak_rss_mb"]),
        ingest_peak_rss_mb=cold["ingest_peak_rss_mb"], serve_peak_rss_mb=queries["serve_peak_rss_mb"],
        cold=cold, queries=queries, warm_ingest=warm,
        haystack=haystack, haystack_ask_p50_ms=theirs,
        speedup_vs_haystack=round(theirs / ours, 2) if theirs and ours else None,
        scaling=scaling, milvus=milvus,
        milvus_ask_p50_ms=milvus["seed"]["p50_ms"] if milvus.get("available") else None,
    )
