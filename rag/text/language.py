"""Language and script: detection, traditional/simplified folding, BM25 tokens.

Folding maps text to one comparable form (simplified Chinese via OpenCC, NFKC, lower
case) *without changing its length*, so offsets found in folded text are offsets in
the text it came from.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata

log = logging.getLogger(__name__)

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_RUN = re.compile(CJK.pattern + "+")
# a run of letters and digits other than Chinese characters, which ``\w`` includes: without
# them "Lab成立于2016年" would be one word and hide 成立 and 2016
WORD = r"[^\W_" + CJK.pattern[1:-1] + "]+"
_TOKEN = re.compile(CJK_RUN.pattern + rf"|{WORD}(?:[.'’-]{WORD})*", re.UNICODE)  # a Chinese run, or a word


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


def _same_length(converter, text: str) -> str:
    """OpenCC's conversion of ``text`` phrase by phrase, or character by character where its
    phrase rules would change the length (offsets into ``text`` must hold)."""
    converted = converter.convert(text)
    return converted if len(converted) == len(text) else "".join(converter.convert(ch) for ch in text)


def fold(text: str) -> str:
    """Simplified Chinese, NFKC per character, lower case; same length as ``text``."""
    converted = _same_length(_t2s(), text)
    out = []
    for ch in converted:
        n = unicodedata.normalize("NFKC", ch).lower()
        out.append(n if len(n) == 1 else ch.lower() if len(ch.lower()) == 1 else ch)
    return "".join(out)


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Folded script, lower case, no spaces or punctuation: "2022 年 3 月" == "2022年3月" (answers that
    are the same answer; the metrics compare on it too)."""
    return _PUNCT.sub("", fold(text))


def cjk_share(text: str) -> float:
    """Fraction of letters that are CJK ideographs."""
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if CJK.match(c)) / len(letters) if letters else 0.0


def _traditional(han: str) -> bool:
    """Whether Chinese characters are written in the traditional script (over 3 % change under t2s)."""
    changed = sum(a != b for a, b in zip(han, _t2s().convert(han)))
    return bool(han) and changed / len(han) > 0.03


LANGUAGE_NAMES = {"zh-Hans": "Chinese (simplified)", "zh-Hant": "Chinese (traditional)", "en": "English",
                  "id": "Indonesian", "ms": "Malay", "ja": "Japanese", "ko": "Korean", "und": "undetermined"}


def language_name(code: str) -> str:
    """A readable name for a code of ``detect_language`` (the code itself when it has none)."""
    return LANGUAGE_NAMES.get(code, code)


def detect_language(text: str) -> str:
    """``zh-Hant``, ``zh-Hans``, or a two-letter code for alphabetic text (``en``, ``id``…)."""
    sample = text[:4000]
    if cjk_share(sample) > 0.3:
        return "zh-Hant" if _traditional("".join(CJK.findall(sample))) else "zh-Hans"
    try:
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0
        return detect(sample) if sample.strip() else "und"
    except Exception:  # langdetect raises on text with no features
        return "und"


@functools.lru_cache(maxsize=4096)
def _writes_traditional(text: str) -> bool:
    return _traditional("".join(CJK.findall(text)))


def to_traditional(text: str) -> str:
    """``text`` in traditional characters, the same length."""
    return _same_length(_s2t(), text)


def in_script_of(text: str, reference: str) -> str:
    """Chinese ``text`` written in the script of ``reference`` (OpenCC, phrase by phrase); as it
    is when both write the same script, or either has no Chinese characters."""
    if not CJK.search(text) or not CJK.search(reference):
        return text
    wanted = _writes_traditional(reference)
    if wanted == _writes_traditional(text):
        return text
    return (_s2t() if wanted else _t2s()).convert(text)


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.lru_cache(maxsize=4096)  # a conversation's turns are read again at every follow-up
def pos_words(text: str) -> tuple[tuple[str, str, int, int], ...]:
    """jieba's words of ``text`` with their part-of-speech tags: (folded word, tag, start, end), the
    offsets into ``text`` (folding keeps its length)."""
    import jieba.posseg

    _jieba()
    out, pos = [], 0
    for w in jieba.posseg.cut(fold(text)):
        out.append((w.word, w.flag, pos, pos + len(w.word)))
        pos += len(w.word)
    return tuple(out)


def words_of(text: str) -> list[tuple[str, int, int]]:
    """jieba's words of ``text`` (precise mode, no tagging): (folded word, start, end)."""
    out, pos = [], 0
    for word in _jieba().lcut(fold(text)):
        out.append((word, pos, pos + len(word)))
        pos += len(word)
    return out


def jieba_frequency(folded_word: str) -> int:
    """How often jieba's dictionary counts a (folded) word; 0 for a word it does not hold."""
    return _jieba().dt.FREQ.get(folded_word, 0)


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: jieba words (search mode) for Chinese runs, words elsewhere."""
    tokens = []
    for match in _TOKEN.finditer(fold(text)):
        piece = match.group()
        if CJK.match(piece):
            tokens.extend(w for w in _jieba().lcut_for_search(piece) if w.strip())
        else:
            tokens.append(piece)
    return tokens


def _pinyin_grams(text: str, sizes: tuple[int, ...]):
    """(joined toneless pinyin, start, end) of every window of ``sizes`` characters of each
    run of Chinese characters in ``text``, left to right."""
    for match in CJK_RUN.finditer(fold(text)):
        syllables = _syllables(match.group())
        if len(syllables) != len(match.group()):  # a character without pinyin: no alignment
            continue
        for n in sizes:
            for i in range(len(syllables) - n + 1):
                yield "".join(syllables[i:i + n]), match.start() + i, match.start() + i + n


@functools.lru_cache(maxsize=16384)  # the answer scorer reads the same passages' runs again and again
def _syllables(run: str) -> tuple[str, ...]:
    # pypinyin reads a run word by word (its own segmentation, then each word's reading); the
    # words recur across documents, so their readings are cached: the same syllables as
    # lazy_pinyin(run) (checked on 145 000 runs of the training articles), ≈ 4× faster
    return tuple(s for word in _pypinyin().seg(run) for s in _word_syllables(word))


@functools.lru_cache(maxsize=65536)
def _word_syllables(word: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    return tuple(lazy_pinyin(word))


@functools.lru_cache(maxsize=1)
def _pypinyin():
    from pypinyin.core import Pinyin

    return Pinyin()


def pinyin_tokens(text: str) -> list[str]:
    """Toneless pinyin of every 2- and 3-character window of Chinese text ("王刚" → "wanggang").

    This lets a name written in Latin letters ("Wang Gang", "Ma Weiying") match the
    characters it transliterates, whatever the words around it.
    """
    return [joined for joined, _, _ in pinyin_spans(text)]


def pinyin_spans(text: str) -> list[tuple[str, int, int]]:
    """``pinyin_tokens`` with where each window is: (joined pinyin, start, end) in ``text``."""
    return list(_pinyin_grams(text, (2, 3)))


@functools.lru_cache(maxsize=2048)  # the reader asks for the same passages again and again
def pinyin_windows(text: str) -> dict[str, tuple[int, int]]:
    """Joined toneless pinyin of 2- to 4-character windows → (start, end) of its first
    occurrence in ``text`` ("漆远" → "qiyuan"). Shared and cached: do not modify the result."""
    out: dict[str, tuple[int, int]] = {}
    for joined, start, end in _pinyin_grams(text, (2, 3, 4)):
        out.setdefault(joined, (start, end))
    return out


NAME_RUN = re.compile(r"\b[A-Z][a-z]+(?:[\s-]+[A-Z][a-z]+)*")  # capitalised Latin words in a row


def _name_runs(text: str) -> list[tuple[list[str], list[str]]]:
    """Each run of capitalised Latin words: (its words, its 2- and 3-word runs joined), lower case."""
    out = []
    for match in NAME_RUN.finditer(text):
        words = re.split(r"[\s-]+", match.group().lower())
        out.append((words, ["".join(words[i:i + n]) for n in (2, 3) for i in range(len(words) - n + 1)]))
    return out


def latin_name_tokens(text: str) -> list[str]:
    """Runs of two or three capitalised Latin words, joined ("Ma Weiying" → "maweiying"): a
    full name as Latin-script text writes it, the token its characters' pinyin also makes."""
    return [joined for _, runs in _name_runs(text) for joined in runs]


def query_pinyin_tokens(question: str) -> list[str]:
    """Capitalised Latin words and their joined runs, as pinyin n-gram candidates."""
    return [token for words, runs in _name_runs(question) for token in words + runs]
