"""The open-corpus evaluation: many articles no model was trained or tuned on, in one index, their
questions asked through ``rag ask --json -`` as a user would.

- DRCD test (traditional-Chinese Wikipedia; the reader trains on DRCD's dev file, whose articles share
  many titles with the test file's but none of its paragraphs): each sampled article is one document
  (its paragraphs in order); its questions in Chinese, rendered into English
  (``rag_train.data.cross_lingual``) and, for the default sample, hand-written in English
  (``data/human-en/drcd_test_en.tsv``), so English questions meet Chinese text;
- FacQA held-out passages (Indonesian news; the reader's held-out split): one document each; its
  questions in Indonesian and, for the default sample, hand-written in English
  (``data/human-en/facqa_eval_en.tsv``), so English questions meet Indonesian text;
- CMRC 2018 held-out articles and their hand-written English questions (``data/human-en``), when the
  CMRC files are found (``--data``);
- a share of sampled articles is left out of the index: their questions are unanswerable.

Each question is scored with ``rag.evaluation`` (EM / F1 with mixed segmentation, hit, citation in
the right document, answered / abstained) and reported per question language and per source.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rag.config import PROJECT_ROOT, Config
from rag.evaluation import reliability, score_item, summarise
from rag_train.data import cross_lingual, human_english, human_english_dir
from rag_train.sources import QAExample, load_source, load_squad, split_heldout

log = logging.getLogger(__name__)

# which questions of a source have hand-written English ones (``data/human-en/<source>_<split>_en.tsv``)
# cmrc2018_heldout_en.tsv is also asked by `rag fit-scorer`; the DRCD and FacQA files only here
HUMAN_SPLIT = {"cmrc2018": "heldout", "drcd": "test", "facqa": "eval"}


@dataclass(frozen=True)
class OpenEvalSettings:
    qa_dir: Path | None = None  # folder with CMRC 2018 files (optional)
    articles: int = 40  # DRCD test articles sampled
    passages: int = 60  # FacQA held-out passages sampled
    cmrc_articles: int = 20  # CMRC held-out articles sampled (when found)
    per_article: int = 6  # questions kept per article (and each one's English rendering)
    absent: float = 0.15  # share of sampled articles left out of the index
    seed: int = 2026


def _documents(examples: list[QAExample]) -> dict[str, tuple[str, list[QAExample]]]:
    """Article id → (its text: distinct paragraphs in order, its questions)."""
    paragraphs: dict[str, list[str]] = defaultdict(list)
    questions: dict[str, list[QAExample]] = defaultdict(list)
    for e in examples:
        if e.context not in paragraphs[e.group]:
            paragraphs[e.group].append(e.context)
        questions[e.group].append(e)
    return {g: ("\n\n".join(paragraphs[g]), questions[g]) for g in paragraphs}


def build(settings: OpenEvalSettings) -> tuple[dict[str, str], list[dict]]:
    """(documents by file name, question items in ``rag eval``'s format)."""
    rng = random.Random(settings.seed)
    # DRCD's test file only (its dev file is left for experiments)
    parts = [("drcd", load_squad(PROJECT_ROOT / "data" / "qa-extra" / "DRCD_test.json"), settings.articles)]
    parts.append(("facqa", split_heldout(load_source(settings.qa_dir or Path("."), "facqa"))[1], settings.passages))
    if settings.qa_dir and (cmrc := load_source(settings.qa_dir, "cmrc2018")):
        parts.append(("cmrc2018", split_heldout(cmrc)[1], settings.cmrc_articles))
    docs, items = {}, []
    for source, examples, n in parts:
        by_article = _documents(examples)
        chosen = sorted(by_article)
        rng.shuffle(chosen)
        chosen = chosen[:n]
        absent = set(chosen[: int(len(chosen) * settings.absent)])
        human = human_english(human_english_dir(), source, HUMAN_SPLIT[source]) if source in HUMAN_SPLIT else {}
        for group in chosen:
            text, questions = by_article[group]
            name = f"{source}-{group}.txt"
            if group not in absent:
                docs[name] = text
            picked = rng.sample(questions, min(settings.per_article, len(questions)))
            rendered = {e.qid[:-3]: e.question for e in cross_lingual(picked, seed=settings.seed)}
            for e in picked:
                answers = [] if group in absent else [e.answer_text]
                kind = "unanswerable" if group in absent else "answerable"
                base = dict(answers=answers, docs=[name] if answers else [], source=source, kind=kind)
                lang = "id" if source == "facqa" else e.lang  # FacQA's questions are Indonesian (langdetect slips)
                items.append(dict(base, id=e.qid, lang=lang, question=e.question, origin="source"))
                if e.qid in rendered:
                    items.append(dict(base, id=e.qid + "-en", lang="en", question=rendered[e.qid], origin="rendered"))
                if e.qid in human:
                    items.append(dict(base, id=e.qid + "-human", lang="en", question=human[e.qid], origin="human"))
    return docs, items


def run(cfg: Config, settings: OpenEvalSettings, work: Path) -> dict:
    """Index the collection in ``work``, ask every question through ``rag ask --json -``, score."""
    docs, items = build(settings)
    corpus, index = work / "corpus", work / "index"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAG_HOME=str(cfg.home))
    log.info("open-corpus evaluation: %d documents, %d questions; indexing", len(docs), len(items))
    base = [sys.executable, "-m", "rag.cli", "-q"]
    subprocess.run(base + ["ingest", str(corpus), "--index", str(index)], env=env, check=True)
    log.info("asking %d questions through `rag ask --json -`", len(items))
    lines = "".join(json.dumps(dict(id=i, question=it["question"]), ensure_ascii=False) + "\n"
                    for i, it in enumerate(items))
    out = subprocess.run(base + ["ask", "--json", "-", "--index", str(index), "--in-process"], env=env, check=True,
                         input=lines.encode("utf-8"), capture_output=True).stdout.decode("utf-8")
    results = {r["id"]: r for r in map(json.loads, out.splitlines())}
    rows = [(it, score_item(it, results[i])) for i, it in enumerate(items)]
    report = dict(documents=len(docs), questions=len(items), overall=summarise(rows)["overall"], by_lang={},
                  by_source={}, by_origin={})
    for key, field in (("by_lang", "lang"), ("by_source", "source"), ("by_origin", "origin")):
        for value in sorted({it[field] for it, _ in rows}):
            report[key][value] = summarise([r for r in rows if r[0][field] == value])["overall"]
    for key, field in (("by_source_lang", "lang"), ("by_source_origin", "origin")):
        report[key] = {f"{s}/{v}": summarise([r for r in rows if (r[0]["source"], r[0][field]) == (s, v)])["overall"]
                       for s, v in sorted({(it["source"], it[field]) for it, _ in rows})}
    top = [(results[i]["answers"][0]["score"], m["hit"] > 0) for i, (_, m) in enumerate(rows) if results[i]["answers"]]
    report["reliability"] = reliability(top)
    return report
