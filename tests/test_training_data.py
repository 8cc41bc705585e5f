"""The reader's training data: sources split on their own, chosen by name, cross-lingual renderings."""

import random
from pathlib import Path

import pytest

from rag.text.language import CJK, CJK_RUN, in_script_of
from rag_train.data import cross_lingual, translate_question
from rag_train.sources import QAExample, load_sources, split_heldout, split_sources
from tests.test_answer_scoring import _squad


def test_each_source_keeps_its_own_held_out_articles(tmp_path):
    """Adding a source (DRCD, from data/qa-extra) must not move another source's held-out
    articles into training: the reader and its scorer were evaluated on them."""
    _squad(tmp_path / "cmrc2018_dev.json")
    _squad(tmp_path / "cmrc2018_trial.json", n_articles=10, seed=1)
    sources = load_sources(tmp_path)
    # CMRC from tmp_path, DRCD from the project; "drcd_dev" only when asked for (its file is in "drcd");
    # no training split of CMRC, DRCD or SQuAD is at hand
    assert set(sources) == {"cmrc2018", "drcd", "facqa"}
    dev_only = load_sources(tmp_path, ("drcd_dev",))["drcd_dev"]
    assert dev_only and {e.qid for e in dev_only} < {e.qid for e in sources["drcd"]}
    _, cmrc_held = split_heldout(sources["cmrc2018"])
    train, held = split_sources(sources)
    assert {e.group for e in cmrc_held} == {e.group for e in held if e.group.startswith("A")}
    assert not {e.group for e in held} & {e.group for e in train}
    for name, examples in sources.items():  # about a tenth of each source's articles held out
        groups = {e.group for e in examples}
        assert 0.05 < len(groups & {e.group for e in held}) / len(groups) < 0.15, name


def test_training_splits_of_larger_sets_join_when_a_data_folder_holds_them(tmp_path):
    """CMRC 2018's, DRCD's and SQuAD's training files are read by default when present, SQuAD 2.0's
    impossible questions as unanswerable examples; the held-out articles of the others stay put."""
    import json

    _squad(tmp_path / "cmrc2018_dev.json")
    before = split_heldout(load_sources(tmp_path)["cmrc2018"])[1]
    _squad(tmp_path / "cmrc2018_train.json", n_articles=40, seed=2)
    _squad(tmp_path / "DRCD_training.json", n_articles=30, seed=3)
    context = "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy."
    data = [dict(title="Normans", paragraphs=[dict(context=context, qas=[
        dict(id="s1", question="In what country is Normandy located?", answers=[], is_impossible=True,
             plausible_answers=[dict(text="Normandy", answer_start=context.rindex("Normandy"))]),
        dict(id="s2", question="When did the Normans give their name to Normandy?", is_impossible=False,
             answers=[dict(text="10th and 11th centuries", answer_start=39)])])])]
    (tmp_path / "train-v2.0.json").write_text(json.dumps(dict(data=data, version="v2.0")), encoding="utf-8")
    (tmp_path / "train-v1.1.json").write_text(json.dumps(dict(data=data[:0], version="1.1")), encoding="utf-8")
    sources = load_sources(tmp_path)
    assert {"cmrc2018_train", "drcd_train", "squad2"} <= set(sources) and "squad" not in sources
    assert split_heldout(sources["cmrc2018"])[1] == before
    squad = {e.qid: e for e in sources["squad2"]}
    assert (squad["s1"].answer_text, squad["s1"].answer_start) == ("", -1)
    assert squad["s2"].answer_text == "10th and 11th centuries" and squad["s2"].lang == "en"
    assert squad["s2"].context[squad["s2"].answer_start:][:23] == squad["s2"].answer_text
    with pytest.raises(FileNotFoundError, match="train-v1.1.json"):
        load_sources(tmp_path, ("squad",))  # named: a file holding no question counts as none


def test_a_source_can_be_seen_several_times_an_epoch(tmp_path):
    """``facqa*2`` doubles FacQA's training examples; its held-out articles stay held out, once."""
    from rag_train.sources import source_repeats

    assert source_repeats(("cmrc2018", "facqa*2")) == (("cmrc2018", "facqa"), {"cmrc2018": 1, "facqa": 2})
    assert source_repeats(None) == (None, {})
    for bad in ("facqa*", "facqa*0", "facqa*two"):
        with pytest.raises(ValueError, match="whole number"):
            source_repeats((bad,))
    _squad(tmp_path / "cmrc2018_dev.json")
    sources = load_sources(tmp_path, ("cmrc2018", "facqa*2"))
    assert set(sources) == {"cmrc2018", "facqa"}
    once, held_once = split_sources(sources)
    twice, held_twice = split_sources(sources, repeats={"facqa": 2})
    facqa = split_heldout(sources["facqa"])[0]  # its training examples
    assert facqa and len(twice) == len(once) + len(facqa) and held_twice == held_once


def test_a_share_of_chinese_articles_can_be_read_in_traditional_characters():
    from rag_train.data import in_traditional

    context = "据报道，张伟教授已于去年加入北京大学，担任人工智能研究院院长。"
    answer = "北京大学"
    examples = [QAExample(f"q{i}", "张伟加入了哪所大学?", context, answer, context.index(answer), "zh", f"A{i}")
                for i in range(10)] + [QAExample("i0", "Siapa?", "Zhang Wei bergabung.", "Zhang Wei", 0, "id", "B0")]
    mixed = in_traditional(examples, 0.5)
    converted = [e for e in mixed if e.context != context and e.lang == "zh"]
    assert len(converted) == 5 and mixed[-1] == examples[-1]
    for e in converted:
        assert e.context[e.answer_start:e.answer_start + len(e.answer_text)] == e.answer_text == "北京大學"
        assert e.question == "张伟加入了哪所大学?"  # asked in simplified, read over traditional
    assert in_traditional(examples, 0.0) == examples


def test_unanswerable_pairs_can_take_the_retrieved_paragraph_of_another_article():
    from rag_train.data import unanswerable

    def example(i, question, context, answer, group):
        return QAExample(f"q{i}", question, context, answer, context.index(answer), "zh", group)

    own = "张伟教授于2019年加入北京大学人工智能研究院，担任院长。"
    near = "李明教授于2018年加入清华大学人工智能研究院，担任副院长。"  # same words, another answer
    with_answer = "北京大学人工智能研究院由张伟教授领导。"  # names the answer: not unanswerable
    far = "雅加达今天下雨，交通十分拥堵。"
    examples = [example(0, "张伟教授加入了哪个研究院？", own, "北京大学人工智能研究院", "A0"),
                example(1, "李明担任什么职务？", near, "副院长", "A1"),
                example(2, "研究院由谁领导？", with_answer, "张伟教授", "A2"),
                example(3, "雅加达天气如何？", far, "下雨", "A3")]
    pairs = {e.qid: e for e in unanswerable(examples, 1.0, retrieved=1.0)}
    assert pairs["q0-neg"].context == near and pairs["q0-neg"].answer_start == -1
    assert all(e.context != examples[int(e.qid[1])].context for e in pairs.values())  # never its own
    random_pairs = unanswerable(examples, 1.0)
    assert len(random_pairs) == 4 and all(e.answer_text == "" for e in random_pairs)
    half = unanswerable(examples, 1.0, retrieved=0.5)
    assert len(half) == 4 and sum(e.context != r.context for e, r in zip(half, random_pairs)) <= 2  # the rest as drawn


def test_traditional_chinese_questions_are_rendered_in_english():
    question = translate_question("陸特和漢斯雷頓開創了哪一地區對梵語的學術研究？", random.Random(0))
    assert question.endswith("?") and question.isascii()


def test_english_renderings_put_the_question_phrase_first():
    """Renderings follow English word order most of the time ("Which city is…", "How tall is…"),
    and some keep the Chinese order, as hurried users type."""
    renderings = [translate_question("该公司的总部位于哪个城市？", random.Random(seed)) for seed in range(20)]
    assert all(r.endswith("?") and r.isascii() for r in renderings)
    assert 12 <= sum(r.startswith("Which city") for r in renderings) < 20
    tall = [translate_question("这座塔有多高？", random.Random(seed)) for seed in range(20)]
    assert sum(r.startswith("How tall is") for r in tall) >= 12


def test_only_questions_over_chinese_passages_get_english_renderings():
    zh = QAExample("q1", "他在哪一年出生？", "他在1990年出生。", "1990年", 2, "zh", "a")
    id_ = QAExample("q2", "Kapan dia lahir?", "Dia lahir pada tahun 1990.", "1990", 21, "id", "b")
    out = cross_lingual([zh, id_])
    assert [e.qid for e in out] == ["q1-en"] and out[0].lang == "en" and out[0].context == zh.context


def test_training_sources_can_be_chosen_and_indonesian_facqa_loads(tmp_path):
    _squad(tmp_path / "cmrc2018_dev.json")
    assert set(load_sources(tmp_path, ("cmrc2018",))) == {"cmrc2018"}
    with pytest.raises(ValueError, match="unknown training source"):
        load_sources(tmp_path, ("cmrc2019",))
    facqa = load_sources(tmp_path, ("facqa",))["facqa"]
    assert len(facqa) > 2700 and sum(e.lang == "id" for e in facqa) > 0.9 * len(facqa)
    assert all(e.context[e.answer_start:e.answer_start + len(e.answer_text)] == e.answer_text for e in facqa)


def test_hand_written_english_questions_are_on_held_out_articles_only():
    """data/human-en measures real English; none of its questions may come from training articles."""
    from rag.config import PROJECT_ROOT
    from rag_train.data import human_english_heldout
    from rag_train.sources import load_source

    rows = [line.split("\t") for line in
            (PROJECT_ROOT / "data" / "human-en" / "cmrc2018_heldout_en.tsv").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 119 and len({r[0] for r in rows}) == 119
    assert all(len(r) == 2 and r[1].isascii() and r[1].endswith("?") for r in rows)
    qa_dir = _shared_cmrc()
    train, held = split_heldout(load_source(qa_dir, "cmrc2018"))
    examples = human_english_heldout(qa_dir)
    assert len(examples) == 119 and {e.qid for e in examples} <= {e.qid for e in held}
    assert not {e.context for e in examples} & {e.context for e in train}


def test_hand_written_english_training_questions_stay_on_training_articles():
    """data/human-en's training questions join training only when asked, and only for examples
    of training articles: none may reach an article the reader is measured on."""
    from rag_train.data import human_english, human_english_dir, training_sets
    from rag_train.sources import load_source

    texts = human_english(human_english_dir(), "cmrc2018", "train")
    # English as people write it: no Chinese characters, diacritics allowed ("Ōmagari")
    questions = set(texts.values())
    assert len(texts) == 720 and not any(CJK.search(t) or not t.endswith("?") for t in questions)
    qa_dir = _shared_cmrc()
    train, held = split_heldout(load_source(qa_dir, "cmrc2018"))
    assert set(texts) <= {e.qid for e in train} and not set(texts) & {e.qid for e in held}
    plain, _ = training_sets(qa_dir, names=("cmrc2018",))
    twice, _ = training_sets(qa_dir, names=("cmrc2018",), human_repeat=2)
    added = [e for e in twice if e.question in questions]
    assert len(twice) - len(plain) == len(added) == 2 * len(texts)
    assert all(e.lang == "en" and e.context[e.answer_start:].startswith(e.answer_text) for e in added)
    assert not {e.context for e in added} & {e.context for e in held}


def test_hand_written_english_over_traditional_chinese_stays_on_drcd_dev_training_articles():
    """The English questions over DRCD's dev articles (traditional Chinese) join training with
    source drcd_dev only, for its training articles: never its held-out articles, nor DRCD's test
    file, whose articles `rag eval-open` asks about."""
    from rag_train.data import human_english, human_english_dir, training_sets
    from rag_train.sources import load_source

    texts = human_english(human_english_dir(), "drcd_dev", "train")
    questions = set(texts.values())
    assert len(texts) == 620 and not any(CJK.search(t) or not t.endswith("?") for t in questions)
    dev = load_source(Path("/nonexistent"), "drcd_dev")  # data/qa-extra's copy
    train, held = split_heldout(dev)
    assert set(texts) <= {e.qid for e in train} and not set(texts) & {e.qid for e in held}
    test_contexts = {e.context for e in load_source(Path("/nonexistent"), "drcd")} - {e.context for e in dev}
    plain, _ = training_sets(Path("/nonexistent"), names=("drcd_dev",))
    once, _ = training_sets(Path("/nonexistent"), names=("drcd_dev",), human_repeat=1)
    added = [e for e in once if e.question in questions]
    assert len(once) - len(plain) == len(added) == len(texts)
    assert all(e.lang == "en" and CJK.search(e.context) for e in added)
    assert not {e.context for e in added} & (test_contexts | {e.context for e in held})


def test_hand_written_english_over_indonesian_stays_on_facqa_training_passages():
    """The English questions over FacQA's passages (Indonesian news) join training only when asked,
    for training passages: none may reach a held-out passage, which `rag eval-open` asks about."""
    from rag_train.data import human_english, human_english_dir, training_sets
    from rag_train.sources import load_source

    texts = human_english(human_english_dir(), "facqa", "train")
    questions = set(texts.values())
    # English as people write it: no Chinese characters, dashes and diacritics allowed
    assert len(texts) == 280 and not any(CJK.search(t) or not t.endswith("?") for t in questions)
    train, held = split_heldout(load_source(Path("."), "facqa"))
    assert set(texts) <= {e.qid for e in train} and not set(texts) & {e.qid for e in held}
    plain, _ = training_sets(Path("."), names=("facqa",))
    once, _ = training_sets(Path("."), names=("facqa",), human_repeat=1)
    added = [e for e in once if e.question in questions]
    assert len(once) - len(plain) == len(added) == len(texts)
    assert all(e.lang == "en" and e.context[e.answer_start:].startswith(e.answer_text) for e in added)
    assert not {e.context for e in added} & {e.context for e in held}
    # --human-english-sources leaves out the other sources' questions (as stage 7 was trained)
    others, _ = training_sets(Path("."), names=("facqa",), human_repeat=1, human_sources=("cmrc2018", "drcd_dev"))
    assert len(others) == len(plain)
    with pytest.raises(ValueError, match="unknown source.*facqa2"):
        training_sets(Path("."), names=("facqa",), human_repeat=1, human_sources=("facqa2",))


def test_english_training_questions_can_be_anchored_as_the_reader_reads_them():
    from rag_train.data import training_sets

    qa_dir = _shared_cmrc()
    plain, _ = training_sets(qa_dir, names=("cmrc2018",))
    anchored, _ = training_sets(qa_dir, names=("cmrc2018",), anchors="words")
    assert [(e.qid, e.context, e.answer_start, e.answer_text) for e in plain] == \
           [(e.qid, e.context, e.answer_start, e.answer_text) for e in anchored]
    changed = [(p, a) for p, a in zip(plain, anchored) if p.question != a.question]
    assert all(p.lang == "en" for p, _ in changed)  # Chinese questions are read as asked
    assert len(changed) > 0.5 * sum(e.lang == "en" for e in plain)
    # what an anchored question holds in Chinese is its own passage's characters; a rendering
    # that already held some (a dictionary gloss) is only written in its passage's script
    for p, a in changed:
        if CJK_RUN.search(p.question):
            assert a.question == in_script_of(p.question, a.context)
        else:
            assert all(run in a.context for run in CJK_RUN.findall(a.question))
    with pytest.raises(ValueError, match="anchors"):
        training_sets(qa_dir, names=("cmrc2018",), anchors="all")


def _shared_cmrc():
    """The team's CMRC 2018 copy (../shared/qa-train), or a skip where it is absent."""
    from rag.config import PROJECT_ROOT

    qa_dir = PROJECT_ROOT.parent / "shared" / "qa-train"
    if not (qa_dir / "cmrc2018_dev.json").is_file():
        pytest.skip("CMRC 2018 (../shared/qa-train) is not on this machine")
    return qa_dir


def test_a_training_folder_resumes_only_the_data_it_was_started_with(cfg, tmp_path):
    from dataclasses import replace

    from rag.models.loading import ensure_embedder
    from rag_train.reader import TrainSettings, _check_work_data, train

    started = TrainSettings(qa_dir=tmp_path / "data", work_dir=tmp_path / "work")
    (tmp_path / "work").mkdir()
    _check_work_data(tmp_path / "work", started)  # what the first run records
    _check_work_data(tmp_path / "work", started)  # the same settings resume
    with pytest.raises(ValueError, match=r"question_anchors: off → words.*new --work"):
        train(replace(started, question_anchors="words"), ensure_embedder(cfg))
    with pytest.raises(ValueError, match=r"shuffle_seed: None → 14"):  # another order of the same examples
        train(replace(started, shuffle_seed=14), ensure_embedder(cfg))
    with pytest.raises(ValueError, match=r"shuffle_seed: None → 0"):  # a seed of 0 is an order too
        train(replace(started, shuffle_seed=0), ensure_embedder(cfg))
    chosen = replace(started, work_dir=tmp_path / "chosen", human_english_sources=("cmrc2018", "drcd_dev"))
    chosen.work_dir.mkdir()
    _check_work_data(chosen.work_dir, chosen)
    _check_work_data(chosen.work_dir, chosen)  # sources given as a tuple resume (stored as a JSON list)
    with pytest.raises(ValueError, match=r"human_english_sources: \['cmrc2018', 'drcd_dev'\] → \['cmrc2018'\]"):
        _check_work_data(chosen.work_dir, replace(chosen, human_english_sources=("cmrc2018",)))


def test_open_corpus_evaluation_collection():
    """The open-corpus collection: DRCD test articles and FacQA held-out passages (in-repo data), each
    answerable question's answer in its own indexed document, left-out articles' questions unanswerable."""
    from rag_train.open_eval import OpenEvalSettings, build
    from rag_train.sources import load_source, split_heldout

    docs, items = build(OpenEvalSettings(articles=6, passages=6, per_article=3, absent=0.34))
    assert {it["source"] for it in items} == {"drcd", "facqa"}
    assert {"zh", "en", "id"} <= {it["lang"] for it in items}
    for it in items:
        if it["answers"]:
            assert it["docs"][0] in docs and it["answers"][0] in docs[it["docs"][0]]
        else:
            assert it["kind"] == "unanswerable" and not it["docs"]
    assert any(not it["answers"] for it in items) and any(it["origin"] == "rendered" for it in items)
    train_passages = {e.context for e in split_heldout(load_source(Path("."), "facqa"))[0]}
    assert not any(text in train_passages for name, text in docs.items() if name.startswith("facqa-"))


def _training_paragraphs(source: str) -> set[str]:
    """Every paragraph a training file of ``source``'s kind holds (DRCD: its dev file; FacQA: its
    training split)."""
    from rag_train.sources import load_source

    if source == "drcd":
        return {e.context for e in load_source(Path("."), "drcd_dev")}
    return {e.context for e in split_heldout(load_source(Path("."), source))[0]}


@pytest.mark.parametrize("source, split, count", [("drcd", "test", 193), ("facqa", "eval", 127)])
def test_the_open_corpus_asks_hand_written_english_over_articles_no_training_file_holds(source, split, count):
    """Every question of data/human-en/<source>_<split>_en.tsv is asked by the default open collection,
    beside the question it translates (same answers, same document), over paragraphs no training file holds."""
    from rag_train.data import human_english, human_english_dir
    from rag_train.open_eval import OpenEvalSettings, build

    texts = human_english(human_english_dir(), source, split)
    docs, items = build(OpenEvalSettings())
    human = {it["id"][:-len("-human")]: it for it in items if it["source"] == source and it["origin"] == "human"}
    asked = {it["id"]: it for it in items if it["source"] == source and it["origin"] == "source"}
    assert len(texts) == count and set(human) == set(texts) == set(asked)
    assert all(h["lang"] == "en" and h["question"].isascii() and h["question"].endswith("?") and
               (h["answers"], h["docs"], h["kind"]) == (asked[q]["answers"], asked[q]["docs"], asked[q]["kind"])
               for q, h in human.items())
    trained = _training_paragraphs(source)
    assert not any(p in trained for name, text in docs.items() if name.startswith(f"{source}-")
                   for p in text.split("\n\n"))


def test_the_distillation_loss_follows_the_teachers_spans_and_ignores_padding():
    import torch

    from rag_train.distil import distil_loss

    teacher = torch.tensor([[[0.0, 5.0, 1.0, 0.0], [0.0, 1.0, 5.0, 0.0]]])  # (batch, start/end, tokens)
    mask = torch.tensor([[1, 1, 1, 0]])
    same = distil_loss(teacher[:, 0].clone(), teacher[:, 1].clone(), teacher, mask)
    assert same.item() == pytest.approx(0.0, abs=1e-6)
    # whatever a padded position holds does not count
    padded_start = teacher[:, 0].clone()
    padded_start[0, 3] = 50.0
    assert distil_loss(padded_start, teacher[:, 1].clone(), teacher, mask).item() == pytest.approx(0.0, abs=1e-6)
    # a student that points elsewhere pays, and pays more the further it is
    near = distil_loss(torch.tensor([[0.0, 4.0, 2.0, 0.0]]), teacher[:, 1].clone(), teacher, mask)
    far = distil_loss(torch.tensor([[5.0, 0.0, 0.0, 0.0]]), teacher[:, 1].clone(), teacher, mask)
    assert 0 < near.item() < far.item()
