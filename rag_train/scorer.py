"""Fitting the answer scorer on held-out articles run through the real pipeline.

The reader's held-out articles (never trained on) of each source — Chinese encyclopedia
articles (CMRC 2018) and Indonesian news passages (FacQA) — become one document collection:

- most are indexed whole: their questions, in the source's language, (for Chinese) rendered
  into English with CC-CEDICT as in training, and hand-written in English where
  ``data/human-en`` has them, are answerable;
- in some, the sentence holding one question's answer is cut out before indexing: that
  question is unanswerable while its topic is present (the hard case);
- the rest are left out: their questions are unanswerable, their topic absent;
- training articles join as distractors (their questions are never asked).

First the retrieval fusion is fitted on the answerable questions (``rag_train.fusion``); then every
question goes through retrieval and the reader as ``rag ask`` does; each candidate
span becomes a row of ``rag.answer.scorer.FEATURES``, labelled right when it matches a gold
answer (F1 ≥ 0.5, mixed segmentation) in the question's own article. Fusion and scorer are fitted on
the same half of the articles and reported on the other half, where the threshold table is measured.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.answer.scorer import FEATURES, AnswerScorer, features
from rag.config import Config
from rag.evaluation import best_f1, reliability
from rag_train.data import cross_lingual, human_english, human_english_dir
from rag_train.linear import fit_choice, fit_logistic
from rag_train.sources import QAExample, load_source, split_heldout

log = logging.getLogger(__name__)

# a sentence ends at Chinese or Latin end punctuation (a full stop only before a space)
_SENTENCE = re.compile(r".*?(?:[。！？!?\n]|\.(?=\s)|$)", re.S)


@dataclass(frozen=True)
class FitSettings:
    qa_dir: Path
    work_dir: Path
    absent: float = 0.2  # share of held-out articles left out of the index
    cut: float = 0.5  # share of the indexed ones with one answer's sentence cut out
    # sources of held-out articles, each with how many of its training articles join as
    # distractors: Chinese encyclopedia articles (questions in Chinese and English) and
    # Indonesian news passages (questions in Indonesian)
    sources: tuple[tuple[str, int], ...] = (("cmrc2018", 200), ("facqa", 100))
    seed: int = 5
    # hand-written English questions of held-out examples (<source>_heldout_en.tsv); None: none
    human_english: Path | None = field(default_factory=human_english_dir)


@dataclass(frozen=True)
class Question:
    text: str
    lang: str
    group: str  # article
    answers: tuple[str, ...]  # empty: unanswerable
    kind: str  # "answerable", "absent" or "cut"
    origin: str = "source"  # the source's own question, "rendered" into English, or "human" English


def _cut_sentence(context: str, start: int, end: int) -> str:
    """``context`` without the sentence(s) overlapping ``[start, end)``."""
    spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(context) if m.end() > m.start()]
    keep = [context[a:b] for a, b in spans if b <= start or a >= end]
    return "".join(keep)


def build_collection(settings: FitSettings) -> tuple[dict[str, str], list[Question]]:
    """(documents by file name, questions) for the fit; deterministic for a seed."""
    docs, questions = {}, []
    for i, (source, distractors) in enumerate(settings.sources):
        d, q = _source_collection(settings, source, distractors, random.Random(settings.seed + i))
        docs.update(d)
        questions += q
    return docs, questions


def _source_collection(settings: FitSettings, source: str, distractors: int,
                       rng: random.Random) -> tuple[dict[str, str], list[Question]]:
    """One source's part: its held-out articles (whole, cut or absent) with their questions
    (and English renderings of the Chinese ones), and some training articles as distractors."""
    # the reader's own split of the source: these articles were never trained on
    train, held = split_heldout(load_source(settings.qa_dir, source))
    by_group: dict[str, list[QAExample]] = defaultdict(list)
    for e in held:
        by_group[e.group].append(e)
    groups = sorted(by_group)
    rng.shuffle(groups)
    n_absent = int(len(groups) * settings.absent)
    docs, questions = {}, []
    rendered = {e.qid: e.question for e in cross_lingual(held, seed=8)}
    human = human_english(settings.human_english, source)
    for i, group in enumerate(groups):
        examples = by_group[group]
        context = examples[0].context
        kinds = {}
        if i < n_absent:
            kinds = {e.qid: "absent" for e in examples}
        else:
            if rng.random() < settings.cut:
                victim = rng.choice(examples)
                cut = _cut_sentence(context, victim.answer_start, victim.answer_start + len(victim.answer_text))
                if victim.answer_text not in cut and len(cut) > 50:
                    context = cut
                    kinds[victim.qid] = "cut"
            docs[f"{source}-{group}.txt"] = context
        for e in examples:
            kind = kinds.get(e.qid) or ("answerable" if e.answer_text in context else None)
            if kind is None:  # another answer the cut removed: neither clearly one thing nor the other
                continue
            answers = (e.answer_text,) if kind == "answerable" else ()
            questions.append(Question(e.question, e.lang, f"{source}-{group}", answers, kind))
            for origin, text in (("rendered", rendered.get(e.qid + "-en")), ("human", human.get(e.qid))):
                if text:
                    questions.append(Question(text, "en", f"{source}-{group}", answers, kind, origin))
    train_groups = sorted({e.group: e.context for e in train}.items())
    for group, context in rng.sample(train_groups, min(distractors, len(train_groups))):
        docs[f"train-{source}-{group}.txt"] = context
    return docs, questions


def fit_articles(groups, seed: int = 3) -> set[str]:
    """The articles whose questions fit (the scorer, the fusion); the rest report."""
    groups = sorted(set(groups))
    random.Random(seed).shuffle(groups)
    return set(groups[: len(groups) // 2])


def collect(cfg: Config, settings: FitSettings) -> tuple[dict, list[dict]]:
    """Fit the retrieval fusion on the collection's answerable questions, then run every
    question through retrieval and the reader. Returns (the fusion's file contents, one
    record per question with its candidate spans' features and labels)."""
    from rag.index.store import load_index
    from rag.ingest.incremental import ingest
    from rag.models.loading import embedder_checksum
    from rag.reader.base import make_reader
    from rag.retrieval.retriever import Retriever
    from rag_train.fusion import RetrievalQuestion, channel_records, fit_fusion

    work = Path(settings.work_dir)
    cached, cached_fusion = work / "records.json", work / "fusion.json"
    if cached.exists() and cached_fusion.exists():  # an earlier run in this work directory: fitting alone is quick
        log.info("reusing the collected candidates in %s (delete it to run the questions again)", cached)
        return (json.loads(cached_fusion.read_text(encoding="utf-8")),
                json.loads(cached.read_text(encoding="utf-8")))
    docs, questions = build_collection(settings)
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    fit_cfg = dataclasses.replace(cfg, index_dir=work / "index", corpus_dir=corpus)
    report = ingest([corpus], fit_cfg)
    log.info("fit collection: %d documents, %d chunks, %d questions", len(docs), report.chunks, len(questions))
    index = load_index(fit_cfg.index_dir, embedder_sha256=embedder_checksum(), milvus_uri=fit_cfg.milvus_uri)
    stored = Retriever(index, fit_cfg)
    answerable = [RetrievalQuestion(q.text, q.lang, q.group, f"{q.group}.txt", q.answers, q.origin)
                  for q in questions if q.kind == "answerable"]
    fusion, fusion_report = fit_fusion(channel_records(stored, answerable),
                                       fit_articles(q.group for q in questions), stored.fusion, LANGUAGES)
    fusion_data = dict(fusion.to_json(), fitted_by="rag fit-scorer (rag_train/fusion.py)", report=fusion_report)
    # the reader's candidates come from the fitted retrieval; they are its raw candidates, since
    # the scorer is what is being fitted (the stored one may not even load)
    retriever = Retriever(index, fit_cfg, embedder=stored.embedder, fusion=fusion)
    reader = make_reader(dataclasses.replace(fit_cfg, answer_scorer=False))
    reader.warm_up()
    records = []
    for q in tqdm(questions, desc="Questions", unit="q"):
        passages = retriever.run(q.text, fit_cfg.top_k)
        spans = reader.run(q.text, passages)
        rows = features(q.text, passages, spans)
        labels = [float(bool(q.answers) and s.passage.chunk.doc_id == f"{q.group}.txt"
                        and best_f1(s.text, list(q.answers)) >= 0.5) for s in spans]
        records.append(dict(question=q.text, lang=q.lang, origin=q.origin, group=q.group, kind=q.kind,
                            answers=list(q.answers), x=rows.tolist(), y=labels,
                            texts=[s.text for s in spans], reader=[s.score for s in spans]))
    cached_fusion.write_text(json.dumps(fusion_data, ensure_ascii=False), encoding="utf-8")
    cached.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return fusion_data, records


def _outcomes(records: list[dict], score) -> list[tuple[float, bool, bool]]:
    """Per question: (top confidence, answerable, top answer right) under ``score``."""
    out = []
    for r in records:
        if not r["y"]:
            out.append((0.0, bool(r["answers"]), False))
            continue
        s = score(r)
        best = int(np.argmax(s))
        out.append((float(s[best]), bool(r["answers"]), bool(r["y"][best])))
    return out


def threshold_table(outcomes, thresholds=(0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)) -> list[dict]:
    """At each threshold: answered and right shares of answerable questions, abstained share
    of unanswerable ones."""
    ans = [o for o in outcomes if o[1]]
    una = [o for o in outcomes if not o[1]]
    rows = []
    for t in thresholds:
        rows.append(dict(threshold=t,
                         answered=round(sum(c >= t for c, _, _ in ans) / max(1, len(ans)), 3),
                         right=round(sum(c >= t and ok for c, _, ok in ans) / max(1, len(ans)), 3),
                         abstained=round(sum(c < t for c, _, _ in una) / max(1, len(una)), 3)))
    return rows


ABSTAIN_SHARE = 0.5  # the floors the threshold balances: abstain on at least this share of
ANSWER_SHARE = 0.85  # unanswerable questions while answering at least this share of answerable ones
LANGUAGES = ("zh", "en", "id")


def choose_threshold(outcomes, abstain: float = ABSTAIN_SHARE, answer: float = ANSWER_SHARE) -> float:
    """The threshold (0.01 steps) that meets both floors with the widest margin: the largest
    min(abstained − ``abstain``, answered − ``answer``), the lowest such one on ties.

    The lowest threshold that just reaches ``abstain`` (a simpler rule, measured) abstained
    on 0.52 of unanswerable questions of unseen articles on average and 0.37 in the worst of
    ten splits: a floor met only on the data that set it is met half the time.
    """
    unanswerable = [c for c, ok_q, _ in outcomes if not ok_q]
    answerable = [c for c, ok_q, _ in outcomes if ok_q]
    if not unanswerable:
        return 0.0
    best, chosen = -np.inf, 0.0
    for t in np.round(np.arange(0.0, 1.001, 0.01), 2):
        abstained = sum(c < t for c in unanswerable) / len(unanswerable)
        answered = sum(c >= t for c in answerable) / len(answerable) if answerable else 1.0
        margin = min(abstained - abstain, answered - answer)
        if margin > best + 1e-12:
            best, chosen = margin, float(t)
    return chosen


def fit(records: list[dict], seed: int = 3) -> tuple[AnswerScorer, dict]:
    """Fit on half of the articles; report on the other half (simpler scorings beside)."""
    fit_groups = fit_articles((r["group"] for r in records), seed)
    fit_half = [r for r in records if r["group"] in fit_groups]
    report_half = [r for r in records if r["group"] not in fit_groups]
    scorer = fit_scorer([(np.asarray(r["x"]).reshape(-1, len(FEATURES)), np.asarray(r["y"])) for r in fit_half])
    scored = lambda r: scorer.probabilities(np.asarray(r["x"]))  # noqa: E731
    # beside it, for comparison: ranking by the calibrated pointwise model alone (the scorer
    # before the choice model), and the reader's own confidence
    pointwise = lambda r: scorer.pointwise(np.asarray(r["x"]))  # noqa: E731
    reader_only = lambda r: np.asarray(r["reader"])  # noqa: E731
    report = dict(candidates=sum(len(r["y"]) for r in fit_half),
                  questions=dict(fit=len(fit_half), report=len(report_half)),
                  weights=dict(zip(FEATURES, [round(w, 3) for w in scorer.weights])),
                  choice=dict(zip(FEATURES, [round(w, 3) for w in scorer.choice])),
                  calibration=dict(scale=round(scorer.scale, 3), shift=round(scorer.shift, 3)))
    for name, score in (("scorer", scored), ("pointwise", pointwise), ("reader_only", reader_only)):
        outcomes = _outcomes(report_half, score)
        part = dict(thresholds=threshold_table(outcomes), reliability=reliability([(c, ok) for c, _, ok in outcomes]))
        for lang in LANGUAGES:
            part[f"thresholds_{lang}"] = threshold_table(_outcomes([r for r in report_half if r["lang"] == lang], score))
        human = [r for r in report_half if r.get("origin") == "human"]
        if human:
            part["thresholds_human_english"] = threshold_table(_outcomes(human, score))
        for kind in ("absent", "cut"):
            sub = [r for r in report_half if r["kind"] in (kind, "answerable")]
            part[f"thresholds_{kind}"] = threshold_table(_outcomes(sub, score))
        part["fit_thresholds"] = threshold_table(_outcomes(fit_half, score))
        part["threshold"] = t = choose_threshold(_outcomes(fit_half, score))
        part["at_threshold"] = threshold_table(outcomes, thresholds=(t,))[0]
        report[name] = part
    return scorer, report


def save(scorer: AnswerScorer, report: dict, weights_dir: Path, runtime: str) -> Path:
    """Write the scorer and its report into ``reader.json`` under the runtime it was fitted with."""
    from rag.reader.weights import META_FILE as META

    path = Path(weights_dir) / META
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.setdefault("runtimes", {}).setdefault(runtime, {})
    meta["runtimes"][runtime]["answer_scorer"] = dict(scorer.to_json(), threshold=report["scorer"]["threshold"])
    meta["runtimes"][runtime]["answer_scorer_report"] = report
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path


def fit_scorer(questions: list[tuple[np.ndarray, np.ndarray]]) -> AnswerScorer:
    """Fit the choice and pointwise models on all candidates, then the calibration on each
    question's chosen one. ``questions``: (feature rows, 0/1 labels) per question."""
    x = np.vstack([rows for rows, _ in questions if len(rows)])
    y = np.concatenate([labels for rows, labels in questions if len(rows)])
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std < 1e-9, 1.0, std)
    w, b = fit_logistic((x - mean) / std, y)
    choice = fit_choice([((rows - mean) / std, labels) for rows, labels in questions],
                        hint="is the reader's weights folder the one meant?")
    scorer = AnswerScorer(FEATURES, tuple(mean.tolist()), tuple(std.tolist()), tuple(w.tolist()), b,
                          choice=tuple(choice.tolist()))
    tops, right = [], []
    for rows, labels in questions:
        if len(rows):
            best = int(np.argmax(scorer.choice_scores(rows)))
            tops.append(scorer.logits(rows)[best])
            right.append(labels[best])
    (scale,), shift = fit_logistic(np.asarray(tops)[:, None], np.asarray(right, dtype=float), l2=0.0)
    return replace(scorer, scale=float(scale), shift=shift)
