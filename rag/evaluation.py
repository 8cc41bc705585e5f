"""Metrics: answer EM / F1 on folded text (CMRC's mixed segmentation), retrieval recall and MRR, citations."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np

from rag.errors import InputError
from rag.text.language import CJK, WORD, fold, normalize_answer

log = logging.getLogger(__name__)


# one Chinese character, or a run of other letters and digits
_SEGMENTS = re.compile(CJK.pattern + "|" + WORD)


def segments(text: str) -> list[str]:
    """CMRC 2018's *mixed segmentation* of folded text: every Chinese character is a token, a
    run of Latin letters or digits is one (so "Universitas Nanjing" shares one token with
    "Universitas Tsinghua", not most of its letters)."""
    return _SEGMENTS.findall(fold(text))


def answer_f1(prediction: str, gold: str) -> float:
    """Token F1 over mixed segments (character F1 for Chinese, word F1 for Latin script:
    the CMRC 2018 and MLQA conventions)."""
    p, g = segments(prediction), segments(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, golds: list[str]) -> float:
    return max((answer_f1(prediction, g) for g in golds), default=0.0)


def exact_match(prediction: str, golds: list[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def contains_answer(text: str, golds: list[str]) -> bool:
    """Whether ``text`` holds one of the answers (folded, spacing ignored)."""
    t = normalize_answer(text)
    return any(normalize_answer(g) and normalize_answer(g) in t for g in golds)


# ---- rag eval -----------------------------------------------------------------------

def _doc_matches(doc_id: str, gold_docs: list[str]) -> bool:
    """Gold docs name a document by its id or by a prefix of its file name."""
    return not gold_docs or any(doc_id == g or doc_id.startswith(g) for g in gold_docs)


def score_item(item: dict, result: dict, quote_sources: list[str] | None = None) -> dict:
    """Metrics of one question given its ``rag ask --json`` object (and, for quote
    questions, the sources ``rag search`` found for it, best first)."""
    golds, docs = item.get("answers", []), item.get("docs", [])
    answerable = bool(golds)
    passages = result.get("passages", [])
    hits = [contains_answer(p.get("cleaned", p["text"]), golds) and _doc_matches(p["source"], docs)
            for p in passages] if answerable else []
    first = next((i for i, h in enumerate(hits) if h), None)
    answers = result.get("answers", [])
    top = answers[0] if answers else None
    f1 = best_f1(top["text"], golds) if (top and answerable) else 0.0
    return dict(
        answerable=answerable,
        recall_at_1=float(first == 0), recall_at_5=float(first is not None and first < 5),
        mrr=1.0 / (first + 1) if first is not None else 0.0,
        em=exact_match(top["text"], golds) if (top and answerable) else 0.0,
        f1=f1, hit=float(f1 >= 0.5),
        citation=float(bool(top) and answerable and f1 >= 0.5 and _doc_matches(top["source"], docs)),
        answered=float(bool(answers)),
        quote_top1=None if quote_sources is None else float(bool(quote_sources) and _doc_matches(quote_sources[0], docs)),
    )


def reliability(pairs, bins=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)) -> list[dict]:
    """(confidence, right) pairs by confidence bin: mean confidence against share right."""
    pairs = list(pairs)
    rows = []
    for lo, hi in zip(bins, bins[1:]):
        sel = [(c, ok) for c, ok in pairs if lo <= c < hi]
        if sel:
            rows.append(dict(confidence=f"{lo:.1f}-{min(hi, 1):.1f}", n=len(sel),
                             mean_confidence=round(float(np.mean([c for c, _ in sel])), 3),
                             accuracy=round(float(np.mean([ok for _, ok in sel])), 3)))
    return rows


def summarise(rows: list[tuple[dict, dict]]) -> dict:
    """Aggregate per-question metrics overall, by language and by kind."""
    def agg(sel):
        ans = [m for _, m in sel if m["answerable"]]
        una = [m for _, m in sel if not m["answerable"]]
        mean = lambda xs, k: round(sum(x[k] for x in xs) / len(xs), 3) if xs else None  # noqa: E731
        out = dict(n=len(sel), answerable=len(ans), unanswerable=len(una))
        for k in ("recall_at_1", "recall_at_5", "mrr", "em", "f1", "hit", "citation", "answered"):
            out[k] = mean(ans, k)
        quotes = [m for _, m in sel if m.get("quote_top1") is not None]
        out["quote_top1"] = mean(quotes, "quote_top1")
        out["abstained_unanswerable"] = round(1 - sum(m["answered"] for m in una) / len(una), 3) if una else None
        return out

    report = dict(overall=agg(rows), by_lang={}, by_kind={})
    for key, field_ in (("by_lang", "lang"), ("by_kind", "kind")):
        for value in sorted({item.get(field_, "?") for item, _ in rows}):
            report[key][value] = agg([r for r in rows if r[0].get(field_, "?") == value])
    return report


def read_items(path: Path) -> list[dict]:
    """The questions of an evaluation file (JSON lines with at least a ``question``); a line
    that is not one is logged and skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the evaluation file {path} ({exc}); give a UTF-8 JSON-lines file") from exc
    items = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise ValueError("no question")
        except ValueError:
            log.error("%s line %d is not a JSON object with a 'question'; skipped", path, n)
            continue
        items.append(dict(item, id=item.get("id", str(n))))
    return items


def evaluate(qa, items: list[dict], top_k: int = 5) -> tuple[dict, list[dict]]:
    """(report, one row per question) of ``qa`` (a ``rag.QA``) on ``items``; quote questions are
    also looked up with ``qa.find_quote``."""
    from rag.retrieval.retriever import quoted_fragments

    rows, details = [], []
    for item in items:
        question = item["question"]
        result = qa.run(question, max(5, top_k)).to_json()
        quotes = None
        if item.get("kind") == "quote":
            fragment = (quoted_fragments(question) or [question])[0]
            quotes = [m.source for m in qa.find_quote(fragment)]
        rows.append((item, score_item(item, result, quotes)))
        top = (result["answers"] or [None])[0]
        details.append(dict(id=item["id"], lang=item.get("lang", "?"), kind=item.get("kind", "?"),
                            answer=top and top["text"], source=top and top["source"],
                            confidence=top and top["score"], **rows[-1][1]))
    report = summarise(rows)
    report["reliability"] = reliability((d["confidence"], bool(d["hit"])) for d in details if d["confidence"] is not None)
    return report, details


def format_report(report: dict) -> str:
    cols = ("n", "recall_at_1", "recall_at_5", "mrr", "em", "f1", "hit", "citation", "answered",
            "abstained_unanswerable", "quote_top1")
    names = dict(recall_at_1="R@1", recall_at_5="R@5", answered="answered", abstained_unanswerable="abstain",
                 quote_top1="quote@1")
    head = f"{'':16s}" + "".join(f"{names.get(c, c):>11s}" for c in cols)
    lines = [head]
    def row(name, stats):
        cells = "".join(f"{'-' if stats[c] is None else stats[c]:>11}" for c in cols)
        lines.append(f"{name:16s}{cells}")
    row("overall", report["overall"])
    for group in ("by_lang", "by_kind"):
        for name, stats in report[group].items():
            row(f"{group[3:]}={name}", stats)
    return "\n".join(lines)


def format_details(details: list[dict]) -> str:
    """One line per question: retrieval rank bucket, hit and citation marks, the top answer."""
    lines = []
    for d in details:
        if not d["answerable"]:
            found = "-" if d["answered"] else "ok"
            lines.append(f"{d['id']:>6} {d['lang']:>3} {d['kind']:<13} unanswerable  abstained: {found:<3} "
                         f"{d['answer'] or ''}")
            continue
        rank = "R@1" if d["recall_at_1"] else "R@5" if d["recall_at_5"] else "   "
        marks = f"{'hit' if d['hit'] else '   '} {'cit' if d['citation'] else '   '}"
        answer = f"{d['answer']} ({d['source']}, {d['confidence']:.2f})" if d["answer"] else "(not found)"
        lines.append(f"{d['id']:>6} {d['lang']:>3} {d['kind']:<13} {rank} {marks} {answer}")
    return "\n".join(lines)
