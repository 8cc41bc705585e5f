"""multilingual-e5-small on OpenVINO: the same vectors as the SentenceTransformer
(mean-pooled, L2-normalised, ``query: ``/``passage: `` prompts) without torch.

The graph (int8 weights, ``rag.models.openvino``) includes pooling and normalisation, so a call
returns the embeddings. Texts are encoded in batches of similar length, which wastes little on
padding.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from rag.models.tokenizer import padded

log = logging.getLogger(__name__)

PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_TOKENS = 512
BATCH = 16  # 16 and 8 encode ≈ 10 % faster than 32 on 2 cores (docs/experiments/speed.md)
# rows × tokens of a batch at most: OpenVINO keeps memory for the largest batch a graph has run,
# 16 passages of 512 tokens cost a server ≈ 140 MB for good, 4 of them ≈ 20 MB
TOKEN_BUDGET = 2048


class E5Encoder:
    """``encode(texts, kind)`` → float32 unit vectors; ``kind`` is ``query`` or ``passage``."""

    def __init__(self, graph: Path, tokenizer):
        from rag.models.openvino import OpenVinoGraph

        self.graph = OpenVinoGraph(graph)
        self.tokenizer = tokenizer  # a rag.models.tokenizer.SharedTokenizer
        self.dim = self.graph.compiled.outputs[0].get_partial_shape()[-1].get_length()

    def encode(self, texts: list[str], kind: str, progress: bool = False) -> np.ndarray:
        prefix = PROMPTS[kind]
        encodings = self.tokenizer.encode_batch([prefix + t for t in texts], MAX_TOKENS)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        meter = _Progress(len(texts), progress)
        i = 0
        while i < len(texts):
            # sorted by length: the batch's last row is its longest
            size = BATCH
            while size > 1 and len(encodings[order[min(i + size, len(texts)) - 1]].ids) * size > TOKEN_BUDGET:
                size //= 2
            rows = order[i:i + size]
            ids, mask = padded([encodings[r] for r in rows], self.tokenizer.pad_id)
            out[rows] = self.graph.run({"input_ids": ids, "attention_mask": mask})[0]
            meter.advance(len(rows))
            i += size
        return out


class _Progress:
    """A log line about every 10 seconds with the rate and the time left (long encodes only).
    Log lines rather than a tqdm bar: they land in `rag serve`'s log and in CI output as
    readable lines, and follow -q / -v like the rest of the command's messages."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled = total, 0, enabled
        self.t0 = self.last = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 10 and self.done < self.total):
            return
        self.last = now
        rate = self.done / max(now - self.t0, 1e-9)
        log.info("embedded %d/%d chunks (%.0f%%), %.1f chunks/s, about %.0f s left", self.done, self.total,
                 100 * self.done / self.total, rate, (self.total - self.done) / max(rate, 1e-9))


def build_graph(sentence_transformer_dir: Path, work: Path, quantise: str = "weights") -> Path:
    """The e5 encoder with mean pooling and normalisation as one ONNX graph, with int8
    ``weights`` or int8 ``embeddings`` only (``rag.models.onnx.build_bert_graph``)."""
    import torch
    from transformers import AutoModel

    from rag.models.onnx import build_bert_graph, eager_attention

    bert = eager_attention(AutoModel.from_pretrained(str(sentence_transformer_dir), local_files_only=True))

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    return build_bert_graph(Pooled(), bert.config, {"embedding": {0: "batch"}}, work, quantise=quantise, fuse=False)
