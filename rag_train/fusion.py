"""Fitting the retrieval fusion: the channel weights that rank first the chunk holding the answer.

The answerable questions of the answer scorer's held-out fit collection (``rag_train.scorer``) are
retrieved as ``rag ask`` does; each candidate chunk, with its channel columns
(``retrieval.channel_columns``), is right when it belongs to the question's own article and
contains the answer. A conditional logit over each question's candidates
(``linear.fit_choice``: softmax over them, likelihood of the right ones) gives one
weight per channel. It is fitted on the fit half of the articles and reported on the other
half as recall@1 / recall@5 per language, beside the weights in use before.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.evaluation import contains_answer
from rag.retrieval.fusion import CHANNELS, Fusion
from rag.retrieval.retriever import Retriever
from rag_train.linear import fit_choice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalQuestion:
    text: str
    lang: str
    group: str  # article: the unit of the fit/report split
    doc_id: str  # the document that answers it
    answers: tuple[str, ...]
    origin: str = "source"  # as in rag_train.scorer.Question ("human": hand-written English)


def channel_records(retriever: Retriever, questions: list[RetrievalQuestion]) -> list[dict]:
    """Per question: its candidates' channel columns and which of them hold the answer."""
    pool = max(retriever.cfg.candidates, 4 * retriever.cfg.top_k)
    chunks = retriever.index.chunks
    records = []
    for q in tqdm(questions, desc="Retrieval", unit="q"):
        cands = retriever.candidates(q.text, pool)
        labels = [float(chunks[i].doc_id == q.doc_id and contains_answer(chunks[i].text, list(q.answers)))
                  for i in cands.ids]
        records.append(dict(lang=q.lang, origin=q.origin, group=q.group, x=cands.columns.tolist(), y=labels))
    return records


def recall(records: list[dict], weights: np.ndarray, langs: tuple[str, ...]) -> dict:
    """Recall@1 and @5 of the right chunk under ``weights``, overall, per language and on
    hand-written English questions."""
    def measure(sel):
        ranks = []
        for r in sel:
            y = np.asarray(r["y"])
            if not y.any():
                ranks.append(None)
                continue
            order = np.argsort(-(np.asarray(r["x"]) @ weights), kind="stable")
            ranks.append(int(np.flatnonzero(y[order])[0]))
        n = max(1, len(ranks))
        return dict(n=len(ranks), recall_at_1=round(sum(k == 0 for k in ranks) / n, 3),
                    recall_at_5=round(sum(k is not None and k < 5 for k in ranks) / n, 3),
                    in_candidates=round(sum(k is not None for k in ranks) / n, 3))

    out = dict(all=measure(records))
    for lang in langs:
        out[lang] = measure([r for r in records if r["lang"] == lang])
    human = [r for r in records if r.get("origin") == "human"]
    if human:
        out["human_english"] = measure(human)
    return out


def fit_fusion(records: list[dict], fit_groups: set[str], previous: Fusion,
               langs: tuple[str, ...]) -> tuple[Fusion, dict]:
    """Weights fitted on the fit half's questions; the report half's recall with them and
    with ``previous`` (the weights in use before)."""
    fit_half = [r for r in records if r["group"] in fit_groups]
    report_half = [r for r in records if r["group"] not in fit_groups]
    w = fit_choice([(np.asarray(r["x"]).reshape(-1, len(CHANNELS)), np.asarray(r["y"])) for r in fit_half],
                   hint="no answerable question's passage was among its retrieved candidates: is the fit "
                        "collection's index built from its own articles?")
    fusion = Fusion(dict(zip(CHANNELS, w.tolist())))
    report = dict(questions=dict(fit=len(fit_half), report=len(report_half)),
                  fitted=recall(report_half, fusion.vector(), langs),
                  previous=dict(weights=previous.to_json()["weights"],
                                **recall(report_half, previous.vector(), langs)))
    log.info("retrieval fusion fitted: %s; report half recall@1 %.3f (before %.3f), recall@5 %.3f (before %.3f)",
             fusion.to_json()["weights"], report["fitted"]["all"]["recall_at_1"],
             report["previous"]["all"]["recall_at_1"], report["fitted"]["all"]["recall_at_5"],
             report["previous"]["all"]["recall_at_5"])
    return fusion, report


def save_fusion(data: dict, path: Path) -> Path:
    """Write a fusion file (weights and fit report), checked to load, atomically."""
    Fusion.from_json(data)
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path
