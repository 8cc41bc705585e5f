"""Retrieval: two dense encoders and three BM25 channels, fused by a weighted score.

Candidates are the union of each channel's top hits. Each candidate gets one column per
channel (``CHANNELS``):

- ``e5``, ``use``: the encoder's cosine, standardised over the candidates (z-score), so
  neither encoder's scale dominates;
- ``bm25`` (jieba words, folded script): score over the best candidate's, times the query's
  *lexical coverage* (the IDF mass of its tokens the corpus contains over the IDF mass of all
  of them), so a Chinese question gets ~1 and an English one over Chinese text ~0.1;
- ``pinyin``: capitalised Latin words ("Wang Gang") against pinyin of Chinese character
  windows (王刚); it only fires when a transliterated name is present;
- ``translated``: the question's English words turned into Chinese words with CC-CEDICT
  (``rag.text.crosslingual``), matched on the word index, times 1 − coverage.

The fused score is the columns weighted by a ``Fusion``: weights fitted on held-out
articles (``rag fit-scorer``, ``rag_train/fusion.py``) and read from ``models/retrieval.json``.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np

from rag.config import Config
from rag.index.embeddings import FIELDS, Embedder
from rag.index.store import Index
from rag.ingest.chunks import Chunk
from rag.retrieval.fusion import CHANNELS, LEXICAL_CHANNELS, Fusion
from rag.text.crosslingual import translate_query
from rag.text.language import query_pinyin_tokens, tokenize

# paired quote marks enclose any text; straight quotes and ‘’ must close before a space or
# punctuation, so the apostrophe of "don't" does not end a quote
_QUOTED = re.compile(r"[“「『](.{4,}?)[”」』]|[\"'‘](.{6,}?)[\"'’](?=[\s.,;:!?。，！？)]|$)")


# an encoder's standardised cosine counts down to this and no lower: a passage one encoder
# misreads (a long mixed-topic chunk, a script it embeds poorly) is not vetoed when the words
# or the other encoder find it
Z_FLOOR = -1.0


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    chunk: Chunk
    score: float  # fused score (higher is better)
    dense: float  # best cosine of the e5 field over the query variants
    lexical: float  # BM25 score over words (0 when not matched)
    original: str  # the chunk as its document's original text has it: original[chunk.start:chunk.end]

    def to_json(self) -> dict:
        return dict(text=self.original, source=self.chunk.doc_id, start=self.chunk.start, end=self.chunk.end,
                    score=round(self.score, 4), cleaned=self.chunk.text)


@dataclass(frozen=True)
class Filters:
    doc_ids: frozenset[str] = frozenset()
    langs: frozenset[str] = frozenset()

    def allows(self, chunk: Chunk, index: Index) -> bool:
        if self.doc_ids and chunk.doc_id not in self.doc_ids:
            return False
        return not self.langs or index.documents[chunk.doc_id].lang in self.langs


def quoted_fragments(question: str) -> list[str]:
    """Text the user put in quotes: searched on its own as well as within the question."""
    return [(m.group(1) or m.group(2)).strip() for m in _QUOTED.finditer(question)]


def document_frequencies(bm25) -> np.ndarray:
    """Per vocabulary id, how many chunks contain the token (column sizes of the score matrix)."""
    return np.diff(np.asarray(bm25.scores["indptr"]))


def lexical_coverage(tokens: list[str], bm25, df: np.ndarray | None = None) -> float:
    """IDF-weighted share of the query tokens that the corpus vocabulary contains."""
    if not tokens:
        return 0.0
    vocab = bm25.vocab_dict
    df = document_frequencies(bm25) if df is None else df
    n = max(1, int(bm25.scores.get("num_docs", len(df))))
    known = total = 0.0
    for tok in set(tokens):
        tid = vocab.get(tok)
        freq = int(df[tid]) if tid is not None and tid < len(df) else 0
        idf = math.log(1 + (n - freq + 0.5) / (freq + 0.5))
        total += idf
        known += idf if freq else 0.0
    return known / total if total else 0.0


def _bm25_scores(bm25, tokens: list[str], k: int) -> dict[int, float]:
    tokens = [t for t in tokens if t in bm25.vocab_dict]
    if not tokens or k <= 0:
        return {}
    k = min(k, int(bm25.scores["num_docs"]))
    ids, scores = bm25.retrieve([tokens], k=k, show_progress=False, n_threads=1)
    return {int(i): float(s) for i, s in zip(ids[0], scores[0]) if s > 0}


@dataclass(frozen=True)
class Candidates:
    """A question's candidate chunks with one column per channel (``CHANNELS``)."""

    ids: list[int]
    columns: np.ndarray  # [len(ids), len(CHANNELS)]
    e5: np.ndarray  # raw e5 cosine of each candidate
    bm25: dict[int, float]  # raw BM25 word scores of the candidates it matched


def channel_columns(cosines: dict[str, np.ndarray], lexical: dict[str, dict[int, float]],
                    ids: list[int], coverage: float) -> np.ndarray:
    """The fused score's inputs, one column per channel (see the module docstring)."""
    n = len(ids)
    cols = []
    for field in FIELDS:
        sims = cosines[field]
        z = (sims - sims.mean()) / (sims.std() + 1e-6) if n > 1 else sims
        cols.append(np.maximum(z, Z_FLOOR))
    weight = {"bm25": coverage, "pinyin": 1.0, "translated": 1.0 - coverage}
    for channel in LEXICAL_CHANNELS:
        hits = lexical[channel]
        best = max(hits.values()) if hits else 1.0
        cols.append(weight[channel] * np.array([hits.get(c, 0.0) / best for c in ids]))
    return np.stack(cols, axis=1)


class Retriever:
    """Hybrid retriever over one loaded index. ``run`` returns passages, best first."""

    def __init__(self, index: Index, cfg: Config, embedder: Embedder | None = None,
                 fusion: Fusion | None = None):
        self.index, self.cfg = index, cfg
        self.embedder = embedder or Embedder(cfg)
        self.fusion = fusion or Fusion.load(cfg.retrieval_fusion)
        self._df = document_frequencies(index.lexical["bm25"])  # once per index, not per query

    def _dense(self, qvecs: dict[str, np.ndarray], k: int) -> set[int]:
        found = set()
        for field in FIELDS:
            found |= {int(i) for i in self.index.dense.search(field, qvecs[field], k).ravel() if i >= 0}
        return found

    def candidates(self, question: str, pool: int, filters: Filters | None = None,
                   timings: dict | None = None) -> Candidates:
        """The union of each channel's ``pool`` best chunks that ``filters`` allow, with their columns."""
        filters = filters or Filters()
        t0 = time.perf_counter()
        qvecs = self.embedder.queries([question] + quoted_fragments(question))
        if timings is not None:
            timings["embedding"] = round(1000 * (time.perf_counter() - t0), 1)
        tokens = {"bm25": tokenize(question), "pinyin": query_pinyin_tokens(question),
                  "translated": translate_query(question)}
        coverage = lexical_coverage(tokens["bm25"], self.index.lexical["bm25"], self._df)
        field = {"bm25": "bm25", "pinyin": "pinyin", "translated": "bm25"}  # channel → index
        lexical = {c: _bm25_scores(self.index.lexical[field[c]], tokens[c], pool) for c in tokens}
        ids = sorted(self._dense(qvecs, pool).union(*[set(v) for v in lexical.values()]))
        ids = [c for c in ids if filters.allows(self.index.chunks[c], self.index)]
        if not ids:
            return Candidates([], np.zeros((0, len(CHANNELS))), np.zeros(0), {})
        cosines = {f: (self.index.dense.vectors(f, ids) @ qvecs[f].T).max(axis=1) for f in FIELDS}
        return Candidates(ids, channel_columns(cosines, lexical, ids, coverage), cosines["e5"], lexical["bm25"])

    def run(self, question: str, top_k: int | None = None, filters: Filters | None = None,
            timings: dict | None = None) -> list[Passage]:
        """The ``top_k`` best passages; ``timings`` (if given) receives the embedding time in ms."""
        top_k = top_k or self.cfg.top_k
        filters = filters or Filters()
        n = len(self.index.chunks)
        if n == 0:
            return []
        pool = n if (filters.doc_ids or filters.langs) else max(self.cfg.candidates, 4 * top_k)
        cands = self.candidates(question, pool, filters, timings)
        if not cands.ids:
            return []
        score = cands.columns @ self.fusion.vector()
        order = np.argsort(-score)[:top_k]
        return [passage(self.index, cands.ids[i], float(score[i]), float(cands.e5[i]), cands.bm25.get(cands.ids[i], 0.0))
                for i in order]


def passage(index: Index, chunk_id: int, score: float, dense: float = 0.0, lexical: float = 0.0) -> Passage:
    """Chunk ``chunk_id`` of ``index`` as a retrieved passage with these scores."""
    chunk = index.chunks[chunk_id]
    return Passage(chunk_id, chunk, score, dense, lexical, index.documents[chunk.doc_id].original[chunk.start:chunk.end])
