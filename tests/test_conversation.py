"""Follow-up questions: the rules over real jieba tags and the real pipeline, CLI and batch contract."""

import json

import pytest

from rag.conversation.followup import Turn, resolve
from rag.conversation.mentions import PERSON, THING, mentions
from rag.evaluation import best_f1, contains_answer

from .conftest import rag

UCSB = ["加州大學聖巴巴拉分校", "加州大学圣巴巴拉分校", "University of California, Santa Barbara", "UCSB"]


def names_ucsb(text: str) -> bool:
    return contains_answer(text, UCSB) or best_f1(text, UCSB) >= 0.5


@pytest.mark.parametrize("history, question, expected", [
    (["What did Li Lei do after leaving ByteDance?"], "And where does he teach now?", "Where does Li Lei teach now?"),
    ([Turn("Who is the director of ByteDance AI Labs?", "Li Lei")], "Which university did he join?",
     "Which university did Li Lei join?"),
    ([Turn("Which university did Li Lei join?", "UCSB")], "When was it founded?", "When was UCSB founded?"),
    (["李磊离开字节跳动后做了什么？"], "他现在在哪里任教？", "李磊现在在哪里任教？"),
    ([Turn("Siapa direktur ByteDance AI Labs?", "Li Lei")], "Kapan dia bergabung dengan ByteDance?",
     "Kapan Li Lei bergabung dengan ByteDance?"),
    (["Apa jabatan Li Lei di ByteDance?"], "Apa nama universitasnya?", "Apa nama universitas Li Lei?"),
    ([Turn("Who was Martin Luther's wife?", "Katharina von Bora")],
     "What did his marriage to her set a model for?",
     "What did Martin Luther's marriage to Katharina von Bora set a model for?"),
    ([Turn("Who did Genghis Khan assign as his successor?", "Ögedei Khan")], "In what year did he die?",
     "In what year did Genghis Khan die?"),
    ([Turn("巴西在1938年世界盃擊敗瑞典得到第幾名？", "季軍")], "1958年呢？", "巴西在1958年世界盃擊敗瑞典得到第幾名？"),
    ([Turn("Li Lei bergabung dengan universitas apa?", "UCSB")], "Kapan?",
     "Kapan Li Lei bergabung dengan universitas?"),
])
def test_follow_ups_are_written_out_from_the_turns_before(history, question, expected):
    turns = [t if isinstance(t, Turn) else Turn(t) for t in history]
    assert resolve(question, turns) == expected


@pytest.mark.parametrize("question", [
    "When did Andrew Ng say he was leaving Baidu?",  # the pronoun's name comes first in the question
    "Which pope demanded that Luther retract his writings?",
    "Is there a lab in Beijing?",  # an existential "there"
    "字节跳动AI Lab在架构上直接属于哪个部门?",
    "Siapa direktur ByteDance AI Labs yang bergabung dengan UCSB?",
])
def test_a_question_that_stands_alone_is_left_alone(question):
    assert resolve(question, [Turn("What did Li Lei do after leaving ByteDance?", "AI Labs")]) is None


def test_mentions_tell_people_from_things_in_each_script():
    assert [(m.text, m.kind) for m in mentions("Who is the CTO of Adept AI?")] == [("CTO", THING), ("Adept AI", THING)]
    assert mentions("李磊离开字节跳动后做了什么？")[0].text == "李磊"
    assert mentions("李磊离开字节跳动后做了什么？")[0].kind == PERSON
    assert mentions("腾讯优图实验室的负责人是谁")[0].text == "腾讯优图实验室"
    assert mentions("腾讯优图实验室的负责人是谁")[0].kind == THING


def test_a_pronoun_follow_up_is_answered_in_english_chinese_and_indonesian(qa):
    english = qa.run("And where does he teach now?", history=["What did Li Lei do after leaving ByteDance?"])
    assert english.understood_as == "Where does Li Lei teach now?"
    assert english.answers and names_ucsb(english.answers[0].text)
    alone = qa.run("And where does he teach now?")
    assert alone.understood_as is None
    # asked in Chinese after an English turn: the name as the Chinese documents write it
    chinese = qa.run("他现在在哪所大学任教？", history=["What did Li Lei do after leaving ByteDance?"])
    assert chinese.understood_as == "李磊现在在哪所大学任教？"
    assert chinese.answers and names_ucsb(chinese.answers[0].text)
    indonesian = qa.run("Kapan dia bergabung dengan ByteDance?",
                        history=["Siapa direktur ByteDance AI Labs yang bergabung dengan UCSB?"])
    assert indonesian.understood_as.startswith("Kapan Li Lei")  # the earlier answer, computed


def test_an_elliptical_chinese_follow_up_takes_the_place_of_its_counterpart(qa):
    result = qa.run("金榕呢？", history=["漆远回国前是哪所大学的终身教授？"])
    assert result.understood_as == "金榕回国前是哪所大学的终身教授？"
    assert result.answers and "密歇根" in result.answers[0].text
    # the encoder chooses which word a fragment stands in for
    assert qa.run("博士呢？", history=["李磊在哪里读的硕士？"]).understood_as == "李磊在哪里读的博士？"


def test_a_stand_alone_question_after_a_history_is_answered_as_without_it(qa):
    question = "Which deep learning framework does FAIR rely on?"
    alone = qa.run(question).to_json()
    after = qa.run(question, history=["What did Li Lei do after leaving ByteDance?", "Which university did he join?"])
    assert after.understood_as is None
    assert after.to_json() == alone


def test_history_must_be_questions(qa):
    from rag.pipeline import QuestionError

    with pytest.raises(QuestionError):
        qa.run("Which university did he join?", history=[""])


def test_the_batch_contract_takes_a_history_and_says_how_it_read_the_question(cfg, built_index):
    lines = [{"question": "Which university did he join?", "history": ["Who is the director of ByteDance AI Labs?"],
              "answers": ["Li Lei"]},
             {"question": "Which university did he join?", "history": "not a list"},
             {"question": "Who leads Tencent AI Lab?"}]
    proc = rag("ask", "--json", "-", "--index", str(cfg.index_dir),
               stdin="\n".join(json.dumps(line) for line in lines).encode())
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert out[0]["understood_as"] == "Which university did Li Lei join?"
    assert names_ucsb(out[0]["answers"][0]["text"])
    assert "history" in out[1]["error"] and out[1]["answers"] == []
    assert out[2]["understood_as"] is None and out[2]["answers"]


def test_rag_chat_keeps_the_conversation_until_reset(cfg, built_index):
    script = "What did Li Lei do after leaving ByteDance?\nWhich university did he join?\n/reset\n" \
             "Which university did he join?\n"
    proc = rag("chat", "--index", str(cfg.index_dir), stdin=script.encode())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert out.count("(read as: Which university did Li Lei join?)") == 1
    assert "(new conversation)" in out
