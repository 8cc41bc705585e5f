"""Retrieval fusion: its weights file, the channel columns, and fitting the weights."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rag.retrieval.fusion import CHANNELS, Fusion, FusionError
from rag.retrieval.retriever import Retriever
from rag.text.language import latin_name_tokens, tokenize
from rag_train.fusion import RetrievalQuestion, channel_records, fit_fusion, save_fusion


def test_shipped_fusion_loads_and_ranks_with_every_channel(cfg):
    fusion = Fusion.load(cfg.retrieval_fusion)
    assert set(fusion.weights) == set(CHANNELS)
    assert all(w > 0 for w in fusion.weights.values())


@pytest.mark.parametrize("content", [None, "not json", '{"weights": {"e5": 1.0}}',
                                     '{"weights": {"e5": NaN, "use": 1, "bm25": 1, "pinyin": 1, "translated": 1}}'])
def test_missing_or_broken_fusion_weights_say_what_to_do(cfg, built_index, tmp_path, content):
    path = tmp_path / "retrieval.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(FusionError, match="rag fit-scorer") as err:
        Retriever(built_index, dataclasses.replace(cfg, retrieval_fusion=path))
    assert str(path) in str(err.value)


def test_channel_columns_of_an_english_question_over_chinese_text(qa):
    cands = qa.retriever.candidates("Who invited Qi Yuan to return to China and join Alibaba?", 50)
    assert cands.columns.shape == (len(cands.ids), len(CHANNELS))
    chunks = qa.index.chunks
    pinyin = cands.columns[:, CHANNELS.index("pinyin")]
    best = chunks[cands.ids[int(np.argmax(pinyin))]].text
    assert "漆远" in best  # the name in pinyin found its characters
    assert pinyin.max() == pytest.approx(1.0)
    # the word channel barely speaks for a question whose words the Chinese index lacks
    assert cands.columns[:, CHANNELS.index("bm25")].max() < 0.5


def test_one_encoder_misreading_a_passage_does_not_veto_what_the_words_find(qa):
    from rag.retrieval.retriever import Z_FLOOR
    from rag.text.language import fold

    # a simplified question naming someone only a long, mixed-topic traditional passage names
    question = "贾佳亚在哪里工作过？"
    cands = qa.retriever.candidates(question, 50)
    dense = cands.columns[:, [CHANNELS.index("e5"), CHANNELS.index("use")]]
    assert dense.min() >= Z_FLOOR
    assert any("贾佳亚" in fold(p.chunk.text) for p in qa.retriever.run(question))


@pytest.mark.parametrize("text, tokens", [
    # Chinese right after Latin letters or digits is still cut into words
    ("AI Lab成立于2016年", ["ai", "lab", "成立", "于", "2016", "年"]),
    ("騰訊和字節的AI Lab", ["腾讯", "和", "字节", "的", "ai", "lab"]),  # folded to simplified
    ("don't e5-small 3.5 U.S.", ["don't", "e5-small", "3.5", "u.s"]),
])
def test_word_tokens_split_latin_from_chinese(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize("text, tokens", [
    ("Sebelum Ma Weiying dan Li Lei pergi", ["sebelumma", "maweiying", "sebelummaweiying", "lilei"]),
    ("ByteDance hired Wang Gang-Li", ["wanggang", "gangli", "wanggangli"]),
    ("王刚 and lower case words", []),
])
def test_latin_full_names_are_name_tokens(text, tokens):
    assert latin_name_tokens(text) == tokens


def test_pinyin_of_chinese_runs_is_pypinyins_own(cfg):
    # the syllables are read word by word with a cache: they must equal lazy_pinyin of the run
    from pypinyin import lazy_pinyin

    from rag.text.language import CJK_RUN, _syllables, fold

    runs = [m.group() for p in sorted(cfg.corpus_dir.glob("*.txt"))
            for m in CJK_RUN.finditer(fold(p.read_text(encoding="utf-8")))]
    runs += ["重庆银行行长", "长大了的长", "还有还钱", "单于单田芳"]  # readings that depend on the word
    assert len(runs) > 500
    assert [r for r in runs if _syllables(r) != tuple(lazy_pinyin(r))] == []


def test_a_latin_name_meets_its_characters_and_its_latin_spelling(qa):
    cands = qa.retriever.candidates("Where did Ma Weiying go after leaving ByteDance?", 50)
    names = cands.columns[:, CHANNELS.index("pinyin")]
    found = {qa.index.chunks[i].doc_id[:3] for i, v in zip(cands.ids, names) if v > 0}
    assert {"000", "004"} <= found  # 馬維英 in the Chinese articles, "Ma Weiying" in the Indonesian one


def test_channel_records_label_the_chunks_that_hold_the_answer(qa):
    docs = {d[:3]: d for d in qa.index.documents}
    questions = [RetrievalQuestion(q, "en", f"g{i}", docs[doc], (answer,)) for i, (q, doc, answer) in enumerate([
        ("Where was Qi Yuan a tenured professor before he came back?", "003", "普渡大学"),
        ("Which university did Jin Rong graduate from as an undergraduate?", "002", "天津大学"),
    ])]
    records = channel_records(qa.retriever, questions)
    chunks = qa.index.chunks
    for q, r in zip(questions, records):
        cands = qa.retriever.candidates(q.text, 50)
        assert len(r["x"]) == len(r["y"]) == len(cands.ids) and r["group"] == q.group
        right = [chunks[i] for i, y in zip(cands.ids, r["y"]) if y]
        assert right, "the answer's chunk is among the candidates"
        assert all(c.doc_id == q.doc_id and q.answers[0] in c.text for c in right)


def test_fit_fusion_learns_which_channel_finds_the_answer(tmp_path):
    rng = np.random.default_rng(0)
    pinyin = CHANNELS.index("pinyin")
    records = []
    for i in range(200):  # the right candidate is the best on the pinyin channel, noise elsewhere
        x = rng.normal(size=(30, len(CHANNELS)))
        y = np.zeros(30)
        y[int(np.argmax(x[:, pinyin]))] = 1
        records.append(dict(lang="en" if i % 2 else "zh", group=f"g{i}", x=x.tolist(), y=y.tolist()))
    previous = Fusion({c: 1.0 for c in CHANNELS})
    fusion, report = fit_fusion(records, {f"g{i}" for i in range(100)}, previous, ("en", "zh"))
    assert max(fusion.weights, key=fusion.weights.get) == "pinyin"
    assert report["questions"] == dict(fit=100, report=100)
    assert report["fitted"]["all"]["recall_at_1"] > 0.95 > report["previous"]["all"]["recall_at_1"]
    assert report["fitted"]["en"]["n"] == 50
    path = save_fusion(dict(fusion.to_json(), report=report), tmp_path / "retrieval.json")
    assert Fusion.load(path) == Fusion({c: round(w, 4) for c, w in fusion.weights.items()})
    assert json.loads(path.read_text(encoding="utf-8"))["report"]["questions"]["fit"] == 100
    # no right candidate anywhere (e.g. an index of other articles): an error saying what to check
    for r in records:
        r["y"] = [0.0] * len(r["y"])
    with pytest.raises(ValueError, match="index built from its own articles"):
        fit_fusion(records, {f"g{i}" for i in range(100)}, previous, ("en", "zh"))


def test_a_fusion_that_would_not_load_is_not_written(tmp_path):
    path = tmp_path / "retrieval.json"
    with pytest.raises(KeyError):
        save_fusion(dict(weights={"e5": 1.0}), path)
    assert not path.exists()
