"""``rag bench``: indexing speed, query latency, memory, scaling, and Haystack 2 side by side.

Everything runs on this machine, offline, on a fresh temporary index (the user's index is
never touched). Cold numbers come from child processes (``os.wait4`` gives their peak
RSS); warm latency is measured in this process. Scaling corpora are built from real
sentences of the seed documents, shuffled into new chunks; their vectors are the
normalised mean of the sentences' real embeddings, so the 1000× index is built in minutes
rather than the hours embedding it would take (the embedding cost is reported apart, from
the measured ingest rate).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import PROJECT_ROOT, Config

log = logging.getLogger(__name__)

QUESTIONS = PROJECT_ROOT / "bench" / "questions.jsonl"
_SENTENCE_END = re.compile(r"(?<=[。！？!?；])|(?<=[.;])\s+|\n+")


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


# ---- helpers --------------------------------------------------------------------------

def load_questions(path: Path, limit: int) -> list[dict]:
    """Question objects (``question``, optional ``answers``) from a JSONL file."""
    items = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if isinstance(item, dict) and isinstance(item.get("question"), str):
                items.append(item)
    if not items:
        raise ValueError(f"{path} holds no questions; give a JSONL file with a 'question' per line")
    return items[:limit]


def percentiles(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    if not len(v):
        return dict(p50=None, p95=None, max=None)
    return dict(p50=round(float(np.percentile(v, 50)), 1), p95=round(float(np.percentile(v, 95)), 1),
                max=round(float(v.max()), 1))


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_child(args: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run ``python -m rag.cli ARGS``: (wall seconds, its own peak RSS in MB, stdout)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "-q", *args], stdout=subprocess.PIPE,
                                stderr=err, env=env or os.environ.copy(), cwd=PROJECT_ROOT)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # wait4: this child's rusage, not all children's
        wall = time.perf_counter() - t0
        proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"'rag {' '.join(args)}' failed (exit {proc.returncode}): "
                               f"{err.read().decode(errors='replace')[-500:]}")
    return round(wall, 2), round(usage.ru_maxrss / 1024, 1), out.decode("utf-8")


def dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6, 1)


# ---- 1. indexing and cold start (child processes) --------------------------------------

def bench_cold(cfg: Config, index_dir: Path, question: str) -> dict:
    env = dict(os.environ, RAG_HOME=str(cfg.home))
    corpus = str(cfg.corpus_dir)
    cold_s, ingest_rss, _ = run_child(["ingest", corpus, "--index", str(index_dir)], env)
    unchanged_s, _, _ = run_child(["ingest", corpus, "--index", str(index_dir)], env)
    start_s, start_rss, _ = run_child(["ask", question, "--json", "--index", str(index_dir)], env)
    manifest = json.loads((_current(index_dir) / "manifest.json").read_text())
    return dict(documents=manifest["n_documents"], chunks=manifest["n_chunks"],
                cold_ingest_s=cold_s, reingest_unchanged_s=unchanged_s,
                ingest_peak_rss_mb=ingest_rss, cold_start_s=start_s,
                cold_ingest_docs_per_s=round(manifest["n_documents"] / cold_s, 2),
                cold_ingest_chunks_per_s=round(manifest["n_chunks"] / cold_s, 2))


def _current(index_dir: Path) -> Path:
    from .index import current_generation

    return current_generation(index_dir)


# ---- 2. warm queries (this process) ----------------------------------------------------

def _ask_many(qa, items: list[dict]) -> dict:
    from .evaluation import score_item

    totals, parts, hits = [], {"embedding": [], "retrieval": [], "reading": []}, []
    for item in items:
        t0 = time.perf_counter()
        result = qa.run(item["question"])
        totals.append(1000 * (time.perf_counter() - t0))
        for k in parts:
            parts[k].append(result.timings_ms.get(k, 0.0))
        if item.get("answers"):
            hits.append(score_item(item, result.to_json(qa.index))["hit"])
    return dict(total=percentiles(totals), **{k: percentiles(v) for k, v in parts.items()},
                hit=round(float(np.mean(hits)), 3) if hits else None)


def bench_queries(cfg: Config, items: list[dict]) -> dict:
    from .pipeline import QA

    t0 = time.perf_counter()
    qa = QA(cfg).warm_up()
    load_s = time.perf_counter() - t0
    qa.run(items[0]["question"])  # first call pays one-off allocations
    stats = _ask_many(qa, items)
    return dict(model_load_s=round(load_s, 2), serve_peak_rss_mb=peak_rss_mb(), **stats)


def bench_warm_ingest(cfg: Config) -> dict:
    """Chunks/s of a full rebuild with the models already loaded (embedding dominates)."""
    from .ingest import ingest

    t0 = time.perf_counter()
    report = ingest([cfg.corpus_dir], cfg, rebuild=True, progress=False)
    dt = time.perf_counter() - t0
    return dict(warm_ingest_s=round(dt, 2), ingest_chunks_per_s=round(report.chunks / dt, 1),
                ingest_docs_per_s=round((len(report.added) + len(report.updated)) / dt, 2))


# ---- 3. Haystack 2 ---------------------------------------------------------------------

def export_reader_for_transformers(cfg: Config, out: Path) -> Path:
    """Our reader as a plain ``transformers`` QA model folder (for Haystack's ExtractiveReader)."""
    from transformers import AutoTokenizer

    from .models import ensure_embedder, load_reader_model

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
        from haystack.components.embedders import (SentenceTransformersDocumentEmbedder,
                                                   SentenceTransformersTextEmbedder)
        from haystack.components.readers import ExtractiveReader
        from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
    except ImportError as exc:
        return dict(available=False, reason=f"haystack-ai (2.x) is not installed ({exc}); "
                                            "install it with: pip install -e '.[bench]'")
    from .evaluation import best_f1
    from .models import ensure_embedder

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


# ---- 4. scaling ------------------------------------------------------------------------

def seed_sentences(index) -> list[str]:
    """Distinct sentences of the indexed documents' cleaned text."""
    seen, out = set(), []
    for doc in index.documents.values():
        for s in _SENTENCE_END.split(doc.cleaned.text):
            s = s.strip()
            if len(s) >= 8 and s not in seen:
                seen.add(s)
                out.append(s)
    return out


def synthetic_corpus(sentences: list[str], vectors: dict[str, np.ndarray], n_chunks: int,
                     chunk_chars: int, seed: int):
    """(documents, chunks, vectors): ``n_chunks`` chunks of shuffled seed sentences, 13 a document."""
    from .chunks import Chunk
    from .cleaning import MappedText
    from .documents import Document

    rng = np.random.default_rng(seed)
    docs, chunks, members = [], [], []
    per_doc = 13
    for d in range(0, n_chunks, per_doc):
        doc_id, parts, pos = f"synthetic-{d // per_doc:06d}.txt", [], 0
        for _ in range(min(per_doc, n_chunks - d)):
            picked, length = [], 0
            while length < chunk_chars * 0.8:
                i = int(rng.integers(len(sentences)))
                picked.append(i)
                length += len(sentences[i])
            text = "".join(sentences[i] for i in picked)
            chunks.append(Chunk(doc_id, text, pos, pos + len(text), pos, pos + len(text)))
            members.append(picked)
            parts.append(text)
            pos += len(text)
        body = "".join(parts)
        docs.append(Document(doc_id, f"/synthetic/{doc_id}", body,
                             MappedText(body, np.arange(len(body) + 1)), "zh",
                             hashlib.sha256(body.encode()).hexdigest()))
    out = {}
    for field, sent in vectors.items():
        rows = np.zeros((len(chunks), sent.shape[1]), dtype=np.float32)
        for i, picked in enumerate(members):
            rows[i] = sent[picked].mean(axis=0)
        out[field] = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return docs, chunks, out


def ann_recall_at_10(index, qvecs: dict[str, np.ndarray]) -> float:
    """Mean share of exact top-10 neighbours the index returns (1.0 for exact indexes)."""
    import faiss

    recalls = []
    for field, dense in index.dense.items():
        if isinstance(dense, faiss.IndexFlat):
            recalls.append(1.0)
            continue
        exact = faiss.IndexFlatIP(dense.d)
        exact.add(np.ascontiguousarray(index.vectors[field], dtype=np.float32))
        _, truth = exact.search(qvecs[field], 10)
        _, got = dense.search(qvecs[field], 10)
        recalls += [len(set(t) & set(g)) / 10 for t, g in zip(truth, got)]
    return round(float(np.mean(recalls)), 4)


def bench_scaling(cfg: Config, index, items: list[dict], factors: tuple[int, ...],
                  work: Path, quick: bool) -> list[dict]:
    from .embeddings import Embedder
    from .index import load_index, write_index
    from .ingest import index_settings
    from .pipeline import QA

    sentences = seed_sentences(index)
    if quick:
        sentences = sentences[:120]
    embedder = Embedder(cfg)
    log.info("scaling: embedding %d seed sentences", len(sentences))
    sent_vecs = embedder.passages(sentences)
    questions = [it["question"] for it in items]
    qvecs = embedder.queries(questions)
    rows = []
    for factor in factors:
        n = factor * len(index.chunks)
        log.info("scaling ×%d: %d chunks", factor, n)
        docs, chunks, vecs = synthetic_corpus(sentences, sent_vecs, n, cfg.chunk_size, seed=factor)
        target = work / f"scale-{factor}"
        t0 = time.perf_counter()
        write_index(target, docs, chunks, vecs, index_settings(cfg), cfg.exact_max_vectors)
        build_s = time.perf_counter() - t0
        del docs, chunks, vecs
        scaled_cfg = dataclasses.replace(cfg, index_dir=target)
        t0 = time.perf_counter()
        scaled = load_index(target)
        load_s = time.perf_counter() - t0
        qa = QA(scaled_cfg).warm_up()
        stats = _ask_many(qa, items)
        rss = _rss_now_mb()  # whole process after answering on this index (vectors are memory-mapped)
        rows.append(dict(
            factor=factor, chunks=len(scaled.chunks), dense_index=sorted({type(d).__name__ for d in scaled.dense.values()}),
            build_s=round(build_s, 1), load_s=round(load_s, 2), rss_mb=round(rss, 1),
            p50_ms=stats["total"]["p50"], p95_ms=stats["total"]["p95"],
            retrieval_p50_ms=stats["retrieval"]["p50"],
            recall_at_10=ann_recall_at_10(scaled, qvecs), index_mb=dir_mb(_current(target)),
        ))
        del qa, scaled
        shutil.rmtree(target, ignore_errors=True)
    return rows


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


# ---- the whole run ---------------------------------------------------------------------

def run(cfg: Config, settings: BenchSettings) -> dict:
    """Every measurement; returns the JSON report."""
    items = load_questions(settings.questions or QUESTIONS, settings.n_questions)
    work = Path(settings.work or tempfile.mkdtemp(prefix="rag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    index_dir = work / "index"
    cfg = dataclasses.replace(cfg, index_dir=index_dir)
    try:
        log.info("1/5 cold ingest, unchanged re-ingest and cold start (child processes)")
        cold = bench_cold(cfg, index_dir, items[0]["question"])
        log.info("2/5 warm queries: %d questions", len(items))
        queries = bench_queries(cfg, items)
        log.info("3/5 warm ingest")
        warm = bench_warm_ingest(cfg)
        from .index import load_index

        index = load_index(index_dir)
        log.info("4/5 Haystack 2 pipeline on the same chunks and questions")
        haystack = bench_haystack(cfg, index, items, work)
        log.info("5/5 scaling ×%s", settings.scale_factors)
        scaling = bench_scaling(cfg, index, items, settings.scale_factors, work, settings.quick)
    finally:
        if settings.work is None:
            shutil.rmtree(work, ignore_errors=True)
    ours = queries["total"]["p50"]
    theirs = haystack["total"]["p50"] if haystack.get("available") else None
    return dict(
        machine=dict(cpus=os.cpu_count(), python=sys.version.split()[0], quick=settings.quick),
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
        scaling=scaling,
    )


def format_table(r: dict) -> str:
    q = r["queries"]
    lines = [
        f"seed corpus: {r['cold']['documents']} documents, {r['cold']['chunks']} chunks; "
        f"{r['questions']} questions; reader {r['reader']}",
        "",
        f"{'':28s}{'p50 ms':>10s}{'p95 ms':>10s}{'max ms':>10s}",
    ]
    for name in ("total", "embedding", "retrieval", "reading"):
        s = q[name]
        lines.append(f"{'ask ' + name:28s}{s['p50']:>10}{s['p95']:>10}{s['max']:>10}")
    h = r["haystack"]
    if h.get("available"):
        s = h["total"]
        lines.append(f"{'Haystack ' + h['version'] + ' ask':28s}{s['p50']:>10}{s['p95']:>10}{s['max']:>10}")
        lines.append(f"speed-up vs Haystack (p50): {r['speedup_vs_haystack']}×; answer hit ours {r['hit']} "
                     f"vs Haystack {h['hit']}")
    else:
        lines.append(f"Haystack: not measured ({h['reason']})")
    c = r["cold"]
    lines += [
        "",
        f"cold start (process → first answer) {r['cold_start_s']} s; model load {r['model_load_s']} s",
        f"ingest cold {c['cold_ingest_s']} s (incl. model load); warm {r['ingest_chunks_per_s']} chunks/s, "
        f"{r['ingest_docs_per_s']} docs/s; unchanged re-ingest {c['reingest_unchanged_s']} s (process incl.)",
        f"peak RSS: ingest {r['ingest_peak_rss_mb']} MB, serving {r['serve_peak_rss_mb']} MB",
        "",
        f"{'scale':>6s}{'chunks':>9s}{'index':>16s}{'build s':>9s}{'p50 ms':>8s}{'p95 ms':>8s}"
        f"{'retr ms':>8s}{'R@10':>7s}{'disk MB':>9s}{'RSS MB':>8s}",
    ]
    for s in r["scaling"]:
        lines.append(f"{s['factor']:>5}×{s['chunks']:>9}{'+'.join(s['dense_index']):>16s}{s['build_s']:>9}"
                     f"{s['p50_ms']:>8}{s['p95_ms']:>8}{s['retrieval_p50_ms']:>8}{s['recall_at_10']:>7}"
                     f"{s['index_mb']:>9}{s['rss_mb']:>8}")
    return "\n".join(lines)


def plot(r: dict, out: Path) -> Path:
    """Latency against corpus size (``docs/bench.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [dict(chunks=r["cold"]["chunks"], p50_ms=r["ask_p50_ms"], p95_ms=r["ask_p95_ms"],
                 retrieval_p50_ms=r["retrieval_p50_ms"])] + r["scaling"]
    x = [s["chunks"] for s in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    ax.plot(x, [s["p50_ms"] for s in rows], "o-", label="ask p50")
    ax.plot(x, [s["p95_ms"] for s in rows], "s--", label="ask p95")
    ax.plot(x, [s["retrieval_p50_ms"] for s in rows], "^:", label="retrieval p50")
    if r.get("haystack_ask_p50_ms"):
        ax.axhline(r["haystack_ask_p50_ms"], color="grey", lw=1, label="Haystack 2 ask p50 (seed)")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index (seed corpus ×1 … ×1000)")
    ax.set_ylabel("ms per question")
    ax.set_title("rag: latency vs corpus size (2 CPU cores)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
