"""Retrieval: two dense encoders and two BM25 channels, fused by score.

Candidates are the union of each channel's top hits. Each dense field's cosine is
standardised over the candidates (z-score) and summed, so neither encoder's scale
dominates. Lexical channels add their score divided by the channel's best score:

- ``bm25`` (jieba words, folded script) is weighted by the query's *lexical coverage*,
  the IDF mass of its tokens the corpus contains over the IDF mass of all of them.
  Plain rank fusion let BM25 add noise to English questions over Chinese text;
  with coverage a Chinese question gets ~1 and an English one ~0.1.
- ``pinyin`` matches capitalised Latin words ("Wang Gang") against pinyin of Chinese
  character windows (王刚): it only fires when a transliterated name is present.
- ``translated``: the question's English words turned into Chinese words with CC-CEDICT
  (``rag.crosslingual``), matched on the word index, weighted by 1 − coverage: it speaks
  for the questions that BM25 cannot serve.

The weights and chunk size were chosen by measurement (README, "Retrieval").
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np

from .chunks import Chunk
from .config import Config
from .crosslingual import translate_query
from .embeddings import Embedder
from .index import Index
from .language import query_pinyin_tokens, tokenize

# paired quote marks enclose any text; straight quotes and ‘’ must close before a space or
# punctuation, so the apostrophe of "don't" does not end a quote
_QUOTED = re.compile(r"[“「『](.{4,}?)[”」』]|[\"'‘](.{6,}?)[\"'’](?=[\s.,;:!?。，！？)]|$)")
LEXICAL_WEIGHT = {"bm25": 2.0, "pinyin": 2.0, "translated": 2.0}


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    chunk: Chunk
    score: float  # fused score (higher is better)
    dense: float  # best cosine of the e5 field over the query variants
    lexical: float  # BM25 score over words (0 when not matched)


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


class Retriever:
    """Hybrid retriever over one loaded index. ``run`` returns passages, best first."""

    def __init__(self, index: Index, cfg: Config, embedder: Embedder | None = None):
        self.index, self.cfg = index, cfg
        self.embedder = embedder or Embedder(cfg)
        self._df = document_frequencies(index.lexical["bm25"])  # once per index, not per query

    def _dense(self, qvecs: dict[str, np.ndarray], k: int) -> set[int]:
        found = set()
        for field, index in self.index.dense.items():
            _, ids = index.search(qvecs[field], min(k, index.ntotal))
            found |= {int(i) for i in ids.ravel() if i >= 0}
        return found

    def run(self, question: str, top_k: int | None = None, filters: Filters | None = None,
            timings: dict | None = None) -> list[Passage]:
        """The ``top_k`` best passages; ``timings`` (if given) receives the embedding time in ms."""
        top_k = top_k or self.cfg.top_k
        filters = filters or Filters()
        n = len(self.index.chunks)
        if n == 0:
            return []
        pool = n if (filters.doc_ids or filters.langs) else max(self.cfg.candidates, 4 * top_k)
        t0 = time.perf_counter()
        qvecs = self.embedder.queries([question] + quoted_fragments(question))
        if timings is not None:
            timings["embedding"] = round(1000 * (time.perf_counter() - t0), 1)
        tokens = {"bm25": tokenize(question), "pinyin": query_pinyin_tokens(question),
                  "translated": translate_query(question)}
        coverage = lexical_coverage(tokens["bm25"], self.index.lexical["bm25"], self._df)
        weights = {"bm25": coverage, "pinyin": 1.0, "translated": 1.0 - coverage}
        field = {"bm25": "bm25", "pinyin": "pinyin", "translated": "bm25"}  # channel → index
        lexical = {c: _bm25_scores(self.index.lexical[field[c]], tokens[c], pool) for c in tokens}
        cands = sorted(self._dense(qvecs, pool).union(*[set(v) for v in lexical.values()]))
        cands = [c for c in cands if filters.allows(self.index.chunks[c], self.index)]
        if not cands:
            return []
        score = np.zeros(len(cands))
        cosine = {}
        for field, matrix in self.index.vectors.items():
            sims = (np.asarray(matrix[cands]) @ qvecs[field].T).max(axis=1)
            cosine[field] = sims
            score += (sims - sims.mean()) / (sims.std() + 1e-6) if len(cands) > 1 else sims
        for field, hits in lexical.items():
            if hits:
                best = max(hits.values())
                score += LEXICAL_WEIGHT[field] * weights[field] * np.array([hits.get(c, 0.0) / best for c in cands])
        order = np.argsort(-score)[:top_k]
        e5 = cosine.get("e5", next(iter(cosine.values())))
        return [Passage(cands[i], self.index.chunks[cands[i]], float(score[i]), float(e5[i]),
                        lexical["bm25"].get(cands[i], 0.0)) for i in order]
