"""The benchmark report as a table and as a plot (``docs/bench.png``)."""

from __future__ import annotations

from pathlib import Path


def format_table(r: dict) -> str:
    q = r["queries"]
    cpu = r["machine"].get("cpu") or {}
    lines = [
        f"CPU: {cpu.get('model', '?')} × {r['machine']['cpus']} ({', '.join(cpu.get('features', [])) or 'no listed features'}); "
        f"OpenVINO infers in {cpu.get('openvino_precision')}; reader runtime {r['machine'].get('reader_runtime')}",
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
        f"ingest cold {c['cold_ingest_s']} s (seed corpus, incl. model load); warm {r['ingest_chunks_per_s']} chunks/s, "
        f"{r['ingest_docs_per_s']} docs/s ({r['warm_ingest']['chunks']} chunks of {r['warm_ingest']['articles']} "
        f"real articles); unchanged re-ingest {c['reingest_unchanged_s']} s (process incl.)",
        f"peak RSS: ingest {r['ingest_peak_rss_mb']} MB, serving {r['serve_peak_rss_mb']} MB",
        "",
        f"{'scale':>6s}{'chunks':>9s}{'index':>16s}{'build s':>9s}{'p50 ms':>8s}{'p95 ms':>8s}"
        f"{'retr ms':>8s}{'R@10':>7s}{'disk MB':>9s}{'RSS MB':>8s}",
    ]
    for s in r["scaling"] + (r.get("milvus") or {}).get("scaling", []):
        lines.append(f"{s['factor']:>5}×{s['chunks']:>9}{'+'.join(s['dense_index']):>16s}{s['build_s']:>9}"
                     f"{s['p50_ms']:>8}{s['p95_ms']:>8}{s['retrieval_p50_ms']:>8}{s['recall_at_10']:>7}"
                     f"{s['index_mb']:>9}{s['rss_mb']:>8}")
    m = r.get("milvus") or {}
    if m.get("available"):
        s = m["seed"]
        lines.append(f"Milvus Lite, seed corpus: ask p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, retrieval p50 "
                     f"{s['retrieval_p50_ms']} ms (faiss: {r['ask_p50_ms']} / {r['ask_p95_ms']} / {r['retrieval_p50_ms']}); "
                     f"written in {s['build_s']} s")
    elif m:
        lines.append(f"Milvus: not measured ({m['reason']})")
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
