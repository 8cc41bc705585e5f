"""``rag eval-documents``: the document set (``rag_train.docset``: web pages, PDFs, Word files, EPUBs
in three languages) built, indexed and asked through ``rag ask --json -`` as a user would.

Per question: the dev set's metrics (hit: token/character F1 ≥ 0.5 against the gold answers, citation:
a hit cited from the right file) and whether the first citation's quote is the whole answering
sentence (it holds the sentence, and little more). Also: site furniture left in any chunk, and each
file's title.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from rag.config import PROJECT_ROOT, Config
from rag.evaluation import score_item, summarise
from rag_train.docset import FURNITURE, build

log = logging.getLogger(__name__)

FOLDER = PROJECT_ROOT / "data" / "documents"


def _plain(text: str) -> str:
    return " ".join(text.split())


def whole_sentence(quote: str, sentence: str) -> bool:
    """The quote holds the whole sentence, and at most a short stretch more."""
    quote, sentence = _plain(quote), _plain(sentence)
    return sentence in quote and len(quote) <= 1.3 * len(sentence) + 10


def run(cfg: Config, work: Path, folder: Path = FOLDER) -> dict:
    files = build(folder / "documents.json", work / "documents")
    items = [json.loads(line) for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    index = work / "index"
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAG_HOME=str(cfg.home))
    base = [sys.executable, "-m", "rag.cli", "-q"]
    log.info("document set: %d files, %d questions; indexing", len(files), len(items))
    subprocess.run(base + ["ingest", str(work / "documents"), "--index", str(index), "--rebuild"], env=env, check=True)
    lines = "".join(json.dumps(dict(id=it["id"], question=it["question"]), ensure_ascii=False) + "\n" for it in items)
    out = subprocess.run(base + ["ask", "--json", "-", "--index", str(index), "--in-process"], env=env, check=True,
                         input=lines.encode("utf-8"), capture_output=True).stdout.decode("utf-8")
    results = {r["id"]: r for r in map(json.loads, out.splitlines())}
    rows, details = [], []
    for it in items:
        result = results[it["id"]]
        metrics = score_item(dict(it, docs=[it["doc"]]), result)
        top = result["answers"][0] if result["answers"] else None
        metrics["whole_sentence"] = float(bool(top) and metrics["hit"] > 0
                                          and whole_sentence(top["citations"][0]["quote"], it["sentence"]))
        rows.append((it, metrics))
        details.append(dict(id=it["id"], lang=it["lang"], doc=it["doc"], question=it["question"],
                            answer=top and top["text"], quote=top and top["citations"][0]["quote"],
                            hit=metrics["hit"], whole_sentence=metrics["whole_sentence"]))
    from rag.index.store import load_index

    loaded = load_index(index)
    furniture = sorted({f for c in loaded.chunks for f in FURNITURE if f in c.text})
    hits = [m for _, m in rows if m["hit"] > 0]
    report = dict(files=len(files), questions=len(items), overall=summarise(rows)["overall"],
                  whole_sentence_of_hits=round(sum(m["whole_sentence"] for m in hits) / max(1, len(hits)), 3),
                  by_lang={lang: summarise([r for r in rows if r[0]["lang"] == lang])["overall"]
                           for lang in sorted({it["lang"] for it in items})},
                  by_format={ext: summarise([r for r in rows if r[0]["doc"].endswith(ext)])["overall"]
                             for ext in (".html", ".pdf", ".docx", ".epub")},
                  furniture_in_chunks=furniture,
                  titles={d.doc_id: d.title for d in loaded.documents.values()}, details=details)
    return report
