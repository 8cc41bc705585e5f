"""Distillation: a shallower reader learns from the span distributions of a trained one.

The teacher (exported weights, ``--init``) reads every training window once through its int8
ONNX graph, the graph the product serves; its start/end logits are cached in the work folder,
so training pays for the teacher once and a restarted run reuses them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from rag.reader.windows import MAX_LEN
from rag_train.reader import collate

log = logging.getLogger(__name__)

TEMPERATURE = 2.0
_MASKED = -1e4  # a logit no softmax gives weight to; fits fp16


def teacher_logits(teacher_dir: Path, embedder_path: Path, data: list[dict], work: Path,
                   pad_id: int, threads: int, batch: int = 32) -> np.ndarray:
    """(windows, 2, MAX_LEN) fp16: the teacher's start and end logits of every training window."""
    path = work / "teacher-logits.npy"
    if path.is_file():
        cached = np.load(path)
        if cached.shape == (len(data), 2, MAX_LEN):
            return cached
        log.warning("%s does not match the training windows; computing the teacher's logits again", path)
    from rag.reader.runtime import OnnxEngine, onnx_model
    from rag.reader.weights import load_qa_model

    engine = OnnxEngine(onnx_model(lambda: load_qa_model(embedder_path, teacher_dir)[0], work / "teacher-onnx",
                                   "dynamic"), threads)
    out = np.full((len(data), 2, MAX_LEN), _MASKED, dtype=np.float16)
    order = sorted(range(len(data)), key=lambda i: len(data[i]["input_ids"]))  # little padding
    t0 = last = time.time()
    for b in range(0, len(order), batch):
        rows = order[b:b + batch]
        inputs = collate([data[i] for i in rows], pad_id)
        start, end = engine(inputs["input_ids"].numpy(), inputs["attention_mask"].numpy())
        for r, i in enumerate(rows):
            n = len(data[i]["input_ids"])
            out[i, 0, :n], out[i, 1, :n] = start[r, :n], end[r, :n]
        if time.time() - last > 30:
            done = b + len(rows)
            last = time.time()
            log.info("teacher: %d/%d windows, %.0f min left", done, len(data),
                     (last - t0) / done * (len(data) - done) / 60)
    tmp = work / "teacher-logits.tmp.npy"
    np.save(tmp, out)
    tmp.replace(path)
    return out


def distil_loss(start_logits, end_logits, teacher, attention_mask):
    """KL divergence of the student's start/end distributions from the teacher's at
    ``TEMPERATURE``, scaled by T² as usual so its gradients match the hard loss's."""
    import torch.nn.functional as F

    pad = attention_mask == 0
    loss = 0.0
    for student, target in ((start_logits, teacher[:, 0]), (end_logits, teacher[:, 1])):
        s = F.log_softmax(student.masked_fill(pad, _MASKED) / TEMPERATURE, dim=-1)
        t = F.log_softmax(target.masked_fill(pad, _MASKED) / TEMPERATURE, dim=-1)
        loss = loss + F.kl_div(s, t, log_target=True, reduction="batchmean")
    return loss / 2 * TEMPERATURE ** 2
