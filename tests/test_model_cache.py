"""The shared model cache (RAG_HOME) under concurrency, and what a first run prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # two cold first runs converting the models

QUESTION = "Which deep learning framework does FAIR rely on?"


@pytest.mark.reliability("two first runs at once on an empty model cache (RAG_HOME)",
                         "one builds each model, the other waits with a message; both answer; no half-built files left")
def test_two_first_runs_share_the_model_cache(cfg, built_index, tmp_path, record_property):
    home = tmp_path / "rag-home"
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAG_HOME=str(home))
    env.pop("TQDM_DISABLE", None)
    procs = [subprocess.Popen([sys.executable, "-m", "rag.cli", "ask", QUESTION, "--json", "--index", str(cfg.index_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=1500) for p in procs]
    logs = [err.decode(errors="replace") for _, err in outs]
    for proc, (out, _), log in zip(procs, outs, logs):
        assert proc.returncode == 0, log[-3000:]
        assert json.loads(out)["answers"], log[-3000:]
    both = "\n".join(logs)
    assert "waiting for it to finish" in both
    # one line per first-run stage, with its duration; the libraries' chatter stays out of it
    for stage in ("converting multilingual-e5-small", "building the embedder as an ONNX graph",
                  "building the reader as an ONNX graph"):
        assert f"{stage}" in both and "done in" in both, stage
    for noise in ("LOAD REPORT", "TracerWarning", "INFO root", "Ignore MatMul", "Writing model shards"):
        assert noise not in both, noise
    leftovers = [p.name for p in home.rglob("*") if p.name.startswith((".build-", ".stale-"))]
    assert not leftovers
    record_property("observed", "both answered; " + next(line for line in both.splitlines() if "waiting" in line)[:120])


def test_a_missing_package_raises_the_error_that_says_what_to_install():
    import json

    from rag.errors import ModelError, require

    assert require("json", ModelError("unused")) is json
    with pytest.raises(ModelError, match="pip install nothing-here") as caught:
        require("rag_no_such_module", ModelError("pip install nothing-here"))
    assert isinstance(caught.value.__cause__, ImportError)


def test_a_new_graph_replaces_older_versions_and_unused_quantisations(tmp_path):
    from rag.models.onnx import GRAPH_VERSION, cached_graph, graph_file

    current = f"reader-int8-{GRAPH_VERSION}.onnx"  # another runtime's graph, still read
    old = ("reader-e8.onnx", "reader-e8-g1.onnx", "reader-int8-g1.onnx", f"reader-w8-{GRAPH_VERSION}.onnx")
    for name in (current, f"e5-w8-{GRAPH_VERSION}.onnx", *old):
        (tmp_path / name).write_bytes(b"old")
    built = []

    def build(work):
        built.append(work)
        (work / "graph.onnx").write_bytes(b"new")
        return work / "graph.onnx"

    wanted = tmp_path / f"reader-e8-{GRAPH_VERSION}.onnx"
    assert graph_file("reader", "embeddings") == wanted.name and graph_file("reader", "dynamic") == current
    graph = cached_graph(tmp_path, "reader", "embeddings", "the reader", build, keep=("dynamic",))
    assert graph == wanted and wanted.read_bytes() == b"new"
    assert cached_graph(tmp_path, "reader", "embeddings", "the reader", build, keep=("dynamic",)) == wanted
    assert len(built) == 1  # built once
    # older versions and the quantisation no runtime reads are gone; the kept one and another
    # artefact's graph (e5) are untouched
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted([wanted.name, current, f"e5-w8-{GRAPH_VERSION}.onnx"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build-")]
