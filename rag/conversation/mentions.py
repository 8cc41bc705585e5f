"""What a question or an answer names: the entities a follow-up can refer back to.

No named-entity model ships for these languages here, so mentions come from the script
itself: runs of capitalised words in Latin text ("Li Lei", "ByteDance AI Labs", "UCSB"), and
in Chinese jieba's part-of-speech tags (``nr`` names a person, ``ns`` / ``nt`` / ``nz`` places
and organisations) with the noun phrase a question opens with as its subject. A mention is a
``person``, a ``thing`` (organisations, places, titles) or either, so "he" and "it" find different ones.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rag.text.language import CJK, pos_words

PERSON, THING = "person", "thing"
EITHER = "either"  # a name the script alone does not tell (a Chinese name jieba does not tag as one)

# capitalised words (with acronyms and inner capitals: "UCSB", "ByteDance", "McDonald's"),
# joined by spaces, hyphens or a lower-case linking word ("University of California")
_UPPER = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĢĪĮİĶĹĻĽŁŃŅŇŌŐŒŔŘŚŞŠŢŤŪŮŰŲŸŹŻŽ"
_CAP = rf"(?:[{_UPPER}][A-Za-zÀ-ÿĀ-ž0-9&'’.-]*[A-Za-zÀ-ÿĀ-ž0-9]|[{_UPPER}])"
_LATIN_RUN = re.compile(rf"{_CAP}(?:(?:\s+(?:of|de|da|dan|and|for|the|van|von|bin|binti)\s+|[\s-]+){_CAP})*")
# capitalised because they open a sentence or a question, not because they name something
_OPENERS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could will would should has "
    "have had in on at after before during since for from to by with and but so also then the a an if according "
    "tell name list give please apa apakah siapa kapan mengapa kenapa bagaimana berapa dimana di mana ke dari "
    "dan lalu kalau sejak setelah sebelum pada dalam untuk sebagai tahun ini itu dr mr mrs ms prof sir "
    "pak bu bapak ibu he she it they his her its their him them dia ia beliau mereka".split())
# words that make a capitalised run an organisation, a place or a title rather than a person
_THING_WORDS = frozenset(
    "lab labs laboratory laboratories university universitas institute institut research academy college "
    "school company corporation corp inc ltd group bank center centre department ministry council committee "
    "agency foundation association society office bureau hospital museum library press times news post "
    "daily journal magazine city county province state republic kingdom river lake mountain island street "
    "road station airport park hall church party team club league cup award prize project program programme "
    "ai ml nlp ceo cto cfo vp phd professor united states new north south east west san santa los las saint st "
    "fort mount springs valley sea ocean islands empire dynasty war bible tower cathedral brain english chinese "
    "german french indonesian american british japanese korean russian spanish italian serbian mongol mongolian "
    "european asian african catholic protestant christian muslim".split())
# words that head a name continued by "of" ("University of California", "Bank of China")
_OF_HEADS = frozenset("university universitas institute institut bank republic kingdom museum ministry department "
                      "school college academy center centre society association council church city state states "
                      "laboratory lab school board court house".split())
_CHINESE_THING = re.compile(r"(公司|集团|集團|实验室|實驗室|大学|大學|学院|學院|研究院|研究所|中心|部门|部門|机构|機構|"
                            r"团队|團隊|银行|銀行|医院|醫院|学校|學校|政府|委员会|委員會|国家|國家|[省市县縣]|[Ll]abs?)$")
# parts of speech that may stand in the noun phrase a Chinese question opens with
_NP_TAGS = ("n", "nr", "ns", "nt", "nz", "eng", "vn", "j", "z")
_PROPER_TAGS = ("nr", "ns", "nt", "nz", "eng", "j")
_QUESTION_WORDS_ZH = frozenset("什么 什麼 哪 哪里 哪裡 哪儿 哪個 哪个 哪家 哪所 哪位 哪年 谁 誰 几 幾 多少 怎么 怎麼 为什么 為什麼 "
                               "如何 是否 吗 嗎 呢 何时 何時".split())


@dataclass(frozen=True)
class Mention:
    """An entity named in a text: its words as written there, where, and whether it is a person."""

    text: str
    start: int
    end: int
    kind: str  # PERSON, THING or EITHER


def _latin_kind(words: list[str]) -> str:
    """A run with an organisation or place word, or an acronym, is a thing; two or three other
    capitalised words a person's name; a single word could be either."""
    lowered = [w.lower().strip(".'’") for w in words]
    if any(w in _THING_WORDS for w in lowered) or any(w.isupper() and len(w) > 1 for w in words):
        return THING
    if len(words) == 1:
        return EITHER
    return PERSON if len(words) <= 3 else THING


def _split_of(text: str, start: int) -> list[tuple[int, str]]:
    """A run cut at each linking word not led by an organisation word: "CTO of Adept AI" is two
    names, "University of California" one."""
    parts, pos = [], 0
    for m in re.finditer(r"\s+(?:of|for|and|dan)\s+", text):
        before = text[pos:m.start()].split()[-1].lower()
        if before not in _OF_HEADS:
            parts.append((start + pos, text[pos:m.start()]))
            pos = m.end()
    return parts + [(start + pos, text[pos:])]


def latin_mentions(text: str) -> list[Mention]:
    """Capitalised runs of Latin text, without the question word or conjunction that opens it."""
    out = []
    for m in _LATIN_RUN.finditer(text):
        for start, run in _split_of(m.group(), m.start()):
            words = run.split()
            # a capitalised opener ("What", "Siapa", "And") is dropped from the front of the run
            while words and words[0].lower() in _OPENERS:
                skip = run.index(words[0]) + len(words[0])
                start, run = start + skip, run[skip:]
                start, run = start + len(run) - len(run.lstrip()), run.lstrip()
                words = words[1:]
            run = re.sub(r"(?:'s|’s|['’.])$", "", run)  # "Luther's" names Luther
            if words and run:
                out.append(Mention(run, start, start + len(run), _latin_kind(run.replace("-", " ").split())))
    return out


def noun_phrases(text: str) -> list[tuple[int, int, str]]:
    """(start, end, first word's tag) of each run of nouns and names in Chinese ``text`` (字节 + 跳动 +
    AI Lab: one phrase until a verb, particle, preposition or question word)."""
    out = []
    for word, flag, start, end in pos_words(text):
        joins = out and out[-1][1] == start
        if (not word.strip() or word in "·・") and joins:  # "AI Lab", "路德维希·普朗特": one phrase
            out[-1] = (out[-1][0], end, out[-1][2])
        elif flag.startswith(_NP_TAGS) and word not in _QUESTION_WORDS_ZH and word.strip():
            # a person's name runs on only into a name (漆远 | 回国); other nouns join (字节 + 跳动)
            joins = joins and not (out[-1][2].startswith(("nr", "z")) and not flag.startswith(("nr", "eng")))
            out[-1:] = [(out[-1][0], end, out[-1][2])] if joins else out[-1:] + [(start, end, flag)]
    out = [(s, s + len(text[s:e].rstrip()), flag) for s, e, flag in out]
    return [(s, e, flag) for s, e, flag in out if CJK.search(text[s:e])]


def chinese_mentions(text: str) -> list[Mention]:
    """Names jieba tags in Chinese text (persons ``nr``; places, organisations ``ns nt nz``), and the
    noun phrase the text opens with (its subject: "腾讯优图实验室的负责人是谁" → 腾讯优图实验室)."""
    out = [Mention(text[start:end], start, end, PERSON if flag.startswith("nr") else THING)
           for word, flag, start, end in pos_words(text)
           if flag.startswith(_PROPER_TAGS) and CJK.search(word) and len(word) >= 2]
    phrases = noun_phrases(text)
    if phrases and not text[:phrases[0][0]].strip():
        start, end, flag = phrases[0]
        phrase = text[start:end]
        kind = (THING if _CHINESE_THING.search(phrase) or flag.startswith(("ns", "nt", "nz"))
                else PERSON if flag.startswith("nr") else EITHER)
        subject = Mention(phrase, start, end, kind)
        out = [subject] + [m for m in out if not (m.start >= start and m.end <= end)]
    return out


@functools.lru_cache(maxsize=4096)  # every pronoun of a follow-up looks at the same turns' names
def mentions(text: str) -> tuple[Mention, ...]:
    """Every entity ``text`` names, in order of appearance (the first is taken as its subject)."""
    found = latin_mentions(text)
    if CJK.search(text):
        zh = chinese_mentions(text)
        # a Chinese phrase takes in the Latin words inside it (字节跳动AI Lab); other overlaps go to Latin
        found = [m for m in found if not any(z.start <= m.start and m.end <= z.end for z in zh)]
        zh = [z for z in zh if not any(m.start < z.end and z.start < m.end for m in found)]
        found = sorted(found + zh, key=lambda m: m.start)
    return tuple(found)


# what a question asks for, when its answer is itself an entity a later turn can refer to (a name
# asked for may be a person's or a thing's)
_ASKS_NAME = re.compile(r"\bname\b|\bcalled\b|叫什么|叫什麼|名字|\bnama\b", re.I)
_ASKS_PERSON = re.compile(r"\bwho(?:m)?\b|谁|誰|\bsiapa(?:kah)?\b", re.I)
_ASKS_THING = re.compile(
    r"\b(?:which|what) (?!year|month|day|date|time|did|does|do|is|was|are|were)\w+|\bwhere\b|"
    r"(?:哪|什么|什麼)(?:一?[个個家所位间間座])?(?:公司|企业|企業|大学|大學|学校|學校|实验室|實驗室|机构|機構|"
    r"部门|部門|城市|国家|國家|地方|组织|組織|团队|團隊|平台|平臺|框架|产品|產品|职位|職位)|哪里|哪裡|哪儿|"
    r"\b(?:perusahaan|universitas|lembaga|kota|negara|laboratorium|organisasi|tim|jabatan) apa\b|"
    r"\bdi ?mana\b|\bmana\b", re.I)


def answer_kind(question: str, answer: str) -> str | None:
    """PERSON or THING when ``answer`` answers a question about an entity (who, which company,
    where…) and is short enough to be one; None for dates, numbers, clauses and reasons."""
    if not answer or len(answer) > 40 or re.search(r"[。，,.;；!?！？]", answer.strip()[:-1]):
        return None
    if _ASKS_PERSON.search(question):
        return PERSON
    named = mentions(answer)
    own = named[0].kind if len(named) == 1 and named[0].text == answer.strip() else None
    if _ASKS_THING.search(question):
        return own if own not in (None, EITHER) else THING
    if _ASKS_NAME.search(question):
        return own or EITHER
    return None
