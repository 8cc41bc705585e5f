"""The reader's training sources: SQuAD-format files, found by name, each split by article.

Each source is split into training and held-out articles on its own, so adding a source never
moves another's held-out articles (on which the reader and its scorer are measured) into training.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

# the basic Han block only (rag.text.language.CJK adds extension A and compatibility forms): the
# training data was made with this one, so the sources and their augmentation share it
CJK_BASIC = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class QAExample:
    qid: str
    question: str
    context: str
    answer_text: str  # "" for unanswerable
    answer_start: int  # -1 for unanswerable
    lang: str  # language of the question
    group: str  # article id: the unit of the held-out split


def load_squad(path: Path) -> list[QAExample]:
    """Examples from a SQuAD-format file; the first answer is the training target, and a SQuAD 2.0
    question marked impossible (or with no answer) is an unanswerable example."""
    from rag.text.language import detect_language

    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        group = str(article.get("id", article.get("title", "")))
        for para in article["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                question = qa["question"].strip()
                lang = "zh" if CJK_BASIC.search(question) else detect_language(question)[:2]
                if qa.get("is_impossible") or not qa["answers"]:
                    out.append(QAExample(qa["id"], question, ctx, "", -1, lang, group))
                    continue
                ans = qa["answers"][0]
                if ctx[ans["answer_start"]:ans["answer_start"] + len(ans["text"])] != ans["text"]:
                    found = ctx.find(ans["text"])
                    if found < 0:
                        continue
                    ans = dict(ans, answer_start=found)
                out.append(QAExample(qa["id"], question, ctx, ans["text"], ans["answer_start"], lang, group))
    return out


def split_heldout(examples: list[QAExample], fraction: float = 0.1, seed: int = 13):
    """Split by article so held-out passages are never seen in training."""
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    held = set(groups[: max(1, int(len(groups) * fraction))])
    return [e for e in examples if e.group not in held], [e for e in examples if e.group in held]


# SQuAD-format sources, each split into train / held-out by article on its own (so adding a
# source never moves another's held-out articles into training); files are looked for in the
# given data folder, then in the project's data/qa-extra (see its MANIFEST.md)
# "drcd_dev" is DRCD's dev file alone (the shipped reader trains on it), leaving its test file to
# `rag eval-open`; "drcd" takes both files and so reaches the open corpus's articles.
# The training splits of CMRC 2018, DRCD and SQuAD are read when a data folder holds them (this
# machine's public-repository snapshots leave out files that large); SQuAD 2.0's training file holds
# every 1.1 question and unanswerable ones besides, so reading both would count questions twice.
SOURCES = {"cmrc2018": ("cmrc2018_dev.json", "cmrc2018_trial.json"),
           "cmrc2018_train": ("cmrc2018_train.json",),
           "drcd": ("DRCD_dev.json", "DRCD_test.json"),
           "drcd_dev": ("DRCD_dev.json",),
           "drcd_train": ("DRCD_training.json",),
           "facqa": ("facqa.json",),
           "squad": ("train-v1.1.json",),
           "squad2": ("train-v2.0.json",)}
# what no ``names`` reads (those found): each file once
ALL_SOURCES = ("cmrc2018", "cmrc2018_train", "drcd", "drcd_train", "facqa", "squad2")


def load_source(qa_dir: Path, source: str) -> list[QAExample]:
    """Examples of one of ``SOURCES`` (empty when none of its files is found)."""
    from rag.config import PROJECT_ROOT

    paths = [next((d / n for d in (Path(qa_dir), PROJECT_ROOT / "data" / "qa-extra") if (d / n).is_file()), None)
             for n in SOURCES[source]]
    return [e for p in paths if p is not None for e in load_squad(p)]


def source_repeats(names: tuple[str, ...] | None) -> tuple[tuple[str, ...] | None, dict[str, int]]:
    """(source names, times each one's training examples are seen per epoch) from names that
    may carry a repeat: ``("cmrc2018", "facqa*2")`` → ``(("cmrc2018", "facqa"), {"facqa": 2})``."""
    if names is None:
        return None, {}
    plain, repeats = [], {}
    for name in names:
        base, star, times = name.partition("*")
        if star and not (times.isdigit() and int(times) >= 1):
            raise ValueError(f"training source '{name}': the repeat after '*' must be a whole number ≥ 1")
        plain.append(base)
        repeats[base] = int(times or 1)
    return tuple(plain), repeats


def check_sources(names: tuple[str, ...] | None, what: str = "training source(s)") -> tuple[str, ...] | None:
    """``names`` if each is one of ``SOURCES``, else a ValueError naming the unknown ones."""
    if unknown := set(names or ()) - set(SOURCES):
        raise ValueError(f"unknown {what} {sorted(unknown)}; known: {', '.join(SOURCES)}")
    return names


def load_sources(qa_dir: Path, names: tuple[str, ...] | None = None) -> dict[str, list[QAExample]]:
    """Examples of every source found (or of the ``names`` given, repeats ignored), by source name."""
    names = check_sources(source_repeats(names)[0])
    out = {source: examples for source in (names or ALL_SOURCES) if (examples := load_source(qa_dir, source))}
    if not out:
        files = dict.fromkeys(n for source in (names or ALL_SOURCES) for n in SOURCES[source])
        raise FileNotFoundError(f"no training data in {qa_dir}: expected SQuAD-format files {', '.join(files)}")
    return out


def split_sources(sources: dict[str, list[QAExample]], seed: int = 13,
                  repeats: dict[str, int] | None = None) -> tuple[list[QAExample], list[QAExample]]:
    """(train, held-out): each source split by article on its own; a source's training
    examples ``repeats[source]`` times over (its held-out ones once)."""
    train, held = [], []
    for name, examples in sources.items():
        t, h = split_heldout(examples, seed=seed)
        train += t * (repeats or {}).get(name, 1)
        held += h
    return train, held
