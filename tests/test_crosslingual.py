"""The English → Chinese dictionary, and question anchoring: an English question's names and
words in the passage's own characters."""

import pytest

from rag.text.cognates import cognate
from rag.text.crosslingual import anchor_question, english_to_chinese, translate_query

# passages and questions written for these tests
TRADITIONAL = "據報道，張偉教授已於去年加入北京大學，擔任人工智能研究院院長。"
SIMPLIFIED = "据报道，张伟教授已于去年加入北京大学，担任人工智能研究院院长。"


@pytest.mark.parametrize("name", ["Zhang Wei", "Wei Zhang"])
def test_a_pinyin_name_in_either_order_becomes_the_passages_characters(name):
    question = f"Which institute does {name} lead?"
    assert anchor_question(question, TRADITIONAL, "names") == "Which institute does 張偉 lead?"
    assert anchor_question(question, SIMPLIFIED, "names") == "Which institute does 张伟 lead?"


def test_dictionary_words_the_passage_writes_in_chinese_are_anchored_too():
    anchored = anchor_question("When did Zhang Wei join the university?", SIMPLIFIED)
    assert anchored.startswith("When did 张伟 ")
    assert "大学" in anchored and "university" not in anchored
    # words the passage does not hold stay English
    assert anchor_question("Did Zhang Wei like the weather?", SIMPLIFIED) == "Did 张伟 like the weather?"


def test_company_names_short_forms_and_any_reading_of_a_word_are_anchored():
    passage = "騰訊研究實驗室邀請張偉擔任負責人。"  # written for this test
    anchored = anchor_question("Who has Tencent's research lab invited to lead it?", passage)
    assert "騰訊" in anchored and "Tencent" not in anchored  # a company's name, capitalised
    assert "實驗室" in anchored and "lab" not in anchored  # "lab" read as "laboratory"
    assert "邀請" in anchored  # "invited" read as "invite" too
    # a lowercase word is not read as a company's name
    assert "騰訊" not in anchor_question("Who did the tencent invite?", passage)


def test_an_indonesian_questions_cognates_reach_the_dictionary():
    # "universitas" is spelled like "university" and e5 agrees; the passage writes it 北京大學
    anchored = anchor_question("Di universitas mana Zhang Wei bekerja?", TRADITIONAL)
    assert anchored == "Di 大學 mana 張偉 bekerja?"
    assert "大学" in translate_query("Siapa presiden universitas itu?")


@pytest.mark.parametrize("word, english", [
    ("laboratorium", "laboratory"), ("presiden", "president"), ("teknologi", "technology"),
    ("kepala", None),  # "head": spelled like Kerala, which e5 does not place near it
    ("kantor", None),  # "office", not cantor
    ("memimpin", None),  # "to lead": spelled like no English word
])
def test_cognates_need_both_spelling_and_meaning(word, english):
    assert cognate(word) == english


def test_a_chinese_question_is_read_in_the_passages_script():
    assert anchor_question("张伟在哪里工作?", TRADITIONAL) == "張偉在哪裏工作?"
    assert anchor_question("張偉在哪裡工作?", SIMPLIFIED) == "张伟在哪里工作?"
    assert anchor_question("张伟在哪里工作?", TRADITIONAL, "off") == "张伟在哪里工作?"


@pytest.mark.parametrize("question, context", [
    ("张伟在哪里工作?", SIMPLIFIED),  # a Chinese question over text in its own script
    ("張偉在哪裡工作?", TRADITIONAL),
    ("张伟在哪里工作?", "Zhang Wei bekerja di Universitas Peking."),  # no Chinese to match
    ("Where does Zhang Wei work?", "Zhang Wei works at Peking University."),  # no Chinese to anchor to
    ("Where does Li Na work?", SIMPLIFIED),  # a name the passage does not hold
])
def test_questions_with_nothing_to_anchor_are_unchanged(question, context):
    assert anchor_question(question, context) == question


@pytest.mark.parametrize("word, first", [
    ("horse", "马"),  # glossed exactly so
    ("shanghai", "上海"),  # "Shanghai municipality", before "... district of Shanghai"
    ("tencent", "腾讯"),  # the short form of "Tencent Holdings Limited"
    ("microsoft", "微软"),  # "Microsoft corporation"
])
def test_the_dictionary_puts_the_word_itself_first(word, first):
    assert english_to_chinese()[word][0] == first


def test_proper_names_do_not_crowd_out_common_words():
    # "Year of the Ox" begins with "Year", but year is 年
    assert english_to_chinese()["year"][:2] == ["年", "年度"]
    # a word that begins many unrelated proper names ("Ding ...") is no word at all
    assert "ding" not in english_to_chinese()


def test_a_company_named_in_english_is_searched_in_chinese():
    assert {"腾讯", "字节跳动"} <= set(translate_query("When did Tencent and ByteDance open AI labs?"))


def test_the_derived_dictionary_tables_are_kept_and_a_damaged_copy_is_derived_again(tmp_path, monkeypatch, caplog):
    from rag.text import crosslingual

    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    crosslingual._tables.cache_clear()
    try:
        derived = english_to_chinese()
        (kept,) = (tmp_path / "tables").glob("cedict-*.marshal")
        crosslingual._tables.cache_clear()
        assert english_to_chinese() == derived  # read back from the file
        assert "腾讯" in derived["tencent"] and "实验室" in crosslingual.glossed_as()["laboratory"]

        kept.write_bytes(kept.read_bytes()[:1000])
        crosslingual._tables.cache_clear()
        assert english_to_chinese() == derived
        assert "deriving it again" in caplog.text
        crosslingual._tables.cache_clear()
        assert english_to_chinese() == derived  # the file was written anew
    finally:
        crosslingual._tables.cache_clear()
