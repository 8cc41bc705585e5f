"""``rag fit-quotes``: when is a quote lookup's best match close enough to say "it comes from here"?

The parallel SQuAD files (the same paragraphs in English, Chinese and Indonesian) give fragments
with a known origin. An index holds paragraphs of some articles, each in one of the three
languages. Fragments *in* it: a paragraph's sentence in another language (a translation, found by
meaning) and a sentence with words left out and changed (a misremembered quote, found by overlap), and a clause
of a translated sentence (a piece pasted).
Fragments *not* in it: sentences of other articles, and of the same articles' paragraphs left out,
in all three languages. Each is looked up as the app does; a found fragment counts only when its
best match is in the right document. For an overlap, the threshold is the share that classifies the
fragments best; for a match by meaning, a logistic model of its score and its lead over the best
match in another document (``rag.answer.quotes.QuoteJudge``). Both go with their figures into
``models/quotes.json``.
"""

from __future__ import annotations

import json
import logging
import random
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.answer.quotes import EXACT, MEANING, OVERLAP, QuoteJudge, find_quote, rival
from rag.config import Config
from rag.text.language import CJK
from rag_train.linear import fit_logistic

log = logging.getLogger(__name__)

LANGS = ("en", "zh", "id")
_CLAUSE = re.compile(r"[,;:，；：、]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])|(?<=[。！？])")


def _paragraphs(data_dir: Path) -> dict[str, dict[str, list[dict[str, str]]]]:
    """English title → aligned paragraphs: each {lang: context} (joined through the question ids)."""
    by_qid: dict[str, dict[str, str]] = {}
    titles: dict[str, str] = {}
    for lang in LANGS:
        data = json.loads((Path(data_dir) / f"squad11_dev_{lang}.json").read_text(encoding="utf-8"))["data"]
        for article in data:
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    by_qid.setdefault(qa["id"], {})[lang] = para["context"]
                    if lang == "en":
                        titles[qa["id"]] = article["title"]
    articles: dict[str, dict[str, dict[str, str]]] = {}
    for qid, texts in by_qid.items():
        if qid in titles and len(texts) == len(LANGS):
            articles.setdefault(titles[qid], {}).setdefault(texts["en"], texts)
    return {title: list(paras.values()) for title, paras in sorted(articles.items())}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) >= 25]


def misremembered(sentence: str, rng: random.Random, loosely: bool) -> str:
    """A sentence as someone recalls it: one word (Chinese: character) left out and two neighbours
    swapped; ``loosely``: every fourth word left out as well."""
    units = list(sentence) if CJK.search(sentence) else sentence.split()
    if loosely:
        units = [u for i, u in enumerate(units) if i % 4 != 3]
    if len(units) > 6:
        del units[len(units) // 3]
        i = rng.randrange(len(units) // 2, len(units) - 1)
        units[i], units[i + 1] = units[i + 1], units[i]
    return ("" if CJK.search(sentence) else " ").join(units)


def build(data_dir: Path, folder: Path, articles: int, seed: int = 7) -> list[dict]:
    """Write the indexed paragraphs into ``folder``; the fragments to look up, each with ``doc`` (its
    document, or None when it is not in the index) and ``how`` it was made."""
    rng = random.Random(seed)
    titles = list(_paragraphs(data_dir).items())
    rng.shuffle(titles)
    indexed, outside = titles[:articles], titles[articles:2 * articles]
    fragments = []
    for a, (title, paras) in enumerate(indexed):
        rng.shuffle(paras)
        for p, texts in enumerate(paras[:3]):
            lang = LANGS[(a + p) % 3]
            name = f"{a:03d}-{p}-{lang}.txt"
            (folder / name).write_text(texts[lang], encoding="utf-8")
            other = LANGS[(a + p + 1 + rng.randrange(2)) % 3]
            if sentences(texts[other]):
                fragments.append(dict(text=rng.choice(sentences(texts[other])), doc=name, how=f"translation {other}"))
                # what people paste is as often a piece of a sentence: a clause of another one
                pieces = [c.strip() for c in _CLAUSE.split(rng.choice(sentences(texts[other]))) if len(c.strip()) >= 12]
                if pieces:
                    fragments.append(dict(text=rng.choice(pieces), doc=name, how=f"translated clause {other}"))
            if sentences(texts[lang]):
                loosely = bool(p % 2)
                fragments.append(dict(text=misremembered(rng.choice(sentences(texts[lang])), rng, loosely), doc=name,
                                      how=("loosely " if loosely else "") + f"misremembered {lang}"))
        for texts in paras[3:5]:  # paragraphs of the same article that are not indexed
            lang = rng.choice(LANGS)
            if sentences(texts[lang]):
                fragments.append(dict(text=rng.choice(sentences(texts[lang])), doc=None, how=f"same article {lang}"))
    for title, paras in outside:
        for texts in rng.sample(paras, min(3, len(paras))):
            lang = rng.choice(LANGS)
            if sentences(texts[lang]):
                fragments.append(dict(text=rng.choice(sentences(texts[lang])), doc=None, how=f"other article {lang}"))
    return fragments


def best_threshold(rows: list[tuple[float, bool]]) -> tuple[float, dict]:
    """The threshold (a score seen) with the most fragments classified right; its figures."""
    if not rows:
        return 1.0, dict(n=0)
    candidates = sorted({s for s, _ in rows}) + [1.01]
    def right(t):
        return sum((s >= t) == found for s, found in rows)
    t = max(candidates, key=lambda c: (right(c), c))
    shown = [found for s, found in rows if s >= t]
    return round(t, 4), dict(n=len(rows), found=sum(f for _, f in rows), accuracy=round(right(t) / len(rows), 3),
                             precision=round(sum(shown) / len(shown), 3) if shown else None,
                             recall=round(sum(shown) / max(1, sum(f for _, f in rows)), 3))


def fit(cfg: Config, data_dir: Path, articles: int = 20, work: Path | None = None) -> dict:
    from rag.ingest.incremental import ingest
    from rag.pipeline import QA

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(work or tmp)
        folder = root / "documents"
        folder.mkdir(parents=True, exist_ok=True)
        fragments = build(data_dir, folder, articles)
        cfg = replace(cfg, index_dir=root / "index")
        report = ingest([folder], cfg, progress=False)
        log.info("fit-quotes: %d documents indexed, %d fragments to look up", len(report.added) + len(report.unchanged),
                 len(fragments))
        qa = QA(cfg)
        qa.refresh()
        looked = []  # (fragment, its matches with raw scores)
        for f in fragments:
            matches = find_quote(qa.index, qa.retriever, f["text"], limit=5)
            if matches:
                looked.append((f, matches))
    def right(f, m) -> bool:
        return f["doc"] is not None and m.source == f["doc"]

    overlaps = [(ms[0].score, right(f, ms[0])) for f, ms in looked if ms[0].kind == OVERLAP]
    overlap, overlap_figures = best_threshold(overlaps)
    meaning = [(f, ms) for f, ms in looked if ms[0].kind == MEANING]
    x = np.array([[ms[0].score, ms[0].score - rival(ms[0], ms)] for _, ms in meaning])
    y = np.array([float(right(f, ms[0])) for f, ms in meaning])
    w, b = fit_logistic(x, y, l2=L2)
    judge = QuoteJudge(overlap, (float(w[0]), float(w[1]), b))
    by_how: dict[str, dict] = {}  # as judged: how often each kind of fragment is called close, and rightly
    for f, matches in looked:
        best = judge.judge(matches)
        best = max(best, key=lambda m: m.confidence)
        row = by_how.setdefault(f["how"].rsplit(" ", 1)[0], dict(n=0, close=0, close_and_right=0))
        row["n"] += 1
        row["close"] += best.close
        row["close_and_right"] += best.close and right(f, best)
    return dict(overlap=overlap, meaning=[round(v, 4) for v in judge.meaning],
                fitted_by="rag fit-quotes (rag_train/quotes.py)",
                report=dict(fragments=len(fragments), exact=sum(ms[0].kind == EXACT for _, ms in looked),
                            articles=articles, overlap=overlap_figures,
                            meaning=dict(n=len(y), found=int(y.sum()), **_cross_validated(x, y)),
                            by_fragment=by_how))


L2 = 0.01


def _cross_validated(x: np.ndarray, y: np.ndarray) -> dict:
    """Two-fold accuracy of the score alone (a threshold) and of score and lead (the fitted model)."""
    if len(y) < 4:
        return {}
    order = np.random.RandomState(0).permutation(len(y))
    folds = (order[: len(y) // 2], order[len(y) // 2:])
    out = {}
    for name, cols in (("accuracy_score_alone", [0]), ("accuracy_score_and_lead", [0, 1])):
        hits = 0
        for train, test in (folds, folds[::-1]):
            w, b = fit_logistic(x[train][:, cols], y[train], l2=L2)
            hits += int(((x[test][:, cols] @ w + b >= 0) == (y[test] > 0)).sum())
        out[name] = round(hits / len(y), 3)
    return out
