"""`rag eval`'s metrics and report."""

from __future__ import annotations

import json

import pytest

from rag.evaluation import answer_f1, exact_match, score_item, segments

from .conftest import rag


def test_mixed_segmentation_splits_chinese_characters_and_keeps_words():
    assert segments("字節跳動的Data部門, Ma Weiying 2022年") == \
        ["字", "节", "跳", "动", "的", "data", "部", "门", "ma", "weiying", "2022", "年"]


@pytest.mark.parametrize("prediction, gold, f1", [
    ("2022 年 3 月", "2022年3月", 1.0),  # spacing and script do not matter
    ("王剛", "王刚", 1.0),
    ("Universitas Tsinghua", "Universitas Tsinghua", 1.0),
    # a different university shares one word, not most of its letters
    ("Universitas Sains dan Teknologi Nanjing", "Lembaga Penelitian Industri AI Universitas Tsinghua", 2 / 11),
    ("Data部门", "字节跳动的Data部门", 6 / 11),
    ("", "anything", 0.0),
])
def test_answer_f1(prediction, gold, f1):
    assert answer_f1(prediction, gold) == pytest.approx(f1)


def test_exact_match_and_a_wrong_source_is_a_hit_without_citation():
    assert exact_match("2022 年 3 月", ["2022年3月"]) == 1.0
    item = dict(question="q", answers=["王刚"], docs=["002"])
    result = dict(answers=[dict(text="王剛", source="000_x.txt")],
                  passages=[dict(text="王剛離職", cleaned="王剛離職", source="000_x.txt")])
    m = score_item(item, result)
    assert (m["hit"], m["citation"], m["recall_at_5"]) == (1.0, 0.0, 0.0)


def test_eval_reports_every_question(cfg, built_index, tmp_path):
    questions = tmp_path / "qs.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        dict(id="a", lang="zh", kind="factoid", question="金榕本科毕业于哪所大学?", answers=["天津大学"], docs=["002"]),
        dict(id="b", lang="en", kind="unanswerable", question="What is the boiling point of tungsten?",
             answers=[], docs=[]),
    ]) + "\nnot json\n", encoding="utf-8")
    proc = rag("eval", str(questions), "--json", "--index", str(cfg.index_dir))
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report["overall"]["n"] == 2 and report["overall"]["answerable"] == 1
    rows = {r["id"]: r for r in report["questions"]}
    assert rows["a"]["hit"] == 1.0 and rows["a"]["source"].startswith("002")
    assert rows["b"]["answerable"] is False
    assert "not a JSON object" in proc.stderr.decode()  # the bad line is named, the rest evaluated
    text = rag("eval", str(questions), "--details", "--index", str(cfg.index_dir)).stdout.decode()
    assert "overall" in text and any(line.split()[0] == "a" for line in text.splitlines() if line.strip())
