"""Bare answers ("11月", "42") are widened to their year or carry their clause and the
document's own date; offsets stay exact."""

from __future__ import annotations

import pytest

from rag.answer.fragments import context, dateline, is_bare, widen

from .conftest import rag

TEXT = ("发布时间:2021-12-16 18:17 评论\n\n科学家也正在离开互联网。11月,复旦大学官宣漆远正式加入复旦大学,出任院长。"
        "2019年3月他来了。He joined in November 2020, and left on 3 May. It hired 42 people. In 2021 it grew.")


def bounds(fragment: str) -> tuple[int, int]:
    i = TEXT.index(fragment)
    return i, i + len(fragment)


@pytest.mark.parametrize("fragment, widened", [("3月", "2019年3月"), ("November", "November 2020"),
                                               ("11月", "11月"), ("3 May", "3 May"), ("漆远", "漆远")])
def test_a_date_takes_in_the_year_written_beside_it(fragment, widened):
    s, e = widen(TEXT, *bounds(fragment))
    assert TEXT[s:e] == widened


@pytest.mark.parametrize("fragment, clause, dated", [
    ("11月", "11月,复旦大学官宣漆远正式加入复旦大学", "2021-12-16"),
    ("3 May", "and left on 3 May", "2021-12-16"),
    ("42", "It hired 42 people", None),
])
def test_a_bare_fragment_carries_its_clause_and_the_documents_date(fragment, clause, dated):
    found = context(TEXT, *bounds(fragment))
    assert TEXT[found.start:found.end] == clause and found.dated == dated


@pytest.mark.parametrize("answer", ["漆远", "2019年3月", "November 2020", "2021", "复旦大学"])
def test_answers_that_say_enough_get_no_context(answer):
    assert not is_bare(answer) and context(TEXT, *bounds(answer)) is None


def test_dateline_only_from_the_opening_lines():
    assert dateline("Published 16 Dec 2021 by the desk\nBody") == "16 Dec 2021"
    assert dateline("x" * 700 + "2021-12-16") is None


def test_the_corpus_answer_11月_is_shown_with_its_clause_and_date(qa):
    from rag.answer.assemble import assemble
    from rag.reader.base import Span

    passage = next(p for p in qa.run("漆远加入复旦大学", top_k=20).passages if "11月,复旦" in p.chunk.text)
    at = passage.chunk.clean_start + passage.chunk.text.index("11月,复旦")
    answer = assemble(qa.index, [Span(passage, at, at + 3, 0.9)], limit=1, threshold=0.5)[0]
    doc = qa.index.documents[answer.citations[0].source]
    c = answer.citations[0]
    assert answer.text == "11月" and doc.original[c.start:c.end] == "11月"
    ctx = answer.context
    assert ctx.text.startswith("11月,复旦大学官宣") and "漆远" in ctx.text and ctx.dated == "2021-12-16"
    assert ctx.text[slice(*ctx.answer_in_context)] == "11月"
    assert "漆远" in doc.original[ctx.start:ctx.end]
    assert answer.to_json()["context"]["answer_in_context"] == [0, 3]


def test_the_app_shows_the_clause_with_the_answer_marked():
    from rag_ui.render import answer_markdown

    result = {"answers": [{"text": "11月", "score": 0.8, "citations": [], "context": {
        "text": "11月,复旦大学官宣漆远正式加入复旦大学", "start": 10, "end": 30, "answer_in_context": [0, 3],
        "dated": "2021-12-16"}}], "passages": []}
    shown = answer_markdown(result)
    assert "in “<mark>11月</mark>,复旦大学官宣漆远正式加入复旦大学” (the document is dated 2021" in shown


def test_cli_shows_a_bare_date_with_its_clause_and_the_documents_date(cfg, built_index):
    proc = rag("ask", "--in-process", "When did Qi Yuan join Fudan University?", "--index", str(cfg.index_dir))
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 0, proc.stderr.decode()[-500:]
    assert out.startswith("1. 11月"), out[:300]
    assert "in: 11月,复旦大学官宣" in out and "the document is dated 2021-12-16" in out

