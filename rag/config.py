"""One configuration object: defaults here, overridable from the environment and the CLI."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "RAG_"


def _default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag"


@dataclass(frozen=True)
class Config:
    """Every tunable of the pipeline. ``RAG_<FIELD>`` in the environment overrides a default."""

    home: Path = field(default_factory=_default_home)  # model cache (converted weights)
    index_dir: Path = PROJECT_ROOT / "index"
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    reader_weights: Path = PROJECT_ROOT / "models" / "reader"
    # chunking (characters); docs/evaluation.md says how these were chosen
    chunk_size: int = 400
    chunk_overlap: int = 100
    # retrieval
    top_k: int = 5
    candidates: int = 50  # per channel, before fusion
    retrieval_fusion: Path = PROJECT_ROOT / "models" / "retrieval.json"  # channel weights (`rag fit-scorer`)
    quote_judge: Path = PROJECT_ROOT / "models" / "quotes.json"  # when a quote match is close (`rag fit-quotes`)
    # reading
    reader: str = "neural"  # "neural" (trained QA head) or "sentence" (baseline clause reader)
    reader_runtime: str = "openvino"  # "openvino", "onnx-int8", "onnx" (fp32) or "torch"; see rag/reader/runtime.py
    answers: int = 3
    answer_scorer: bool = True  # rescore the reader's spans with the fitted answer scorer (off: raw spans)
    # answers below this confidence are withheld ("not found"). None: the threshold chosen with
    # the reader's answer scorer on held-out articles (`rag fit-scorer`, models/reader/MODEL_CARD.md)
    min_confidence: float | None = None
    passages_read: int = 4  # the reader reads at most this many top passages…
    read_first: int = 2  # …first this many, and the rest only if no answer is this confident:
    confident: float = 0.8
    # reader windows (tokens, question included) and their overlap, as in training; 384/128 (a whole
    # passage in one window) tied on held-out accuracy and speed (docs/experiments/reader-and-scorer.md)
    read_window: int = 256
    read_stride: int = 96
    span_candidates: int = 3  # best spans kept from each window for the answer scorer to choose among
    # a Latin-script question over Chinese text is read with its names ("names"), or names and
    # dictionary words ("words"), in the passage's characters, and a Chinese question in the
    # passage's script (both settings), or as asked ("off"); rag/text/crosslingual.py
    question_anchors: str = "words"
    # input limits
    max_file_mb: float = 20.0
    max_question_chars: int = 2000
    # ANN: exact search up to this many vectors, HNSW above
    exact_max_vectors: int = 50_000
    # where a new index generation keeps its vectors: "faiss" (files) or "milvus"; empty: where the
    # live index keeps them (faiss for a new index). milvus_uri: a Milvus server (http://host:19530);
    # empty: embedded Milvus Lite inside the index directory (rag/index/milvus.py)
    store: str = ""
    milvus_uri: str = ""

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        """Defaults, then ``RAG_*`` variables, then explicit (non-None) overrides."""
        values = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                try:
                    values[f.name] = _coerce(f, raw)
                except ValueError as exc:
                    raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid {f.type}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        for f in dataclasses.fields(cls):
            if f.name in values and f.type in ("Path", Path):
                values[f.name] = Path(values[f.name]).expanduser()
        return cls(**values)


def _coerce(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind.endswith(" | None"):
        if raw.strip().lower() in ("", "none"):
            return None
        kind = kind[: -len(" | None")]
    if kind == "bool":
        if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError("use 1 or 0")
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "Path":
        return Path(raw).expanduser()
    return raw
