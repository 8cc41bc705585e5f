"""The index on Milvus: embedded Milvus Lite always; a real Milvus server when one can be started here."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rag.errors import IndexUnusable
from rag.index.store import current_generation, load_index
from rag.ingest.incremental import ingest, migrate, remove
from rag.pipeline import QA
from rag.retrieval.retriever import Filters

from .conftest import rag

pytest.importorskip("pymilvus", reason="the [milvus] extra is not installed (pip install -e '.[milvus]')")

pytestmark = pytest.mark.slow  # a Milvus server and Milvus Lite

QUESTIONS = ["Which deep learning framework does FAIR rely on?", "周伯文是哪一年出任京东集团副总裁的?",
             "Siapa direktur ByteDance AI Labs yang bergabung dengan UCSB?", "What is the boiling point of tungsten?"]


def _seen(qa: QA, question: str) -> tuple[list, list]:
    data = qa.run(question).to_json()
    return [(p["source"], p["start"], p["score"]) for p in data["passages"]], [a["text"] for a in data["answers"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notes(folder: Path, texts: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")


NOTES = {
    "a.txt": "Laboratorium Zamrud di Bandung dipimpin oleh Profesor Kinanti Larasati sejak tahun 2019.\n",
    "b.txt": "The Kestrel greenhouse lab in Leeds is led by Dr. Amara Okafor, who founded it in 2018.\n",
    "c.txt": "深蓝实验室位于杭州，由陈思远教授于二〇一五年创立，研究水下机器人。\n",
}


@pytest.fixture(scope="module")
def lite_index(cfg, built_index, tmp_path_factory) -> Path:
    """A copy of the test index moved onto Milvus Lite (``rag migrate``: nothing embedded again)."""
    index = tmp_path_factory.mktemp("milvus") / "index"
    shutil.copytree(cfg.index_dir, index)
    proc = rag("migrate", "--store", "milvus", "--index", str(index))
    assert proc.returncode == 0, proc.stderr.decode()
    return index


def test_milvus_lite_ranks_and_answers_exactly_as_faiss(cfg, qa, lite_index):
    on_milvus = QA(replace(cfg, index_dir=lite_index)).warm_up()
    try:
        assert on_milvus.index.manifest["store"]["kind"] == "milvus"
        assert (on_milvus.index.path / "milvus.db").is_dir() and not list(on_milvus.index.path.glob("*.faiss"))
        for question in QUESTIONS:
            assert _seen(on_milvus, question) == _seen(qa, question), question
        doc = next(d.doc_id for d in on_milvus.documents() if d.doc_id.startswith("003"))
        filtered = on_milvus.run(QUESTIONS[0], filters=Filters(doc_ids=frozenset({doc}))).passages
        assert filtered and {p.chunk.doc_id for p in filtered} == {doc}
    finally:
        on_milvus.index.dense.close()


def test_incremental_update_and_deletion_on_milvus_lite(cfg, tmp_path):
    docs, c = tmp_path / "docs", replace(cfg, index_dir=tmp_path / "index", store="milvus")
    _notes(docs, NOTES)
    first = ingest([docs], c, progress=False)
    assert sorted(first.added) == ["a.txt", "b.txt", "c.txt"] and not first.errors
    before = load_index(c.index_dir)
    rows_a = [r for r, ch in enumerate(before.chunks) if ch.doc_id == "a.txt"]
    vectors_a = before.dense.vectors("e5", rows_a)
    before.dense.close()
    (docs / "b.txt").write_text(NOTES["b.txt"] + "It builds harvesting robots for tomatoes.\n", encoding="utf-8")
    (docs / "c.txt").unlink()
    _notes(docs, {"d.txt": "Laboratorium Melati dibuka di Yogyakarta pada tahun 2025.\n"})
    second = ingest([docs], replace(c, store=""), progress=False)  # no --store: the index stays on Milvus
    assert (second.unchanged, second.updated, second.added, second.removed) == (["a.txt"], ["b.txt"], ["d.txt"], ["c.txt"])
    after = load_index(c.index_dir)
    try:
        assert after.manifest["store"]["kind"] == "milvus" and set(after.documents) == {"a.txt", "b.txt", "d.txt"}
        assert len(after.chunks) == after.dense.count("e5") == after.dense.count("use")
        rows_a = [r for r, ch in enumerate(after.chunks) if ch.doc_id == "a.txt"]
        assert (after.dense.vectors("e5", rows_a) == vectors_a).all(), "unchanged documents keep their vectors"
        assert any("tomatoes" in ch.text for ch in after.chunks if ch.doc_id == "b.txt")
    finally:
        after.dense.close()
    assert remove(["d.txt"], c).removed == ["d.txt"]
    last = load_index(c.index_dir)
    assert set(last.documents) == {"a.txt", "b.txt"} and last.manifest["store"]["kind"] == "milvus"
    last.dense.close()
    assert len([p for p in c.index_dir.iterdir() if p.name.startswith("gen-")]) <= 2


@pytest.mark.reliability("kill -9 during `rag ingest --store milvus` (Milvus Lite), 4 times at random moments",
                         "the previous or the new index loadable and consistent every time; the next ingest completes")
def test_kill_during_milvus_ingest(cfg, tmp_path, record_property):
    docs, index = tmp_path / "docs", tmp_path / "index"
    _notes(docs, NOTES)
    assert ingest([docs], replace(cfg, index_dir=index, store="milvus"), progress=False).added
    cmd = [sys.executable, "-m", "rag.cli", "-q", "ingest", str(docs), "--index", str(index)]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    rng = random.Random(3)
    for n in range(4):
        _notes(docs, {"extra.txt": f"Catatan {n}: laboratorium ke-{n} dibuka di Surabaya pada tahun 20{n:02d}.\n"})
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 12.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = load_index(index)
        assert loaded.manifest["store"]["kind"] == "milvus"
        assert len(loaded.chunks) == loaded.dense.count("e5") == len(loaded.dense.vectors("e5", list(range(len(loaded.chunks)))))
        loaded.dense.close()
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    final = load_index(index)
    assert "extra.txt" in final.documents
    final.dense.close()
    record_property("observed", "4 kills: index loadable and consistent after each; final ingest exit 0")


@pytest.mark.reliability("Milvus server unreachable (ingest, ask)", "exit 2 naming the server and what to do; the live index unchanged")
def test_unreachable_milvus_server(cfg, built_index, tmp_path, record_property):
    index = tmp_path / "index"
    shutil.copytree(cfg.index_dir, index)
    live = current_generation(index)
    uri = f"http://127.0.0.1:{_free_port()}"
    (tmp_path / "nothing").mkdir()
    proc = rag("ingest", str(tmp_path / "nothing"), "--index", str(index), "--store", "milvus", "--milvus-uri", uri)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and uri in err and "Traceback" not in err, err[-2000:]
    assert current_generation(index) == live and load_index(index).manifest.get("store", {}).get("kind") == "faiss"
    # an index whose vectors live on a server that is gone
    manifest = live / "manifest.json"
    import json

    data = json.loads(manifest.read_text())
    data["store"] = dict(kind="milvus", uri=uri, fields={f: dict(v, collection=f"rag_x_{f}", count=data["n_chunks"])
                                                         for f, v in data["dense"].items()})
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexUnusable, match="cannot open the Milvus store"):
        load_index(index)
    asked = rag("ask", QUESTIONS[0], "--index", str(index))
    assert asked.returncode == 2 and uri in asked.stderr.decode()
    record_property("observed", f"exit 2: {err.strip().splitlines()[-1][:140]}")


# ---- a real Milvus server ------------------------------------------------------------------

def _milvus_server_binary() -> str | None:
    found = Path(sys.executable).with_name("milvus-server")
    return str(found) if found.exists() else shutil.which("milvus-server")


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """Milvus standalone (PyPI ``milvus``, with its own etcd) started on this machine for the test."""
    binary = _milvus_server_binary()
    if binary is None:
        pytest.skip("no Milvus server can be started here: the PyPI 'milvus' package (milvus-server, "
                    "x86_64 Linux only) is not installed")
    data, port = tmp_path_factory.mktemp("milvus-server"), _free_port()
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([binary, "--data", str(data / "data"), "--proxy-port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.skip(f"the Milvus server did not start here: {(data / 'server.log').read_text()[-400:]}")
            time.sleep(1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.skip("the Milvus server did not listen within 240 s")
    time.sleep(5)  # the proxy listens before its coordinators are ready
    yield f"http://127.0.0.1:{port}", proc
    os.killpg(proc.pid, signal.SIGKILL)  # its embedded etcd and child processes ignore SIGTERM
    proc.wait(timeout=30)


def test_real_milvus_server(cfg, qa, built_index, milvus_server, tmp_path):
    from pymilvus import MilvusClient

    uri, proc = milvus_server
    index = tmp_path / "index"
    shutil.copytree(cfg.index_dir, index)
    c = replace(cfg, index_dir=index, milvus_uri=uri)
    for attempt in range(10):  # a just-started server may refuse collections for a few seconds
        try:
            migrate(c, "milvus", uri)
            break
        except IndexUnusable:
            time.sleep(3)
    on_server = QA(c).warm_up()
    assert on_server.index.manifest["store"]["uri"] == uri
    for question in QUESTIONS:
        assert _seen(on_server, question) == _seen(qa, question), question
    first = on_server.index.generation
    doc = next(d.doc_id for d in on_server.documents() if d.doc_id.startswith("004"))
    remove([doc], c)
    remove([next(d.doc_id for d in on_server.documents() if d.doc_id.startswith("003"))], c)
    client = MilvusClient(uri)
    names = client.list_collections()
    client.close()
    assert not [n for n in names if first.replace("-", "_") in n], "a replaced generation's collections are dropped"
    assert len(names) == 4  # the live generation's two collections and the previous one's
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with pytest.raises(IndexUnusable, match=uri):
        load_index(index)
