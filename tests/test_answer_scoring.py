"""The answer scorer: its features, its fit, and the held-out collection it is fitted on."""

from __future__ import annotations

import dataclasses
import json
import random
import re

import numpy as np
import pytest

from rag.answer.scorer import (
    FEATURES,
    AnswerScorer,
    context_match,
    echo,
    expected_type,
    features,
    question_terms,
    type_agreement,
)
from rag.errors import ModelError
from rag.evaluation import reliability
from rag_train.scorer import (
    FitSettings,
    build_collection,
    choose_threshold,
    fit_scorer,
    threshold_table,
)
from rag_train.sources import load_source, split_heldout


@pytest.mark.parametrize("question, kind", [
    ("How long did she stay at the lab?", "duration"),
    ("周伯文是哪一年出任副总裁的?", "time"),
    ("Kapan dia keluar dari Baidu?", "time"),
    ("How many people left?", "number"),
    ("谁邀请他回国?", "person"),
    ("Siapa pendiri Aibee?", "person"),
    ("What book did he write?", None),
])
def test_expected_type_in_three_languages(question, kind):
    assert expected_type(question) == kind


def test_type_agreement():
    assert type_agreement("duration", "兩年半") == (1.0, 0.0)
    assert type_agreement("duration", "16 years") == (1.0, 0.0)
    assert type_agreement("time", "2017年9月") == (1.0, 0.0)
    assert type_agreement("time", "复旦大学") == (0.0, 1.0)
    assert type_agreement("person", "2016年") == (0.0, 1.0)
    assert type_agreement(None, "anything") == (0.0, 0.0)


def test_echo_sees_a_name_in_pinyin_and_in_characters():
    assert echo("Who invited Qi Yuan to Alibaba?", "漆远") == 1.0
    assert echo("Who invited Qi Yuan to Alibaba?", "王坚") == 0.0
    assert echo("漆远是谁邀请的?", "漆远") == 1.0


def test_context_match_crosses_languages():
    text = "马维英在微软亚洲研究院工作了16年,之后加入字节跳动。另一段说的是别的事情,与此无关的内容很长很长。"
    start = text.index("16年")
    terms = question_terms("How long did Ma Weiying work at Microsoft Research Asia?")
    near = context_match(terms, text, start, start + 3)
    far_text = "无关内容" * 40 + text
    far = context_match(terms, far_text, 10, 13)
    assert near > 0.5 > far
    assert context_match(question_terms("马维英在微软工作了多久?"), text, start, start + 3) > 0.5


def test_the_answer_beside_the_asked_about_name_is_nearer_its_anchor():
    from rag.ingest.chunks import Chunk
    from rag.reader.base import Span
    from rag.retrieval.retriever import Passage

    text = "他们都在微軟亞洲研究院待的很久:張亞勤15年、王堅9年、張宏江12年以及馬維英16年,這與今天不同。"
    passage = Passage(0, Chunk("d0", text, 0, len(text), 0, len(text)), 1.0, 0.8, 1.0, text)
    spans = [Span(passage, text.index(a), text.index(a) + len(a), 0.5) for a in ("15年", "16年")]
    column = FEATURES.index("anchor_distance")
    for question in ("How long did Ma Weiying stay at Microsoft Research Asia?", "马维英在微软亚洲研究院待了多久？"):
        far, near = features(question, [passage], spans)[:, column]
        assert near == 0.0 < far
    # nothing to anchor to: every span is as far as can be
    assert len(set(features("How long?", [passage], spans)[:, column])) == 1


def test_a_passage_without_the_names_an_english_question_asks_about_is_marked():
    from rag.ingest.chunks import Chunk
    from rag.reader.base import Span
    from rag.retrieval.retriever import Passage

    texts = ["马维英在微软亚洲研究院工作了16年。", "王刚在阿里巴巴工作了4年。"]
    passages = [Passage(i, Chunk(f"d{i}", t, 0, len(t), 0, len(t)), 1.0, 0.8, 1.0, t) for i, t in enumerate(texts)]
    spans = [Span(p, p.chunk.text.index("工作了") + 3, p.chunk.text.index("年") + 1, 0.5) for p in passages]
    column = FEATURES.index("name_absent")
    english = features("How long did Ma Weiying work at Microsoft?", passages, spans)[:, column]
    assert english.tolist() == [0.0, 1.0]
    assert features("How long did Li Na work at Microsoft?", passages, spans)[:, column].tolist() == [1.0, 1.0]
    # a Chinese question is compared word by word (passage_match), not by names
    assert features("马维英工作了多久?", passages, spans)[:, column].tolist() == [0.0, 0.0]


def test_fit_recovers_the_signal_and_calibrates_the_top_candidate():
    rng = np.random.default_rng(0)
    questions = []
    for _ in range(400):
        x = rng.normal(size=(6, len(FEATURES)))
        truth = 2.0 * x[:, 0] - 1.5 * x[:, 3]  # only "margin" and "rank" matter
        y = (rng.random(6) < 1 / (1 + np.exp(-(truth - 3)))).astype(float)
        questions.append((x, y))
    scorer = fit_scorer(questions)
    for weights in (scorer.weights, scorer.choice):  # the pointwise and the choice model
        w = np.abs(weights)
        assert w[0] > 3 * np.delete(w, [0, 3]).max() and w[3] > 3 * np.delete(w, [0, 3]).max()
        assert weights[0] > 0 > weights[3]
    # the chosen candidate's confidence: mean predicted ≈ share right
    tops = [(scorer.probabilities(x).max(), y[int(np.argmax(scorer.choice_scores(x)))]) for x, y in questions]
    assert abs(np.mean([p for p, _ in tops]) - np.mean([r for _, r in tops])) < 0.05
    # confidences follow the choice order: the chosen candidate has the highest
    for x, _ in questions[:20]:
        assert np.array_equal(np.argsort(-scorer.probabilities(x)), np.argsort(-scorer.choice_scores(x)))
    again = AnswerScorer.from_json(json.loads(json.dumps(scorer.to_json())))
    assert np.allclose(again.probabilities(questions[0][0]), scorer.probabilities(questions[0][0]))


def test_a_scorer_fitted_on_other_features_is_refused():
    data = AnswerScorer(FEATURES[:-1], (0,) * 13, (1,) * 13, (0,) * 13, 0.0).to_json()
    with pytest.raises(ModelError, match="rag fit-scorer"):
        AnswerScorer.from_json(data)


def _squad(path, n_articles=150, seed=0):
    rng = random.Random(seed)
    data = []
    for a in range(n_articles):
        sentences = [f"第{a}篇第{s}句讲的是编号{a * 10 + s}号事物的历史。" for s in range(6)]
        context = "".join(sentences)
        qas = []
        for s in rng.sample(range(6), 3):
            answer = f"编号{a * 10 + s}号"
            qas.append(dict(id=f"q{a}-{s}", question=f"第{a}篇第{s}句讲的是什么?",
                            answers=[dict(text=answer, answer_start=context.index(answer))]))
        data.append(dict(id=f"A{a}", title=f"t{a}", paragraphs=[dict(context=context, qas=qas)]))
    path.write_text(json.dumps(dict(data=data), ensure_ascii=False), encoding="utf-8")


def _squad_id(path, n_articles=60):
    """Indonesian passages, sentences ending with a full stop, as FacQA's."""
    data = []
    for a in range(n_articles):
        context = " ".join(f"Kalimat {s} artikel {a} tentang benda nomor {a * 10 + s}." for s in range(6))
        qas = [dict(id=f"i{a}-{s}", question=f"Kalimat {s} artikel {a} tentang apa?",
                    answers=[dict(text=f"nomor {a * 10 + s}", answer_start=context.index(f"nomor {a * 10 + s}."))])
               for s in (1, 3, 5)]
        data.append(dict(id=f"B{a}", paragraphs=[dict(context=context, qas=qas)]))
    path.write_text(json.dumps(dict(data=data)), encoding="utf-8")


def test_the_fit_collection_asks_no_question_that_only_the_open_corpus_should(tmp_path):
    """The hand-written English over DRCD test and FacQA held-out text measures the open corpus
    (``rag eval-open``) alone: the scorer's fit collection, built from the project's own data, holds none."""
    from rag_train.data import human_english_dir
    from rag_train.open_eval import HUMAN_SPLIT

    settings = FitSettings(qa_dir=tmp_path, work_dir=tmp_path / "work", sources=(("facqa", 3), ("drcd_dev", 3)),
                           human_english=human_english_dir())
    docs, questions = build_collection(settings)
    assert docs and {q.lang for q in questions} >= {"id", "zh"}
    assert not [q for q in questions if q.origin == "human"]
    assert {s for s, split in HUMAN_SPLIT.items() if split == "heldout"} == {"cmrc2018"}


def test_the_fit_collection_keeps_its_promises(tmp_path):
    _squad(tmp_path / "cmrc2018_dev.json")
    _squad(tmp_path / "cmrc2018_trial.json", n_articles=10, seed=1)
    _squad_id(tmp_path / "facqa.json")
    held = split_heldout(load_source(tmp_path, "cmrc2018"))[1]
    human = tmp_path / "human"
    human.mkdir()
    (human / "cmrc2018_heldout_en.tsv").write_text(
        "".join(f"{e.qid}\tWhat does hand-written question {i} ask?\n" for i, e in enumerate(held)), encoding="utf-8")
    settings = FitSettings(qa_dir=tmp_path, work_dir=tmp_path / "work", absent=0.3, cut=0.5,
                           sources=(("cmrc2018", 5), ("facqa", 3)), human_english=human)
    docs, questions = build_collection(settings)
    assert build_collection(settings) == (docs, questions)  # deterministic
    for lang in ("zh", "en", "id"):
        assert {q.kind for q in questions if q.lang == lang} == {"answerable", "absent", "cut"}, lang
    for q in questions:
        doc = docs.get(f"{q.group}.txt")
        if q.kind == "absent":
            assert doc is None
        elif q.kind == "cut":
            assert doc is not None and not q.answers
            if q.lang == "zh":  # the question names the sentence its answer was in: just that one is gone
                a, k = map(int, re.match(r"第(\d+)篇第(\d+)句", q.text).groups())
                assert f"编号{a * 10 + k}号" not in doc
                assert sum(f"第{a}篇第{j}句" in doc for j in range(6)) == 5
            elif q.lang == "id":
                k, a = map(int, re.match(r"Kalimat (\d+) artikel (\d+)", q.text).groups())
                assert f"nomor {a * 10 + k}." not in doc
                assert sum(f"Kalimat {j} artikel {a} " in doc for j in range(6)) == 5
        else:
            assert doc is not None and all(a in doc for a in q.answers)
    # English renderings only of the Chinese questions, and the hand-written ones beside them
    assert {q.group.split("-")[0] for q in questions if q.lang == "en"} == {"cmrc2018"}
    own = {(q.group, q.kind, q.answers) for q in questions if q.origin == "source" and q.lang == "zh"}
    written = [q for q in questions if q.origin == "human"]
    assert len(written) == len([q for q in questions if q.origin == "rendered"]) > 0
    assert all(q.lang == "en" and q.text.startswith("What does hand-written") for q in written)
    assert {(q.group, q.kind, q.answers) for q in written} == own
    assert not any(q.origin == "human" for q in build_collection(
        dataclasses.replace(settings, human_english=None))[1])
    assert {q.group.split("-")[0] for q in questions if q.lang == "id"} == {"facqa"}
    assert sum(name.startswith("train-cmrc2018-") for name in docs) == 5
    assert sum(name.startswith("train-facqa-") for name in docs) == 3
    held_groups = {q.group for q in questions}
    assert not any(name[len("train-"):-4] in held_groups for name in docs if name.startswith("train-"))


def test_threshold_table_and_reliability():
    outcomes = [(0.9, True, True), (0.6, True, False), (0.2, True, True), (0.05, False, False), (0.7, False, False)]
    rows = {r["threshold"]: r for r in threshold_table(outcomes, thresholds=(0.0, 0.5))}
    assert rows[0.0] == dict(threshold=0.0, answered=1.0, right=round(2 / 3, 3), abstained=0.0)
    assert rows[0.5] == dict(threshold=0.5, answered=round(2 / 3, 3), right=round(1 / 3, 3), abstained=0.5)
    bins = reliability((c, ok) for c, _, ok in outcomes)
    assert sum(b["n"] for b in bins) == len(outcomes)


def test_the_threshold_meets_both_abstention_floors_with_the_widest_margin():
    unanswerable = [(c, False, False) for c in (0.01, 0.03, 0.05, 0.2)]
    answerable = [(c, True, True) for c in (0.04, 0.5, 0.9)]
    t = choose_threshold(unanswerable + answerable, abstain=0.5, answer=0.6)
    # 0.04 and 0.05 just abstain on half (margin 0); from 0.06 to 0.2 it abstains on 3/4 and
    # answers 2/3: min(abstained − 0.5, answered − 0.6) = 0.067 is the widest, lowest first
    assert t == 0.06
    row = threshold_table(unanswerable + answerable, thresholds=(t,))[0]
    assert row["abstained"] == 0.75 and row["answered"] == round(2 / 3, 3)
    # asked to answer 0.95, it stops where the first answerable question would be lost
    assert choose_threshold(unanswerable + answerable, abstain=0.5, answer=0.95) == 0.04
    assert choose_threshold(answerable) == 0.0  # nothing to abstain on: answer everything
