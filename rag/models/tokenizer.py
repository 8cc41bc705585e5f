"""The e5 tokenizer, one instance per process, shared by the embedder and the reader.

Loaded from the converted model's ``tokenizer.json`` with ``tokenizers`` (no transformers).
Its 250 000-piece vocabulary takes about 280 MB, so the two models share it; truncation is
tokenizer state in ``tokenizers``, so each call sets its own under a lock (the app serves
requests in parallel).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

PAD = "<pad>"


class SharedTokenizer:
    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._lock = threading.Lock()
        self.pad_id = self._tokenizer.token_to_id(PAD)

    def encode_batch(self, inputs: list, max_length: int, stride: int = 0, strategy: str = "longest_first") -> list:
        """``tokenizers.Encoding`` s of texts or (text, text) pairs, truncated to ``max_length``
        tokens; with ``strategy="only_second"`` the rest of a pair's second text overflows into
        further windows of ``stride`` tokens' overlap (``Encoding.overflowing``)."""
        with self._lock:
            self._tokenizer.enable_truncation(max_length, stride=stride, strategy=strategy)
            return self._tokenizer.encode_batch(inputs)

    def ids(self, text: str) -> list[int]:
        """The token ids of ``text`` alone: no special tokens, no truncation."""
        with self._lock:
            self._tokenizer.no_truncation()
            return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids)


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
