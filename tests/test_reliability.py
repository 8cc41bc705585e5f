"""Bad input, concurrency, a full disk and hostile names, through the real command line.

Every test here is a row of ``docs/reliability.md`` (see ``tests/conftest.py``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.index.store import current_generation, load_index

from .conftest import corpus_files, rag


def _copy_index(cfg, tmp_path) -> Path:
    index = tmp_path / "index"
    shutil.copytree(cfg.index_dir, index)
    return index


def _encrypted_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt("secret")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


BAD_FILES = {
    # name: (bytes or a callable making them, word the message must contain)
    "photo.png": (b"\x89PNG\r\n\x1a\n" + bytes(64), "unsupported"),
    "photo-named.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary"),
    "archive.zip": (b"PK\x03\x04" + bytes(100), "unsupported"),
    "archive-named.txt": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(100), "binary"),
    "program": (b"\x7fELF\x02\x01\x01\x00" + bytes(120), "binary"),
    "empty.txt": (b"", "empty"),
    "blank.md": (b"  \n\t\n" + "\u3000".encode(), "empty"),
    "encrypted.pdf": (_encrypted_pdf, "encrypted"),
    "broken.pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n%%EOF garbage", "PDF"),
    "not-really.pdf": (b"hello, this is not a pdf", "not a PDF"),
}


@pytest.mark.reliability("bad file given to `rag ingest`", "exit 1, message names the file and the problem, index unchanged")
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_refused_and_index_unchanged(cfg, built_index, tmp_path, name, record_property):
    index = _copy_index(cfg, tmp_path)
    before = current_generation(index)
    data, word = BAD_FILES[name]
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(data() if callable(data) else data)
    proc = rag("ingest", str(path), "--index", str(index))
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert name in err and word in err and "Traceback" not in err
    assert current_generation(index) == before and load_index(index).manifest == built_index.manifest
    record_property("observed", f"exit 1: {err.strip().splitlines()[-1][-150:]}")


@pytest.mark.reliability("100 MB text file", "refused by size before it is read (configurable limit), index unchanged")
def test_huge_file_is_refused_by_size_in_bounded_memory(cfg, built_index, tmp_path, record_property):
    index = _copy_index(cfg, tmp_path)
    before = current_generation(index)
    big = tmp_path / "huge.txt"
    with open(big, "wb") as fh:  # sparse: 100 MB of zeros on disk costs nothing
        fh.truncate(100 * 10**6)
    # measured through a small intermediate process: a child forked from this (large) test
    # process would count the parent's pages in its peak RSS
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
             "sys.stderr.buffer.write(p.stderr); "
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "rag.cli", "-q", "ingest", str(big),
                           "--index", str(index)], capture_output=True, text=True, timeout=600)
    err = proc.stderr
    code, rss_kb = map(int, proc.stdout.split())
    assert code == 1, err
    assert "100.0 MB, over the 20 MB limit" in err and "--max-file-mb" in err
    rss = rss_kb / 1024
    assert rss < 100 * 10**6 / 2**20, "the file must not be read whole"
    assert current_generation(index) == before
    record_property("observed", f"exit 1 '{err.strip().splitlines()[-1][-90:]}'; child peak RSS {rss:.0f} MB")


# ---- unusual but valid files: one ingest of a folder holding all of them -------------------

TEXT_ZH = "人工智能實驗室的負責人離職了。科學家們回到學術界，繼續研究深度學習。"


@pytest.fixture(scope="module")
def odd_folder(cfg, built_index, tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    docs = root / "docs"
    docs.mkdir()
    (docs / "legacy-gbk.txt").write_bytes(("人工智能实验室的负责人离职了。科学家们回到学术界。" * 3).encode("gbk"))
    (docs / "legacy-big5.txt").write_bytes((TEXT_ZH * 3).encode("big5"))
    (docs / "utf16-bom.txt").write_bytes((TEXT_ZH * 3).encode("utf-16"))
    (docs / "truncated.txt").write_bytes((TEXT_ZH * 3).encode("utf-8")[:-1])
    (docs / "我的 文件 (1).txt").write_text("Laboratorium AI di Jakarta dibuka pada tahun 2023 oleh tim riset.")
    blob = "A" * 3_000_000
    (docs / "hostile.html").write_text(
        f"<html><body><script>alert('x')</script><img src='data:image/png;base64,{blob}'>"
        "<p>Peneliti AI meninggalkan laboratorium besar pada tahun 2022.</p></body></html>")
    (docs / "loop").symlink_to(docs, target_is_directory=True)  # a directory that contains itself
    index = root / "index"
    shutil.copytree(cfg.index_dir, index)
    proc = rag("ingest", str(docs), "--index", str(index), timeout=900)
    return docs, index, proc


ODD = {
    "legacy-gbk.txt": "科学家们回到学术界",
    "legacy-big5.txt": "科學家們回到學術界",
    "utf16-bom.txt": "科學家們回到學術界",
    "truncated.txt": "繼續研究深度學",
    "我的 文件 (1).txt": "Laboratorium AI di Jakarta",
    "hostile.html": "Peneliti AI meninggalkan",
}


@pytest.mark.reliability("unusual but valid file", "read correctly and indexed, offsets exact")
@pytest.mark.parametrize("name", sorted(ODD))
def test_unusual_files_are_read_correctly(odd_folder, name, record_property):
    docs, index, proc = odd_folder
    assert proc.returncode == 0, proc.stderr.decode()
    loaded = load_index(index)
    doc = loaded.documents[name]
    assert ODD[name] in doc.original
    if name == "hostile.html":
        assert "alert" not in doc.original and "AAAA" not in doc.original
    for chunk in (c for c in loaded.chunks if c.doc_id == name):
        assert doc.original[chunk.start:chunk.end].replace("\n", "") or chunk.text
    record_property("observed", f"indexed as {doc.lang}, {len(doc.original)} characters")


@pytest.mark.reliability("directory with a symlink loop", "ingest finishes, each file indexed once")
def test_symlink_loop_is_not_followed(odd_folder, record_property):
    docs, index, proc = odd_folder
    assert proc.returncode == 0, proc.stderr.decode()
    names = [d.path for d in load_index(index).documents.values() if str(docs) in d.path]
    assert len(names) == len(set(names)) == len(ODD) and not any("/loop/" in n for n in names)
    record_property("observed", f"exit 0, {len(names)} files indexed once each")


@pytest.mark.reliability("file without read permission (as a user without CAP_DAC_OVERRIDE)",
                         "exit 1, 'permission denied' naming the file, index unchanged")
def test_unreadable_file(cfg, built_index, tmp_path, record_property):
    if not shutil.which("setpriv"):
        pytest.skip("needs util-linux setpriv to drop root's file-permission override")
    index = _copy_index(cfg, tmp_path)
    before = current_generation(index)
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    proc = subprocess.run(cmd + [sys.executable, "-m", "rag.cli", "-q", "ingest", str(locked), "--index", str(index)],
                          capture_output=True, timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "locked.txt" in err and "permission denied" in err
    assert current_generation(index) == before
    record_property("observed", f"exit 1: {err.strip().splitlines()[-1][-100:]}")


# ---- questions ------------------------------------------------------------------------

@pytest.mark.reliability("question that is empty or 10 000 characters", "exit 2 with a message; in batch mode an error object and the rest answered")
@pytest.mark.parametrize("kind", ["empty", "10000 chars"])
def test_bad_questions_on_the_command_line(cfg, built_index, kind, record_property):
    question = "   " if kind == "empty" else "為什麼" * 3334
    proc = rag("ask", question, "--index", str(cfg.index_dir))
    assert proc.returncode == 2 and "question" in proc.stderr.decode()
    batch = rag("ask", "--json", "-", "--index", str(cfg.index_dir),
                stdin=json.dumps({"question": question, "id": 1}).encode() + b"\nWho founded Tencent AI Lab?\n")
    out = [json.loads(line) for line in batch.stdout.decode().splitlines()]
    assert batch.returncode == 0 and len(out) == 2 and "error" in out[0] and out[0]["id"] == 1
    assert "error" not in out[1]
    record_property("observed", f"exit 2 '{proc.stderr.decode().strip()[-80:]}'; batch: error object, next line answered")


# ---- uploads: names ---------------------------------------------------------------------

@pytest.mark.reliability("upload with a hostile file name", "stored under <index>/uploads with a sanitised name")
@pytest.mark.parametrize("name", ["../../etc/passwd.txt", "/etc/hosts.txt", "..\\..\\win.txt", "a/../../b.md",
                                  ".hidden.txt", "名 字\x00\n.txt"])
def test_upload_names_cannot_escape(cfg, tmp_path, name, record_property):
    from dataclasses import replace

    from rag.ingest.uploads import safe_name, upload_dir

    local = replace(cfg, index_dir=tmp_path / "index")
    safe = safe_name(name)
    target = (upload_dir(local) / safe).resolve()
    assert upload_dir(local).resolve() in target.parents
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and "\x00" not in safe
    record_property("observed", f"stored as uploads/{safe}")


# ---- concurrency, crashes, disk -------------------------------------------------------------

def _changed_docs(tmp_path, note: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    for path in corpus_files():
        shutil.copy(path, docs)
    (docs / "extra.txt").write_text(f"Catatan: {note}. Laboratorium AI baru dibuka di Bandung pada tahun 2024.\n")
    return docs


def _locked(index: Path) -> bool:
    try:
        with open(index / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fh, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True


@pytest.mark.reliability("two `rag ingest` at once on one index", "the second is refused with a message (exit 2); the first completes; index consistent")
def test_two_ingests_at_once(cfg, built_index, tmp_path, record_property):
    index = _copy_index(cfg, tmp_path)
    docs = _changed_docs(tmp_path, "concurrent")
    first = subprocess.Popen([sys.executable, "-m", "rag.cli", "-q", "ingest", str(docs), "--index", str(index), "--rebuild"],
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not _locked(index) and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    assert _locked(index), "the first ingest never took the lock"
    second = rag("ingest", str(docs), "--index", str(index))
    assert second.returncode == 2 and "another ingest" in second.stderr.decode()
    assert first.wait(timeout=600) == 0, first.stderr.read().decode()
    loaded = load_index(index)
    assert "extra.txt" in loaded.documents and len(loaded.chunks) == loaded.dense.count("e5")
    record_property("observed", f"second: exit 2 '{second.stderr.decode().strip()[-70:]}'; first: exit 0")


def _small_fs(path: Path, size_bytes: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.reliability("disk full during ingest (a small tmpfs)", "exit 2 naming the problem; the previous index live and intact; no temp files left")
def test_disk_full_keeps_previous_index(cfg, built_index, tmp_path, record_property):
    size = sum(f.stat().st_size for f in current_generation(cfg.index_dir).rglob("*") if f.is_file())
    mnt = tmp_path / "small"
    if not _small_fs(mnt, size + 256 * 1024):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        index = mnt / "index"
        shutil.copytree(cfg.index_dir, index)
        before = current_generation(index)
        docs = _changed_docs(tmp_path, "disk full")
        proc = rag("ingest", str(docs), "--index", str(index), timeout=900)
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert "could not write the new index" in err and "MB free" in err and "previous index is still live" in err
        assert "Traceback" not in err
        assert current_generation(index) == before
        loaded = load_index(index)
        assert set(loaded.documents) == set(built_index.documents)
        assert not list(index.glob(".tmp-*"))
        record_property("observed", f"exit 2: {err.strip().splitlines()[-1][:220]}")
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.reliability("a running QA keeps answering while an ingest replaces the index", "every answer succeeds; the new generation is picked up atomically")
def test_answers_continue_while_index_is_replaced(cfg, built_index, tmp_path, record_property):
    from dataclasses import replace

    from rag.pipeline import QA

    index = _copy_index(cfg, tmp_path)
    qa = QA(replace(cfg, index_dir=index)).warm_up()
    before = qa.index.generation
    docs = _changed_docs(tmp_path, "live swap")
    errors, answered, generations = [], [0], set()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                result = qa.run("Where was the new AI laboratory opened in 2024?")
                generations.add(qa.index.generation)
                for p in result.passages:  # cited text must come from the generation that answered
                    assert p.chunk.doc_id in qa.index.documents or p.chunk.doc_id in built_index.documents
                answered[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        proc = rag("ingest", str(docs), "--index", str(index), timeout=900)
    finally:
        time.sleep(2)
        stop.set()
        worker.join(timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert not errors, errors[:3]
    assert qa.index.generation != before and "extra.txt" in qa.index.documents
    top = qa.run("Where was the new AI laboratory opened in 2024?").passages[0]
    assert top.chunk.doc_id == "extra.txt"
    record_property("observed", f"{answered[0]} answers during the swap, 0 errors, generations seen: {len(generations)}")


# ---- code hygiene that protects users ---------------------------------------------------------

@pytest.mark.reliability("no pickle, no shell", "no pickle loading of index files; no shell calls anywhere in rag/ or ui/")
def test_no_pickle_and_no_shell(record_property):
    from rag.config import PROJECT_ROOT

    sources = sorted((PROJECT_ROOT / "rag").rglob("*.py")) + sorted((PROJECT_ROOT / "ui").rglob("*.py"))
    bad = re.compile(r"\bimport pickle\b|pickle\.load|allow_pickle\s*=\s*True|shell\s*=\s*True|os\.system\(|os\.popen\(")
    hits = [f"{p.relative_to(PROJECT_ROOT)}:{n}" for p in sources for n, line in enumerate(p.read_text().splitlines(), 1) if bad.search(line)]
    assert not hits, hits
    record_property("observed", f"{len(sources)} modules scanned, none")
