"""kill -9 during ingest at random moments leaves the previous index loadable and correct."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from rag.index.store import current_generation, load_index

from .conftest import corpus_files

pytestmark = pytest.mark.slow  # processes killed in the middle of an ingest

KILLS = 20


@pytest.mark.reliability(f"kill -9 during `rag ingest`, {KILLS} times at random moments",
                         "previous or new index loadable and consistent every time; the next ingest completes")
def test_kill_during_ingest_never_breaks_the_index(cfg, built_index, tmp_path, record_property):
    index = tmp_path / "index"
    shutil.copytree(cfg.index_dir, index)
    docs = tmp_path / "docs"
    docs.mkdir()
    for path in corpus_files():
        shutil.copy(path, docs)
    before = load_index(index)
    rng = random.Random(7)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "rag.cli", "-q", "ingest", str(docs), "--index", str(index)]
    for n in range(KILLS):
        # a changed document forces real work: embedding and a new generation
        (docs / "extra.txt").write_text(f"Catatan {n}: laboratorium AI ke-{n} dibuka di Surabaya pada tahun 20{n:02d}.\n")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 15.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = load_index(index)  # must load, whichever generation is live
        assert set(loaded.documents) in ({*before.documents}, {*before.documents, "extra.txt"})
        assert len(loaded.chunks) == loaded.dense.count("e5") == len(loaded.dense.vectors("e5", list(range(len(loaded.chunks)))))
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    final = load_index(index)
    assert "extra.txt" in final.documents
    assert any("Surabaya" in c.text for c in final.chunks if c.doc_id == "extra.txt")
    record_property("observed", f"{KILLS} kills: index loadable and consistent after each; final ingest exit 0")
    gens = [p for p in index.iterdir() if p.name.startswith("gen-")]
    assert current_generation(index) in gens and len(gens) <= 2
    assert not list(index.glob(".tmp-*"))
