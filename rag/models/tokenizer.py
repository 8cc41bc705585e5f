"""The e5 tokenizer, one instance per process, shared by the embedder and the reader.

The converted model's ``tokenizer.json`` (a ``tokenizers`` pipeline: NFKC normaliser, Metaspace
pre-tokeniser, a 250 000-piece unigram model, ``<s> … </s>`` templates) is served in two parts:
the unigram model runs in ``sentencepiece`` (a compact trie: 54 MB loaded, against 280 MB for
``tokenizers``' own model), and the normaliser, pre-tokeniser, offsets, truncation, overflowing
windows and templates stay in ``tokenizers``, so callers get ordinary ``tokenizers.Encoding`` s
(ids, offsets, sequence ids, overflowing windows; their ``tokens`` strings are left empty).
Both parts are derived once from ``tokenizer.json`` into ``<model>/sentencepiece/``. The ids
equal ``tokenizers``' on everything measured except where two segmentations score exactly the
same ("恰恰恰": 恰|恰恰 or 恰恰|恰), and text that spells a special token ("<s>") stays text.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

PAD = "<pad>"
DERIVED = "sentencepiece"  # folder beside tokenizer.json
PIECES, PIPELINE, SIZES = "pieces.model", "pipeline.json", "piece-bytes.npy"


class SharedTokenizer:
    def __init__(self, folder: Path):
        import sentencepiece
        from tokenizers import Tokenizer

        self._pieces = sentencepiece.SentencePieceProcessor(model_file=str(folder / PIECES))
        self._pipeline = Tokenizer.from_file(str(folder / PIPELINE))  # no vocabulary: special tokens only
        self._normalizer, self._pre_tokenizer = self._pipeline.normalizer, self._pipeline.pre_tokenizer
        self._bytes = np.load(folder / SIZES).tolist()  # UTF-8 length of each piece
        self._unk = self._pieces.unk_id()
        self._lock = threading.Lock()  # truncation is state of the pipeline
        self.pad_id = self._pieces.piece_to_id(PAD)

    def encode_batch(self, inputs: list, max_length: int, stride: int = 0, strategy: str = "longest_first") -> list:
        """``tokenizers.Encoding`` s of texts or (text, text) pairs with ``<s>``/``</s>``, truncated
        to ``max_length`` tokens; with ``strategy="only_second"`` the rest of a pair's second text
        overflows into further windows of ``stride`` tokens' overlap (``Encoding.overflowing``)."""
        with self._lock:
            self._pipeline.enable_truncation(max_length, stride=stride, strategy=strategy)
            return [self._pipeline.post_process(self._encode(x[0]), self._encode(x[1]))
                    if isinstance(x, tuple) else self._pipeline.post_process(self._encode(x)) for x in inputs]

    def clip(self, text: str, max_tokens: int) -> str:
        """``text`` cut after its first ``max_tokens`` tokens (no special tokens counted)."""
        encoding = self._encode(text)
        if len(encoding.ids) <= max_tokens:
            return text
        return text[:encoding.offsets[max_tokens - 1][1]]

    def _encode(self, text: str):
        """One text through the normaliser, the pre-tokeniser and the unigram model, with
        offsets into ``text``."""
        from tokenizers import PreTokenizedString

        words = PreTokenizedString(text)
        words.normalize(self._normalizer.normalize)
        self._pre_tokenizer.pre_tokenize(words)
        words.tokenize(self._tokens)
        return words.to_encoding()

    def _tokens(self, word: str) -> list:
        """The unigram pieces of one pre-tokenised word as ``tokenizers.Token`` s (byte offsets
        into the word, as ``tokenizers`` expects)."""
        from tokenizers import Token

        ids = self._pieces.encode(word)
        # an unknown stretch has no piece of its own to measure: take its surface text
        sizes = ([len(p.encode()) for p in self._pieces.encode(word, out_type=str)] if self._unk in ids
                 else [self._bytes[i] for i in ids])
        out, pos = [], 0
        for i, n in zip(ids, sizes):
            out.append(Token(i, "", (pos, pos + n)))
            pos += n
        return out


def derive(tokenizer_json: Path, folder: Path) -> Path:
    """Split ``tokenizer_json`` into the sentencepiece model of its unigram vocabulary, the rest
    of its pipeline and each piece's length in bytes (``folder/pieces.model``, ``pipeline.json``,
    ``piece-bytes.npy``)."""
    from sentencepiece import sentencepiece_model_pb2 as spm_pb

    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    if spec["model"]["type"] != "Unigram":
        raise ValueError(f"{tokenizer_json}: a unigram model was expected, not {spec['model']['type']}")
    Piece = spm_pb.ModelProto.SentencePiece
    special = {t["id"] for t in spec["added_tokens"] if t["special"]}
    unk = spec["model"]["unk_id"]
    proto = spm_pb.ModelProto()
    for i, (piece, score) in enumerate(spec["model"]["vocab"]):
        proto.pieces.add(piece=piece, score=score,
                         type=Piece.UNKNOWN if i == unk else Piece.CONTROL if i in special else Piece.NORMAL)
    proto.trainer_spec.model_type = spm_pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.unk_id = unk
    ids = {t["content"]: t["id"] for t in spec["added_tokens"]}
    proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = ids["<s>"], ids["</s>"]
    proto.trainer_spec.pad_id = ids[PAD]
    # words arrive normalised and pre-tokenised by the pipeline: the model takes them as they are
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = False
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = False
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PIECES).write_bytes(proto.SerializeToString())
    np.save(folder / SIZES, np.array([len(p.encode()) for p, _ in spec["model"]["vocab"]], dtype=np.int16))
    spec["model"] = {"type": "WordLevel", "vocab": ids, "unk_token": spec["model"]["vocab"][unk][0]}
    (folder / PIPELINE).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return folder


def ensure_derived(model_dir: Path) -> Path:
    """``model_dir/sentencepiece/``, derived from ``model_dir/tokenizer.json`` on first use."""
    from rag.models.cache import artefact_lock, private_folder, publish, stage

    target = Path(model_dir) / DERIVED
    if (target / SIZES).is_file():
        return target
    with artefact_lock(target, "the tokenizer"):
        if (target / SIZES).is_file():  # another process derived it while this one waited
            return target
        with private_folder(target) as work, stage("deriving the tokenizer's sentencepiece model"):
            publish(derive(Path(model_dir) / "tokenizer.json", work / DERIVED), target)
    return target


# widths are rounded up to a multiple of this: OpenVINO prepares its kernels per input shape, and
# few distinct widths let it reuse them (≈ 8 % faster ingest; masked padding changes no output)
PAD_MULTIPLE = 32


def padded(encodings: list, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) of ``encodings`` padded to the longest rounded up to a
    multiple of ``PAD_MULTIPLE``, as int64 arrays."""
    longest = max((len(e.ids) for e in encodings), default=0)
    width = -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        ids[row, :len(e.ids)] = e.ids
        mask[row, :len(e.ids)] = 1
    return ids, mask
