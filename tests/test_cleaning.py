"""Cleaning keeps an exact map back to the original text."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.ingest.cleaning import MappedText, apply_edits, clean

from .conftest import corpus_files

PIECES = st.sampled_from([
    "續(xù)", "產(chǎn)業(yè)", "科學家", "王刚离职。", "AI Lab", "  ", "\n", "\n\n\n", "\t", "掃一掃下載界面新聞APP\n",
    "Li Lei adalah ilmuwan.", "(AI)", "(note)", "\ufffd", "\ue24e", "。", "2022 年 3 月 14 日", "PyTorch",
])
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=30).map("".join)


def check_map(original: str, mt: MappedText) -> None:
    assert len(mt.offsets) == len(mt.text) + 1
    for i, ch in enumerate(mt.text):
        # every kept character is the original one (whitespace may have been collapsed)
        assert original[mt.offsets[i]] == ch or (ch.isspace() and original[mt.offsets[i]].isspace())
    assert list(mt.offsets[:-1]) == sorted(mt.offsets[:-1])


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_offsets_map_into_original(text):
    check_map(text, clean(text))


@settings(max_examples=200, deadline=None)
@given(TEXTS, st.data())
def test_any_span_resolves_to_original(text, data):
    mt = clean(text)
    if not mt.text:
        return
    i = data.draw(st.integers(0, len(mt.text) - 1))
    j = data.draw(st.integers(i + 1, len(mt.text)))
    s, e = mt.original_span(i, j)
    assert 0 <= s < e <= len(text)
    assert all(s <= mt.offsets[k] < e for k in range(i, j))
    assert text[s] == mt.text[i] or mt.text[i].isspace()
    assert text[e - 1] == mt.text[j - 1] or mt.text[j - 1].isspace()


def test_pinyin_annotations_removed_only_when_they_are_readings():
    mt = clean("科學家持續(xù)“逃離”,產(chǎn)業(yè)。法(law)與(AI)")
    assert mt.text == "科學家持續“逃離”,產業。法(law)與(AI)"
    check_map("科學家持續(xù)“逃離”,產(chǎn)業(yè)。法(law)與(AI)", mt)


def test_duplicate_body_and_boilerplate_removed():
    body = "第一段很長的內容在這裡說明事情。\n第二段也有足夠長的內容在這裡。\n"
    text = "正在閱讀:\n標題\n掃一掃下載界面新聞APP\n" + body + body + "版權所有 © 2021\n"
    mt = clean(text)
    assert mt.text.count("第一段") == 1 and "掃一掃" not in mt.text and "版權所有" not in mt.text
    assert "標題" in mt.text


def test_edits_compose():
    mt = apply_edits(MappedText.identity("abcdef"), [(1, 3, ""), (4, 5, "XY")])
    assert mt.text == "adXYf"
    assert mt.original_span(1, 4) == (3, 5)


def test_seed_documents_clean_without_losing_the_map():
    for path in corpus_files():
        original = path.read_text(encoding="utf-8")
        mt = clean(original)
        check_map(original, mt)
        assert "(xù)" not in mt.text and "\ufffd" not in mt.text


def test_markup_left_in_text_is_removed_and_comparisons_are_not():
    from rag.ingest.cleaning import clean

    cleaned = clean("在衰落期做教育?!?/p>\nLine<br/>two and <p class=\"x\">three</p>; if a<b and c>d")
    assert cleaned.text == "在衰落期做教育?!\nLinetwo and three; if a<b and c>d"
    start = cleaned.text.index("three")
    o0, o1 = cleaned.original_span(start, start + 5)
    assert "在衰落期做教育?!?/p>\nLine<br/>two and <p class=\"x\">three</p>; if a<b and c>d"[o0:o1] == "three"
