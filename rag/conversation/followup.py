"""Follow-up questions completed from the conversation, by rules over each language's words.

A question that leans on earlier turns is rewritten into one that stands alone:

- **pronouns and possessives** (he, his, it, there; 他, 她的, 它, 其, 该公司, 那里; dia, ia, mereka,
  -nya, "perusahaan tersebut") take the entity they refer to, most recent turn first: the previous
  question's subject when it may be of the pronoun's kind (a person for "he", a thing for "it"), else
  the previous answer when it is such an entity, else another entity the question names ("it" and
  "there" look for a sure thing first; the answer to "Who founded Aibee?" is that question's subject);
- **ellipsis** ("And Baidu?", "博士呢？", "Bagaimana dengan Tencent?") is the previous question with
  the fragment in place of the name or word whose replacement changes it least (``similar``: the
  caller's encoder; a name stands in for a name of its kind);
- **a bare question word** ("When?", "为什么？", "Kapan?") asks the previous question again with it.

A question that names its own entity before a pronoun ("When did Andrew Ng say he left?") or has
no pronoun, ellipsis or bare question word is left as it is, whatever the history. Rules, not a
model: no generative model is used (or wanted), the cues are closed word classes in each language,
and a rewrite must be exact and explainable ("Read as: …").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.conversation.mentions import EITHER, PERSON, THING, Mention, answer_kind, mentions, noun_phrases
from rag.text.crosslingual import STOPWORDS
from rag.text.language import CJK, cjk_share

Similar = Callable[[str, list[str]], list[float]]  # a text against options: one similarity each
Native = Callable[[str], str | None]  # a Latin-script name as the documents write it in Chinese

TURNS_BACK = 3  # earlier turns searched for a referent, most recent first


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the question, its top answer's text ("" for none, None unknown), and
    the question as it was read when it was itself a follow-up."""

    question: str
    answer: str | None = None
    understood: str | None = None

    @property
    def read(self) -> str:
        return self.understood or self.question


# what a referring word may take besides PERSON and THING ("there": a thing, never an unsure name);
# PHRASE marks a Chinese noun phrase an ellipsis may replace
ANY, PLACE, PHRASE = "any", "place", "phrase"
# a person's word takes the subject when its name may be a person's; "it" and "there" look for a sure
# thing first (the subject "Tesla" may be a person: "it" after "In which village was Tesla born?" is the village)
_STRICT = {PERSON: (PERSON, EITHER), THING: (THING,), PLACE: (THING,), ANY: (PERSON, THING, EITHER)}
_WANTS = {PERSON: (PERSON, EITHER), THING: (THING, EITHER), PLACE: (THING,), ANY: (PERSON, THING, EITHER)}

# ---- referring words, by language ---------------------------------------------------------
_EN_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|it|its|they|them|their|there)\b", re.I)
_EN_KIND = {"he": PERSON, "him": PERSON, "his": PERSON, "she": PERSON, "her": PERSON, "hers": PERSON,
            "it": THING, "its": THING, "they": ANY, "them": ANY, "their": ANY, "there": PLACE}
# pronouns of one gender never take a referent a pronoun of the other took (his marriage to her)
_GENDER = {"he": "m", "him": "m", "his": "m", "他": "m", "she": "f", "her": "f", "hers": "f", "她": "f"}
_EN_POSSESSIVE = {"his", "hers", "its", "their"}
_EN_NOT_AFTER_HER = frozenset("in at to for with from as after before about by on and or than set was is did do "
                              "does has have had become became get got make made say said".split())
_EN_EXISTENTIAL = re.compile(r"\bthere\s+(?:is|are|was|were|be|been|exist|remain)\b|"
                             r"\b(?:is|are|was|were)\s+there\b", re.I)
_EN_DEMONSTRATIVE = re.compile(
    r"\b(?:that|this|the same|the said)\s+(company|firm|lab|laboratory|university|institute|organi[sz]ation|"
    r"team|group|school|city|country|place|department|person|man|woman|scientist|professor|researcher)\b", re.I)
_PERSON_NOUNS = ("person", "man", "woman", "scientist", "professor", "researcher", "人", "位", "名", "科学家",
                 "科學家", "教授", "学者", "學者", "orang", "ilmuwan", "profesor", "peneliti", "tokoh")
_ID_PRONOUN = re.compile(r"\b(dia|ia|beliau|mereka)\b", re.I)
_ID_KIND = {"dia": PERSON, "ia": PERSON, "beliau": PERSON, "mereka": ANY}
_ID_DEMONSTRATIVE = re.compile(
    r"\b(perusahaan|universitas|lembaga|laboratorium|lab|institut|organisasi|tim|kota|negara|tempat|orang|"
    r"ilmuwan|profesor|peneliti|tokoh|dinasti|kerajaan|kekaisaran|partai|suku|desa|pulau|produk|proyek)\s+"
    r"(?:tersebut|itu)\b", re.I)
_ID_NYA = re.compile(r"\b([a-z]{3,})nya\b", re.I)
_ID_THERE = re.compile(r"\b(?:di|ke|dari) (?:sana|situ)\b", re.I)
# words that end in -nya without a possessor ("hanya" only, "sebelumnya" before)
_ID_NYA_WORDS = frozenset(
    "hanya punya sebelumnya sesudahnya setelahnya selanjutnya berikutnya lainnya biasanya akhirnya sebenarnya "
    "seharusnya rupanya agaknya karenanya bahwasanya tampaknya nampaknya misalnya contohnya umumnya khususnya "
    "terutamanya sayangnya untungnya pertamanya selamanya semuanya sepertinya katanya apanya bagaimananya "
    "caranya adanya tanya bertanya bertanyanya sehingganya seterusnya kemudiannya".split())
_ZH_PRONOUN = re.compile(r"(?<![其吉])(他们|他們|她们|她們|它们|它們|他|她|它)(?![人乡鄉])|(?<![尤极極与與])其(?=[^他它中实實次余餘]|$)")
_ZH_KIND = {"他": PERSON, "她": PERSON, "它": THING, "其": ANY}
_ZH_DEMONSTRATIVE = re.compile(
    r"(?:该|該|这|這|那|此)(?:一|个|個|家|所|位|名|间|間)?(公司|企业|企業|集团|集團|实验室|實驗室|大学|大學|学校|學校|"
    r"高校|机构|機構|研究院|部门|部門|团队|團隊|城市|国家|國家|地方|人|科学家|科學家|教授|学者|學者)|"
    r"(那里|那裡|那儿|那兒|该校|該校)")
_EN_PREPOSITION = re.compile(r"\b(?:in|at|to|from|into|near|of)\s*$", re.I)

# ---- ellipsis and bare question words -------------------------------------------------------
_LEADING = re.compile(r"^\s*(?:and|but|so|also|then|dan|lalu|terus|kemudian|那么|那麼|那|还有|還有|另外)[\s,，]*",
                      re.I)
_EN_ELLIPSIS = re.compile(r"^\s*(?:and what about|and how about|what about|how about|what of|and|also)\s+"
                          r"(?P<f>[^?？]+?)\s*[?？]?\s*$", re.I)
_ID_ELLIPSIS = re.compile(r"^\s*(?:bagaimana dengan|kalau|dan|lalu|terus)\s+(?P<f>[^?？]+?)\s*[?？]?\s*$", re.I)
_ZH_ELLIPSIS = re.compile(r"^\s*(?:那么|那麼|那|还有|還有)?(?P<f>[^?？。]{1,16}?)(?:呢|怎么样|怎麼樣|又如何)\s*[?？]?\s*$")
_QUESTION_WORD = re.compile(
    r"^(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|has|have|"
    r"apa|apakah|siapa|kapan|mengapa|kenapa|bagaimana|berapa|dimana|di mana|ke mana)\b", re.I)
_EN_BARE = re.compile(r"^\s*(?:and\s+)?(when|where|why|how|how long|how many|how much|who|which year|"
                      r"in which year|what year|in what year)\s*[?？]?\s*$", re.I)
_ID_BARE = re.compile(r"^\s*(?:dan\s+|lalu\s+)?(kapan|di ?mana|mengapa|kenapa|bagaimana|berapa lama|berapa|"
                      r"siapa|tahun berapa)\s*[?？]?\s*$", re.I)
_ZH_BARE = re.compile(r"^\s*(?:那|那么|那麼)?(什么时候|什麼時候|为什么|為什麼|在哪里|在哪裡|哪里|哪裡|哪一年|哪年|多久|"
                      r"怎么样|怎麼樣|谁|誰)\s*[?？]?\s*$")
_EN_WH_PHRASE = re.compile(r"^\s*(?:(?:which|what|whose|how)\s+(?!(?:did|does|do|is|was|are|were|has|have|had|can|"
                           r"could|will|would)\b)\w+|what|which|who|whom|when|where|why|how)\s+", re.I)
_ASKS_SUBJECT = re.compile(r"\s*(?:who(?!\s+(?:did|does|do|is|was|are|were|has|have|had|will|would|can|could)\b)|"
                           r"siapa(?:kah)?\s+yang\b|[谁誰])", re.I)
_AUXILIARY = re.compile(r"(?:did|does|do|is|was|are|were|has|have|had|can|could|will|would)\b", re.I)
_ID_WH = re.compile(r"\b(?:apa|apakah|siapa|kapan|mengapa|kenapa|bagaimana|berapa|di ?mana)\b\s*", re.I)
_ZH_WH = re.compile(r"哪一?[个個家所位年间間]?|什么时候|什麼時候|什么|什麼|谁|誰|为什么|為什麼|多久|多少|几|幾")
_STOP = STOPWORDS | frozenset("yang dan di ke dari apa siapa kapan mengapa bagaimana berapa dengan untuk pada dalam "
                              "adalah ini itu sebagai oleh atau".split())  # English's, and Indonesian's
_NUMBER = re.compile(r"\d[\d,.]*\s*(?:年|月|日|号|號)?(?:\s*\d+\s*(?:月|日|号|號))*")
_LATIN_WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’-]*")


def is_chinese(text: str) -> bool:
    return cjk_share(text) > 0.3


def _candidates(turn: Turn) -> list[Mention]:
    """Entities a turn names, in the order a pronoun looks at them: its question's subject (its first
    name), its answer (when it is an entity), then the question's other names."""
    named = mentions(turn.read)
    kind = answer_kind(turn.read, turn.answer or "")
    if kind is None:
        return list(named)
    answer = Mention(turn.answer.strip(), 0, len(turn.answer.strip()), kind)
    # "Who founded Aibee?": the answer is the subject
    return [answer, *named] if _ASKS_SUBJECT.match(turn.read) else [*named[:1], answer, *named[1:]]


def _gendered(turn: Turn) -> dict[str, set[str]]:
    """The names a turn's he- or she-words were read as (those its reading adds to its question)."""
    if not turn.understood:
        return {}
    words = {_GENDER[w.lower()] for w in re.findall(r"\b\w+\b|[他她]", turn.question) if w.lower() in _GENDER}
    added = {m.text for m in mentions(turn.understood)} - {m.text for m in mentions(turn.question)}
    return {g: added for g in words} if len(words) == 1 else {}


def _pick(turns: Sequence[Turn], wanted: str, gender: str | None, taken: dict[str, str]) -> Mention | None:
    """The referent of a word wanting ``wanted``: the most recent turn's first entity of exactly
    that kind, else its first that may be of it; then earlier turns. A gendered word keeps the name
    the previous turn's word of its gender took, and never takes one the other gender took."""
    other = {"m": "f", "f": "m"}.get(gender or "")
    for n, turn in enumerate(reversed(list(turns)[-TURNS_BACK:])):
        cands = _candidates(turn)
        if gender and n == 0:
            previous = _gendered(turn)
            kept = [m for m in cands if m.text in previous.get(gender, ())]
            excluded = previous.get(other, set()) | ({taken[other]} if other in taken else set())
            cands = kept + [m for m in cands if m.text not in excluded and m not in kept]
        elif other in taken:
            cands = [m for m in cands if m.text != taken[other]]
        for kinds in (_STRICT[wanted], _WANTS[wanted]):
            found = next((m for m in cands if m.kind in kinds), None)
            if found is not None:
                return found
    return None


def _own_before(question: str, at: int, wanted: str) -> bool:
    """Whether the question itself names an entity of this kind before position ``at``."""
    return any(m.end <= at and m.kind in _WANTS[wanted] for m in mentions(question))


def _anaphors(question: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, form) of each word that refers back; form "name", "possessive", "phrase"
    (a demonstrative phrase, replaced whole), "noun:N" (N and the name: Indonesian -nya, "X tersebut")
    or "place:P" (P and the name: "di sana")."""
    out = []
    existential = [m.span() for m in _EN_EXISTENTIAL.finditer(question)]
    for m in _EN_PRONOUN.finditer(question):
        word = m.group(1).lower()
        if word == "there" and any(s <= m.start() < e for s, e in existential):
            continue
        form = "possessive" if word in _EN_POSSESSIVE else "name"
        if word == "her":
            following = re.match(r"\s+([A-Za-z']+)", question[m.end():])
            form = "possessive" if following and following.group(1).lower() not in _EN_NOT_AFTER_HER else "name"
        out.append((m.start(), m.end(), _EN_KIND[word], form))
    for m in _EN_DEMONSTRATIVE.finditer(question):
        out.append((m.start(), m.end(), PERSON if m.group(1).lower() in _PERSON_NOUNS else THING, "phrase"))
    for m in _ID_PRONOUN.finditer(question):
        out.append((m.start(), m.end(), _ID_KIND[m.group(1).lower()], "name"))
    for m in _ID_DEMONSTRATIVE.finditer(question):
        kind = PERSON if m.group(1).lower() in _PERSON_NOUNS else THING
        out.append((m.start(), m.end(), kind, "noun:" + m.group(1)))
    for m in _ID_THERE.finditer(question):
        out.append((m.start(), m.end(), PLACE, "place:" + m.group().split()[0]))
    if all(form.startswith("place:") for _, _, _, form in out):
        # -nya beside another referring word is that word's referent again ("dia … saudaranya")
        for m in _ID_NYA.finditer(question):
            if m.group(0).lower() not in _ID_NYA_WORDS:
                out.append((m.start(), m.end(), ANY, "noun:" + m.group(1)))
    for m in _ZH_DEMONSTRATIVE.finditer(question):
        noun = m.group(1) or ""
        out.append((m.start(), m.end(), PERSON if noun in _PERSON_NOUNS else THING if noun else PLACE, "phrase"))
    taken = [(s, e) for s, e, _, _ in out]
    for m in _ZH_PRONOUN.finditer(question):
        if not any(s <= m.start() < e for s, e in taken):
            out.append((m.start(), m.end(), _ZH_KIND[m.group()[0]] if len(m.group()) == 1 else ANY, "name"))
    return sorted(out)


def _in_script(name: str, question: str, native: Native | None) -> str:
    """The name as a question in this script reads it: a Latin name in a Chinese question takes
    the documents' characters for it when ``native`` finds them."""
    if native is not None and is_chinese(question) and not CJK.search(name):
        return native(name) or name
    return name


def _substitute(question: str, anaphors, turns: Sequence[Turn], native: Native | None) -> str | None:
    out, pos, taken, chosen = [], 0, {}, {}
    for start, end, kind, form in anaphors:
        gender = _GENDER.get(question[start:end].lower())
        if start < pos or _own_before(question, start, kind):
            continue
        key = gender or kind
        referent = chosen.get(key) or _pick(turns, kind, gender, taken)
        if referent is None:
            continue
        chosen[key] = referent
        if gender:
            taken[gender] = referent.text
        name = _in_script(referent.text, question, native)
        if form == "possessive":
            name += "'s"  # possessives are English: 他的 keeps its 的, -nya is a "noun" form
        elif form.startswith(("noun:", "place:")):
            name = f"{form.split(':', 1)[1]} {name}"
        elif kind == PLACE and not CJK.search(question) and not _EN_PREPOSITION.search(question[:start]):
            name = f"in {name}"  # "work for him there" → "work for him in New York City"
        if not CJK.search(name) and is_chinese(question):
            name = f" {name} "
        out += [question[pos:start], name]
        pos = end
    if not chosen:
        return None
    return re.sub(r"\s{2,}", " ", "".join(out) + question[pos:]).strip()


def _slots(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """What a fragment can stand in for in a question: its names and (Chinese) noun phrases, each
    (start, end, kind); and its other content words."""
    named = [(m.start, m.end, m.kind) for m in mentions(text)]
    if CJK.search(text):
        named += [(s, e, PHRASE) for s, e, _ in noun_phrases(text)
                  if not any(a < e and s < b for a, b, _ in named)]
    words = [(m.start(), m.end(), EITHER) for m in _LATIN_WORD.finditer(text)
             if m.group().lower() not in _STOP and len(m.group()) >= 3
             and not any(a < m.end() and m.start() < b for a, b, _ in named)]
    return named, words


def _fill(previous: str, fragment: str, similar: Similar | None, native: Native | None) -> str | None:
    """The previous question with ``fragment`` in place of the name or word that, replaced by it,
    changes the question least (``similar``: the question against each variant): a company for a
    company, 博士 for 硕士."""
    fragment = re.sub(r"^(?:his|her|its|their|the|他的|她的|它的|其)\s*", "", fragment.strip(), flags=re.I)
    if not fragment:
        return None
    if _NUMBER.fullmatch(fragment):  # "1958年呢？": the previous question's date or number
        m = _NUMBER.search(previous)
        return previous[:m.start()] + fragment + previous[m.end():] if m else None
    own = mentions(fragment)
    kind = own[0].kind if own else EITHER
    named, words = _slots(previous)
    pool = [s for s in named if kind == EITHER or s[2] in _WANTS[kind]]
    # names are compared in context (a verb replaced changes a question little, so plain words
    # are compared with the fragment itself)
    in_context = bool(pool)
    pool = pool or words
    if not pool:
        return None
    fragment = _in_script(fragment, previous, native)
    variants = [previous[:start] + fragment + previous[end:] for start, end, _ in pool]
    if similar is None or len(variants) == 1:  # without an encoder: the last name of the kind
        return variants[-1]
    scores = similar(previous, variants) if in_context else similar(fragment, [previous[a:b] for a, b, _ in pool])
    return variants[max(range(len(variants)), key=scores.__getitem__)]


def _bare(question: str, previous: str) -> str | None:
    """A bare question word ("When?") asked of the previous question's content."""
    for pattern in (_EN_BARE, _ID_BARE, _ZH_BARE):
        m = pattern.match(question)
        if not m:
            continue
        word = m.group(1)
        if CJK.search(word):
            subject = mentions(previous)
            rest = _ZH_WH.sub("", previous).rstrip("?？ ")
            if subject and subject[0].start == 0:
                head = subject[0].text
                return head + word + rest[len(head):] + "？"
            return rest + "，" + word + "？"
        rest = _EN_WH_PHRASE.sub("", previous, count=1) if pattern is _EN_BARE else _ID_WH.sub("", previous)
        rest = rest.strip().rstrip("?？").strip()
        if pattern is _EN_BARE and not _AUXILIARY.match(rest):  # "Which pope demanded …" has no "did" to keep
            return f"{previous.strip().rstrip('?？')} — {word.lower()}?"
        return f"{word[0].upper()}{word[1:]} {rest}?"
    return None


def resolve(question: str, turns: Sequence[Turn], similar: Similar | None = None,
            native: Native | None = None) -> str | None:
    """``question`` written out so that it stands alone, given the earlier ``turns`` (earliest
    first); None when it already stands alone (or nothing in the turns completes it)."""
    turns = [t for t in turns if t.question and t.question.strip()]
    if not turns:
        return None
    previous = turns[-1].read
    bare = _bare(question, previous)
    if bare is not None:
        return bare
    for pattern in (_EN_ELLIPSIS, _ID_ELLIPSIS, _ZH_ELLIPSIS):
        m = pattern.match(question)
        if m and not _QUESTION_WORD.match(m.group("f")) and len(m.group("f").split()) <= 6 \
                and not _ZH_WH.search(m.group("f")):
            filled = _fill(previous, m.group("f"), similar, native)
            if filled is not None:
                return filled
    body = _LEADING.sub("", question, count=1)
    body = body[:1].upper() + body[1:] if body[:1].islower() and body != question else body
    return _substitute(body, _anaphors(body), turns, native)
