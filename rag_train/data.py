"""Training data for the reader: each source's training split (``rag_train.sources``), augmented.

Augmentations (each measured in docs/experiments/reader-and-scorer.md):
- cross-lingual questions: a question over a Chinese passage rendered into English word by
  word with CC-CEDICT (``rag.text.crosslingual``), its question phrase moved to the front in most
  renderings; words the dictionary lacks, and person names, become capitalised pinyin, the
  way English text writes Chinese names ("周伯文" → "Zhou Bowen");
- hand-written English questions (``data/human-en``) of some training examples, on request;
- unanswerable examples: a question paired with a paragraph of another article (random, or for a
  share of them on request, the one BM25 ranks highest for it).
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag_train.sources import (
    CJK_BASIC,
    QAExample,
    check_sources,
    load_source,
    load_sources,
    source_repeats,
    split_heldout,
    split_sources,
)

# ---- cross-lingual questions ------------------------------------------------

# Question phrases CEDICT glosses poorly, as English question words; English puts them first
_WH = {
    "哪一年": "which year", "哪年": "which year", "什么时候": "when", "何时": "when", "几时": "when",
    "多少": "how many", "多久": "how long", "多长时间": "how long", "几": "how many", "谁": "who",
    "哪位": "who", "哪一位": "who", "哪里": "where", "哪儿": "where", "何处": "where",
    "为什么": "why", "为何": "why", "怎么": "how", "怎样": "how", "怎么样": "how", "如何": "how",
    "什么": "what", "何": "what", "哪个": "which", "哪些": "which", "哪一个": "which", "哪一": "which",
    "哪": "which", "多高": "how tall", "多长": "how long", "多大": "how big", "多远": "how far",
    "多重": "how heavy", "多深": "how deep", "多宽": "how wide",
}
_MULTI_WH = (("什么", "时候"), ("多", "高"), ("多", "长"), ("多", "大"), ("多", "远"), ("多", "重"),
             ("多", "深"), ("多", "宽"), ("多", "久"), ("多长", "时间"), ("哪", "一"), ("哪", "一个"), ("哪一", "个"))
# Grammatical words: their English rendering ("" drops them); CEDICT's first gloss misleads
_FUNCTION = {
    "的": "", "了": "", "着": "", "过": "", "吗": "", "呢": "", "所": "", "把": "", "地": "",
    "在": "in", "于": "in", "被": "was", "由": "by", "和": "and", "与": "and", "及": "and",
    "以及": "and", "之": "of", "对": "to", "从": "from", "将": "will", "曾": "once", "曾经": "once",
    "已": "already", "已经": "already", "有": "has", "叫": "called", "叫做": "called",
    "称为": "called", "称作": "called", "被称为": "is called", "为": "as", "是": "is", "一个": "a",
    "两": "two", "两个": "two", "一": "one", "个": "", "位": "", "家": "", "名": "", "只": "", "条": "",
    "座": "", "部": "", "本": "", "种": "", "项": "", "次": "times", "该": "the", "此": "this",
    "其": "its", "他": "he", "她": "she", "它": "it", "他们": "they", "最": "most", "第一": "first",
}
_COPULA = {"是", "叫", "叫做", "称为", "称作", "为"}


def _pinyin(word: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(word, style=Style.NORMAL)).capitalize()


def _name_pinyin(name: str) -> str:
    """Person names: surname and given name as two capitalised words."""
    if len(name) <= 1:
        return _pinyin(name)
    return f"{_pinyin(name[0])} {_pinyin(name[1:])}"


def _greedy_gloss(word: str, table: dict[str, str]) -> list[str]:
    """Longest dictionary match from the left; characters left over become pinyin."""
    out, i = [], 0
    while i < len(word):
        for j in range(min(len(word), i + 4), i, -1):
            if word[i:j] in table and (j - i > 1 or j == len(word)):
                out.append(table[word[i:j]])
                i = j
                break
        else:
            out.append(_pinyin(word[i]))
            i += 1
    return out


def _gloss(word: str, flag: str, table: dict[str, str]) -> str:
    """One Chinese word in English: function words by hand, names as pinyin, else CC-CEDICT."""
    if not CJK_BASIC.search(word):
        return word.strip() if word.strip() and word not in "？?，。、“”《》「」：；！（）()" else ""
    if word in _FUNCTION:
        return _FUNCTION[word]
    if flag == "nr":
        return _name_pinyin(word)
    if word in table:
        return table[word]
    if flag.startswith("n") and len(word) > 1:
        return _pinyin(word)
    return " ".join(_greedy_gloss(word, table))


def _merge_wh(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join question phrases jieba splits ("什么"+"时候", "多"+"高") into one token."""
    out: list[tuple[str, str]] = []
    for word, flag in tokens:
        if out and (out[-1][0], word) in _MULTI_WH:
            out[-1] = (out[-1][0] + word, "wh")
        else:
            out.append((word, "wh" if word in _WH else flag))
    return out


def translate_question(question: str, rng: random.Random) -> str:
    """English rendering of a Chinese question: words glossed with CC-CEDICT, the question
    phrase moved to the front with an auxiliary ("哪个公司在2010年收购了X" → "Which company did
    in 2010 acquire X?"); a fifth keep the Chinese word order, as hurried users type."""
    import jieba.posseg as pseg

    from rag.text.crosslingual import chinese_to_english
    from rag.text.language import _jieba, _t2s

    _jieba()  # initialised once, quietly
    table = chinese_to_english()
    tokens = [(t.word, t.flag) for t in pseg.cut(_t2s().convert(question))]
    tokens = [t for t in _merge_wh(tokens) if t[0].strip()]
    at = next((i for i, (_, f) in enumerate(tokens) if f == "wh"), None)
    english = lambda toks: [g for w, f in toks if (g := _gloss(w, f, table))]  # noqa: E731
    if at is None or rng.random() < 0.2:
        words = [(_WH[w] if f == "wh" else _gloss(w, f, table)) for w, f in tokens]
        text = " ".join(w for w in words if w)
    else:
        wh_end = at + 1
        if _WH[tokens[at][0]] in ("which", "what", "how many"):  # a determiner: its noun goes along
            while wh_end < len(tokens) and tokens[wh_end][1][:1] in ("n", "m", "q") and wh_end - at < 3:
                wh_end += 1
        pre, post = tokens[:at], [t for t in tokens[wh_end:] if t[0] not in "？?"]
        wh = [_WH[tokens[at][0]]] + english(tokens[at + 1:wh_end])
        if pre and pre[-1][0] in ("在", "于") and wh[0] in ("which", "what"):
            wh.insert(0, "in")  # "在哪一年" → "in which year"
            pre = pre[:-1]
        if not pre:
            body = english(post)
        elif not english(post) and (pre[-1][0] in _COPULA or pre[-1][0] == "有" and wh[0].startswith("how")):
            # "X的Y是什么" → "What is X Y", "X有多高" → "How tall is X", "X叫什么" → "What is X called"
            body = ["is"] + english(pre[:-1]) + ([] if pre[-1][0] in ("是", "有") else ["called"])
        elif pre[-1][0] in _COPULA:
            body = ["is"] + english(pre[:-1]) + english(post)
        else:
            aux = "was" if post and post[0][0] == "被" else rng.choice(("did", "did", "is", ""))
            body = ([aux] if aux else []) + english(pre) + [w for w in english(post) if w != "was" or aux != "was"]
        text = " ".join(wh + body)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:1].upper() + text[1:] + "?"


def cross_lingual(examples: list[QAExample], seed: int = 7) -> list[QAExample]:
    """English renderings of the questions over Chinese passages (others are left out)."""
    rng = random.Random(seed)
    return [replace(e, qid=e.qid + "-en", question=translate_question(e.question, rng), lang="en")
            for e in examples if CJK_BASIC.search(e.context)]


def unanswerable(examples: list[QAExample], fraction: float, seed: int = 11,
                 retrieved: float = 0.0) -> list[QAExample]:
    """Questions paired with a paragraph from another article: the target is "no answer". The
    paragraph is a random one, or for a ``retrieved`` share of the questions the one of another
    article that BM25 ranks highest for the question among those not containing its answer — a
    distractor like those retrieval puts before the reader."""
    rng = random.Random(seed)
    contexts = [(e.group, e.context) for e in examples]
    chosen = rng.sample(examples, int(len(examples) * fraction))
    some = random.Random(seed + 1).sample(chosen, round(len(chosen) * retrieved)) if retrieved > 0 else []
    distractors = _retrieved_distractors(some, examples)
    out = []
    for e in chosen:
        drawn = rng.choice(contexts)  # drawn either way: the random pairs stay those of share 0
        group, ctx = distractors.get(e.qid) or drawn
        while group == e.group:
            group, ctx = rng.choice(contexts)
        out.append(replace(e, qid=e.qid + "-neg", context=ctx, answer_text="", answer_start=-1))
    return out


def _retrieved_distractors(questions: list[QAExample], examples: list[QAExample], depth: int = 20) -> dict:
    """qid → (group, paragraph): BM25's best paragraph (jieba words, ``rag.text.language``) for the
    question from another article, not containing the question's answer."""
    if not questions:
        return {}
    import bm25s

    from rag.text.language import tokenize

    paragraphs = sorted({(e.group, e.context) for e in examples})
    retriever = bm25s.BM25()
    retriever.index([tokenize(text) or ["\u2205"] for _, text in paragraphs], show_progress=False)
    vocab = retriever.vocab_dict
    out = {}
    for e in questions:
        ids = [vocab[t] for t in tokenize(e.question) if t in vocab]
        if not ids:
            continue
        scores = retriever.get_scores(ids)
        for i in np.argsort(-scores)[:depth]:
            group, text = paragraphs[int(i)]
            if scores[i] > 0 and group != e.group and e.answer_text not in text:
                out[e.qid] = (group, text)
                break
    return out


def _augment_heldout(held: list[QAExample]) -> list[QAExample]:
    return held + cross_lingual(held, seed=8) + unanswerable(held, 0.3, seed=12)


def training_sets(qa_dir: Path, seed: int = 13, names: tuple[str, ...] | None = None, human_repeat: int = 0,
                  anchors: str = "off", traditional: float = 0.0, retrieved_negatives: float = 0.0,
                  human_sources: tuple[str, ...] | None = None):
    """(train, heldout) lists: each source's questions (``names`` as in ``source_repeats``), English
    renderings of the Chinese ones, the hand-written English questions of training examples
    (data/human-en; only the ``human_sources``' when given) ``human_repeat`` times, unanswerable pairs.
    ``anchors`` ("off", "names", "words"): English questions as the reader reads them at that setting
    (``Config.question_anchors``); ``traditional``: the share of Chinese training articles whose passages
    are read in traditional characters (questions as asked); ``retrieved_negatives``: the share of
    unanswerable pairs with a BM25-retrieved paragraph, not a random one."""
    from rag.text.crosslingual import check_anchor_mode

    check_anchor_mode(anchors)  # before the sources are loaded
    check_sources(human_sources, "source(s) of hand-written English")
    sources = load_sources(qa_dir, names)
    train, held = split_sources(sources, seed=seed, repeats=source_repeats(names)[1])
    texts = {qid: text for name in sources if human_repeat and (human_sources is None or name in human_sources)
             for qid, text in human_english(human_english_dir(), name, "train").items()}
    english = anchored(cross_lingual(train) + with_human_english(train, texts) * human_repeat, anchors)
    negatives = unanswerable(train, 0.15, retrieved=retrieved_negatives)
    train = in_traditional(train + english + negatives, traditional, seed)
    return train, _augment_heldout(held)


def in_traditional(examples: list[QAExample], share: float, seed: int = 13) -> list[QAExample]:
    """The examples with the passages of ``share`` of their Chinese articles (chosen by article)
    in traditional characters; the conversion keeps the length, so answer offsets hold."""
    from rag.text.language import CJK, to_traditional

    if share <= 0:
        return examples
    groups = sorted({e.group for e in examples if CJK.search(e.context[:200])})
    chosen = set(random.Random(seed).sample(groups, int(len(groups) * share)))
    out = []
    for e in examples:
        if e.group in chosen:
            context = to_traditional(e.context)
            answer = context[e.answer_start:e.answer_start + len(e.answer_text)] if e.answer_start >= 0 else e.answer_text
            e = replace(e, context=context, answer_text=answer)
        out.append(e)
    return out


def anchored(examples: list[QAExample], mode: str) -> list[QAExample]:
    """The examples with their questions anchored to their own contexts (``anchor_question``)."""
    from rag.text.crosslingual import anchor_question

    return [replace(e, question=anchor_question(e.question, e.context, mode)) for e in examples]


def heldout_samples(qa_dir: Path, seed: int = 13, limit: int = 600,
                    names: tuple[str, ...] | None = None) -> dict[str, list[QAExample]]:
    """Per source, a fixed sample of its held-out examples (own language, English, unanswerable)."""
    out = {}
    for name, examples in load_sources(qa_dir, names).items():
        held = _augment_heldout(split_heldout(examples, seed=seed)[1])
        out[name] = random.Random(0).sample(held, min(limit, len(held)))
    return out


def human_english_dir() -> Path:
    """Where the hand-written English questions live (``data/human-en``)."""
    from rag.config import PROJECT_ROOT

    return PROJECT_ROOT / "data" / "human-en"


def human_english(folder: Path | None, source: str, split: str = "heldout") -> dict[str, str]:
    """Hand-written English questions of a source's ``split`` ("heldout", "train", "test" or "eval") examples, by
    question id, from ``folder/<source>_<split>_en.tsv`` (none when there is no such file)."""
    path = Path(folder) / f"{source}_{split}_en.tsv" if folder else None
    if path is None or not path.is_file():
        return {}
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]
    return {qid: text.strip() for qid, text in rows}


def with_human_english(examples: list[QAExample], texts: dict[str, str]) -> list[QAExample]:
    """The examples that have a hand-written English question, asked in English."""
    return [replace(e, question=texts[e.qid], lang="en") for e in examples if e.qid in texts]


def human_english_heldout(qa_dir: Path, seed: int = 13) -> list[QAExample]:
    """Held-out CMRC examples with hand-written English questions (data/human-en), if present."""
    held = split_heldout(load_source(qa_dir, "cmrc2018"), seed=seed)[1]
    return with_human_english(held, human_english(human_english_dir(), "cmrc2018"))
