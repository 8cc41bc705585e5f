"""The reader's training data: sources split on their own, cross-lingual renderings."""

import random

from rag.qa_data import SOURCES, load_sources, split_heldout, split_sources, translate_question
from tests.test_answer_scoring import _squad


def test_each_source_keeps_its_own_held_out_articles(tmp_path):
    """Adding a source (DRCD, from data/qa-extra) must not move another source's held-out
    articles into training: the reader and its scorer were evaluated on them."""
    _squad(tmp_path / "cmrc2018_dev.json")
    _squad(tmp_path / "cmrc2018_trial.json", n_articles=10, seed=1)
    sources = load_sources(tmp_path)
    assert set(sources) == set(SOURCES)  # CMRC from tmp_path, DRCD from the project
    _, cmrc_held = split_heldout(sources["cmrc2018"])
    train, held = split_sources(sources)
    assert {e.group for e in cmrc_held} == {e.group for e in held if e.group.startswith("A")}
    assert not {e.group for e in held} & {e.group for e in train}
    for name, examples in sources.items():  # about a tenth of each source's articles held out
        groups = {e.group for e in examples}
        assert 0.05 < len(groups & {e.group for e in held}) / len(groups) < 0.15, name


def test_traditional_chinese_questions_are_rendered_in_english():
    question = translate_question("陸特和漢斯雷頓開創了哪一地區對梵語的學術研究？", random.Random(0))
    assert question.endswith("?") and question.isascii()
