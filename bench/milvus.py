"""The Milvus store beside faiss: the seed corpus and a scaled corpus with their vectors in Milvus Lite."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from rag_bench.latency import ask_many
from rag_bench.scaling import bench_scaling

from rag.config import Config

log = logging.getLogger(__name__)


def bench_milvus(cfg: Config, index, items: list[dict], factors: tuple[int, ...], work: Path, quick: bool) -> dict:
    """Seed-corpus latency on Milvus Lite (the seed index's own vectors, moved), then scaling."""
    try:
        import pymilvus  # noqa: F401
    except ImportError as exc:
        return dict(available=False, reason=f"pymilvus is not installed ({exc}); pip install -e '.[milvus]'")
    from rag.index.store import write_index
    from rag.ingest.incremental import index_settings
    from rag.pipeline import QA

    target = work / "milvus-seed"
    rows = list(range(len(index.chunks)))
    vectors = {f: index.dense.vectors(f, rows) for f in index.manifest["dense"]}
    t0 = time.perf_counter()
    write_index(target, list(index.documents.values()), index.chunks, vectors, index_settings(cfg),
                cfg.exact_max_vectors, "milvus")
    build_s = time.perf_counter() - t0
    qa = QA(dataclasses.replace(cfg, index_dir=target)).warm_up()
    qa.run(items[0]["question"])
    stats = ask_many(qa, items)
    qa.index.dense.close()
    seed = dict(build_s=round(build_s, 2), p50_ms=stats["total"]["p50"], p95_ms=stats["total"]["p95"],
                retrieval_p50_ms=stats["retrieval"]["p50"], hit=stats["hit"])
    log.info("Milvus Lite, scaling ×%s", factors)
    return dict(available=True, seed=seed, scaling=bench_scaling(cfg, index, items, factors, work, quick, "milvus"))
