"""`rag bench --quick`: a real (small) benchmark run whose JSON report has every field."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a whole benchmark run


def test_quick_bench_reports_every_field(tmp_path):
    out = tmp_path / "reports" / "quick.json"
    here = tmp_path / "cwd"
    here.mkdir()
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "-q", "bench", "--quick", "--json", "--out", str(out)],
                          capture_output=True, text=True, cwd=here, env=os.environ.copy(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == report
    assert not list(here.iterdir()), "files are written only where --out says"
    cpu = report["machine"]["cpu"]
    assert cpu["model"] and isinstance(cpu["features"], list) and report["machine"]["reader_runtime"]
    assert 0 < report["ask_p50_ms"] <= report["ask_p95_ms"] <= report["ask_max_ms"]
    for key in ("embedding_p50_ms", "retrieval_p50_ms", "reading_p50_ms"):
        assert 0 <= report[key] <= report["ask_max_ms"]
    assert report["cold_start_s"] > report["model_load_s"] > 0
    assert report["ingest_chunks_per_s"] > 0 and report["ingest_docs_per_s"] > 0
    # warm ingest is measured on real articles, more of them than the seed corpus has
    assert report["warm_ingest"]["articles"] == 60 and report["warm_ingest"]["chunks"] > report["cold"]["chunks"]
    assert report["cold"]["chunks"] > report["cold"]["documents"] > 0
    assert report["peak_rss_mb"] >= report["serve_peak_rss_mb"] > 100
    # Haystack comes with the [bench] extra, which the test install includes
    assert report["haystack"]["available"], report["haystack"]
    assert report["haystack_ask_p50_ms"] > 0
    assert report["speedup_vs_haystack"] == round(report["haystack_ask_p50_ms"] / report["ask_p50_ms"], 2)
    assert report["scaling"], "at least one scaled corpus"
    for row in report["scaling"]:
        assert set(row) >= {"factor", "chunks", "build_s", "p50_ms", "p95_ms", "recall_at_10", "index_mb"}
        assert row["chunks"] == row["factor"] * report["cold"]["chunks"]
        assert 0 < row["p50_ms"] <= row["p95_ms"]
        assert 0.0 <= row["recall_at_10"] <= 1.0 and row["index_mb"] > 0 and row["build_s"] > 0
    # the Milvus store beside faiss ([milvus] extra, in the test install)
    milvus = report["milvus"]
    assert milvus["available"], milvus
    assert 0 < milvus["seed"]["p50_ms"] <= milvus["seed"]["p95_ms"] and report["milvus_ask_p50_ms"] == milvus["seed"]["p50_ms"]
    for row in milvus["scaling"]:
        assert row["store"] == "milvus" and row["chunks"] == row["factor"] * report["cold"]["chunks"]
        assert 0.0 <= row["recall_at_10"] <= 1.0 and row["index_mb"] > 0
