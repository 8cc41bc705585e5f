"""The conversation evaluation: hand-written dialogues (``data/dialogues/dialogues.jsonl``) over the
bundled corpus and articles of the training-data folder, all in one index.

Each dialogue is 2–4 turns; every follow-up has its gold answers and its fully written-out form.
Every follow-up is asked three ways: with the conversation before it (the earlier answers are the
system's own, as in the app), alone, and written out alone (the ceiling). Stand-alone questions are
also asked after an unrelated conversation: they must be read, and answered, exactly as without it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from rag.config import PROJECT_ROOT, Config
from rag.evaluation import best_f1, normalize_answer

log = logging.getLogger(__name__)

DIALOGUES = PROJECT_ROOT / "data" / "dialogues" / "dialogues.jsonl"
PARAGRAPHS = 6  # the first paragraphs of each article make its document
# other articles of the same files join the index (their first paragraphs), so that a follow-up asked
# alone meets as many wrong places to answer from as in a real collection
DISTRACTORS = {"squad11_dev_en": 40, "cmrc2018_dev": 30, "DRCD_dev": 15, "squad11_dev_id": 30}
DISTRACTOR_PARAGRAPHS = 2
HIT = 0.5  # a top answer with F1 ≥ this against a gold answer is a hit (as ``rag eval``)


@dataclass(frozen=True)
class Dialogue:
    id: str
    turns: list[dict]  # {"q", "lang", "a": gold answers, "full": written-out form (follow-ups)}
    docs: tuple[str, ...] = ()  # "source:title" of the articles it asks about (none: the bundled corpus)


def read_dialogues(path: Path = DIALOGUES) -> list[Dialogue]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            d = json.loads(line)
            if len(d["turns"]) < 2 or any("full" not in t for t in d["turns"][1:]):
                raise ValueError(f"{path}:{n}: a dialogue needs 2 or more turns, each follow-up its \"full\" form")
            out.append(Dialogue(d["id"], d["turns"], tuple(d.get("docs", ()))))
    return out


def _article_paragraphs(data_dir: Path, source: str, title: str) -> list[str]:
    """The paragraphs of article ``title`` in ``<data_dir>/<source>.json`` (SQuAD format). The
    parallel translations title their paragraphs otherwise: they are found by the English article's
    question ids."""
    path = Path(data_dir) / f"{source}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: pass the training-data folder with --data")
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    found = [p["context"] for a in data if a.get("title") == title for p in a["paragraphs"]]
    if not found and source != "squad11_dev_en":
        english = json.loads((Path(data_dir) / "squad11_dev_en.json").read_text(encoding="utf-8"))["data"]
        order = {q["id"]: i for a in english if a["title"] == title
                 for i, p in enumerate(a["paragraphs"]) for q in p["qas"]}
        placed = [(min(order[q["id"]] for q in p["qas"] if q["id"] in order), p["context"])
                  for a in data for p in a["paragraphs"] if any(q["id"] in order for q in p["qas"])]
        found = [text for _, text in sorted(placed)]
    if not found:
        raise ValueError(f"no article titled {title!r} in {path}")
    return found[:PARAGRAPHS]


def build_corpus(dialogues: list[Dialogue], data_dir: Path, folder: Path, corpus_dir: Path) -> Path:
    """The bundled corpus and every article the dialogues name, one text file each, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in sorted(Path(corpus_dir).glob("*.txt")):
        (folder / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    named = sorted({d for dl in dialogues for d in dl.docs})
    for n, ref in enumerate(named):
        source, title = ref.split(":", 1)
        _write(folder / f"article_{n:02d}.txt", title, _article_paragraphs(data_dir, source, title))
    asked = {ref.split(":", 1)[1] for ref in named}
    for source, count in DISTRACTORS.items():
        path = Path(data_dir) / f"{source}.json"
        if not path.is_file():
            continue
        articles = [a for a in json.loads(path.read_text(encoding="utf-8"))["data"] if a.get("title") not in asked]
        for n, a in enumerate(articles[:count]):
            _write(folder / f"other_{source}_{n:02d}.txt", a.get("title", ""),
                   [p["context"] for p in a["paragraphs"][:DISTRACTOR_PARAGRAPHS]])
    return folder


def _write(path: Path, title: str, paragraphs: list[str]) -> None:
    path.write_text(title.replace("_", " ") + "\n\n" + "\n\n".join(paragraphs), encoding="utf-8")


def _top(result) -> tuple[str, float]:
    return (result.answers[0].text, round(result.answers[0].score, 3)) if result.answers else ("", 0.0)


def _hit(result, golds: list[str]) -> float:
    text, _ = _top(result)
    return float(bool(text) and best_f1(text, golds) >= HIT)


def evaluate_dialogues(qa, dialogues: list[Dialogue]) -> dict:
    """Follow-up hit with history / alone / written out, by language and switch; stand-alone questions
    after an unrelated history; how often the reading equals the written-out form."""
    rows = []
    for dl in dialogues:
        questions, answers = [], []
        for i, turn in enumerate(dl.turns):
            with_history = qa.run(turn["q"], history=questions, answers=answers)
            if i:
                alone, full = qa.run(turn["q"]), qa.run(turn["full"])
                read = with_history.understood_as or turn["q"]
                rows.append(dict(dialogue=dl.id, lang=turn.get("lang", "?"),
                                 switched=turn.get("lang") != dl.turns[0].get("lang"),
                                 question=turn["q"], full=turn["full"], understood_as=with_history.understood_as,
                                 read_as_full=normalize_answer(read) == normalize_answer(turn["full"]),
                                 history=_hit(with_history, turn["a"]), alone=_hit(alone, turn["a"]),
                                 ceiling=_hit(full, turn["a"]), answer=_top(with_history)[0]))
            questions.append(turn["q"])
            answers.append(_top(with_history)[0])
    standalone = []
    for n, dl in enumerate(dialogues):
        other = dialogues[(n + len(dialogues) // 2) % len(dialogues)]  # another document's conversation
        first = dl.turns[0]["q"]
        after = qa.run(first, history=[t["q"] for t in other.turns])
        standalone.append(dict(dialogue=dl.id, question=first, unchanged=after.understood_as is None
                               and _top(after) == _top(qa.run(first)), understood_as=after.understood_as))
    return dict(followups=_summary(rows), standalone=dict(
        n=len(standalone), unchanged=round(sum(s["unchanged"] for s in standalone) / len(standalone), 3),
        changed=[s for s in standalone if not s["unchanged"]]), rows=rows)


def _summary(rows: list[dict]) -> dict:
    def agg(sel):
        mean = lambda k: round(sum(r[k] for r in sel) / len(sel), 3) if sel else None  # noqa: E731
        return dict(n=len(sel), history=mean("history"), alone=mean("alone"), ceiling=mean("ceiling"),
                    read_as_full=mean("read_as_full"))
    groups = defaultdict(list)
    for r in rows:
        groups[f"lang {r['lang']}"].append(r)
        groups["switched language" if r["switched"] else "same language"].append(r)
        if normalize_answer(r["question"]) != normalize_answer(r["full"]):
            groups["needing the history"].append(r)
    return dict(overall=agg(rows), **{k: agg(v) for k, v in sorted(groups.items())})


def run(cfg: Config, data_dir: Path, path: Path = DIALOGUES) -> dict:
    """Index the dialogues' documents in a scratch index and evaluate (``rag eval-dialogues``)."""
    from rag.ingest.incremental import ingest
    from rag.pipeline import QA

    dialogues = read_dialogues(path)
    with tempfile.TemporaryDirectory(prefix="rag-dialogues-") as tmp:
        folder = build_corpus(dialogues, data_dir, Path(tmp) / "docs", cfg.corpus_dir)
        scratch = replace(cfg, index_dir=Path(tmp) / "index")
        report = ingest([folder], scratch)
        log.info("dialogue corpus: %d documents, %d chunks", len(report.added), report.chunks)
        qa = QA(scratch).warm_up()
        return evaluate_dialogues(qa, dialogues)
