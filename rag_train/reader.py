"""Train the reader's span head on the e5-small encoder, resumably, on the CPU.

``rag train-reader`` runs this. Checkpoints (weights + optimiser + step) go to
``--work DIR`` every ``TrainSettings.save_every`` steps and a restarted run continues from
the last one; then ``export`` writes the fp16 delta into models/reader with held-out
figures (``--export-only`` does only that).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.evaluation import reliability
from rag.reader.base import Calibration
from rag.reader.windows import MAX_LEN, STRIDE, encode_windows, span_candidates
from rag_train.data import heldout_samples, human_english_heldout, training_sets
from rag_train.linear import fit_logistic
from rag_train.sources import QAExample

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    qa_dir: Path
    work_dir: Path
    epochs: float = 2.0
    batch_size: int = 16
    lr: float = 1e-4
    warmup: float = 0.06
    negatives_per_positive: float = 1 / 3
    save_every: int = 25
    seed: int = 13
    threads: int = 2
    init_from: Path | None = None  # exported reader weights to start from when no checkpoint exists
    sources: tuple[str, ...] | None = ("cmrc2018", "facqa*2", "drcd_dev")  # rag_train.sources.source_repeats; None = ALL_SOURCES
    human_english_repeat: int = 0  # times each hand-written English training question is seen per epoch
    human_english_sources: tuple[str, ...] | None = None  # whose hand-written English joins; None = every source's
    question_anchors: str = "off"  # English questions read anchored to their passage, as at inference
    traditional: float = 0.0  # share of Chinese training articles read in traditional characters
    layers: int | None = None  # keep the bottom N encoder layers (a shallower, faster reader)
    distil: float = 0.0  # weight of the teacher's (``init_from``'s) span distributions in the loss
    retrieved_negatives: float = 0.0  # share of unanswerable pairs with a BM25-retrieved paragraph (rag_train.data)
    bf16: bool = False  # forward and backward in bf16 autocast (fp32 weights and optimiser); fast on AMX
    # the order examples are seen in (``seed`` when None); ``seed`` also splits off the held-out
    # articles, so a stage continuing another on the same data takes a new order from this alone
    shuffle_seed: int | None = None


def featurize(tokenizer, examples: list[QAExample], neg_ratio: float, seed: int) -> list[dict]:
    """Windows with token-level start/end targets; 0/0 (``<s>``) means no answer."""
    rng = random.Random(seed)
    positives, negatives = [], []
    for chunk in range(0, len(examples), 64):
        batch = examples[chunk:chunk + 64]
        enc = encode_windows(tokenizer, [e.question for e in batch], [e.context for e in batch])
        for w in range(len(enc)):
            ex = batch[int(enc.sample[w])]
            seq = enc.sequence_ids[w]
            offsets = enc.offsets[w]
            start = end = 0
            if ex.answer_start >= 0:
                a0, a1 = ex.answer_start, ex.answer_start + len(ex.answer_text)
                idx = [i for i, s in enumerate(seq) if s == 1]
                if idx and offsets[idx[0]][0] <= a0 and offsets[idx[-1]][1] >= a1:
                    start = next(i for i in idx if offsets[i][1] > a0)
                    end = next(i for i in reversed(idx) if offsets[i][0] < a1)
            n = int(enc.attention_mask[w].sum())
            item = dict(input_ids=enc.input_ids[w][:n].tolist(), start=start, end=end)
            (positives if start else negatives).append(item)
    rng.shuffle(negatives)
    keep = negatives[: int(len(positives) * neg_ratio) + 1]
    data = positives + keep
    rng.shuffle(data)
    log.info("featurized %d examples → %d answer windows + %d no-answer windows",
             len(examples), len(positives), len(keep))
    return data


def collate(items: list[dict], pad_id: int):
    import torch

    width = max(len(i["input_ids"]) for i in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for r, item in enumerate(items):
        ids[r, :len(item["input_ids"])] = torch.tensor(item["input_ids"])
        mask[r, :len(item["input_ids"])] = 1
    return dict(input_ids=ids, attention_mask=mask,
                start_positions=torch.tensor([i["start"] for i in items]),
                end_positions=torch.tensor([i["end"] for i in items]))


# data settings added after the first work folders, with the value that means "off"
_LATER_SETTINGS = {"traditional": 0.0, "layers": None, "distil": 0.0, "retrieved_negatives": 0.0, "shuffle_seed": None,
                   "human_english_sources": None}


def _check_work_data(work: Path, settings: TrainSettings) -> None:
    """A work folder resumes only the data it was started with: its features and checkpoint
    are cached there, so other data settings would silently train on the old data."""
    data = dict(sources=list(settings.sources or []), seed=settings.seed,
                human_english_repeat=settings.human_english_repeat, question_anchors=settings.question_anchors,
                negatives_per_positive=settings.negatives_per_positive)
    # folders started before these settings existed recorded none: each is recorded only when not off
    data.update({k: getattr(settings, k) for k, off in _LATER_SETTINGS.items() if getattr(settings, k) != off})
    data = json.loads(json.dumps(data))  # as stored: tuples become lists
    path = work / "data.json"
    if path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        changed = {k: (before.get(k), v) for k, v in data.items() if before.get(k) != v}
        if changed:
            raise ValueError(f"{work} holds training started with other data settings "
                             f"({', '.join(f'{k}: {a} → {b}' for k, (a, b) in changed.items())}); "
                             "give a new --work folder, or the settings it was started with")
    elif (work / "features.json").is_file():
        return  # a folder from before data.json: its settings are unknown, resume as before
    else:
        path.write_text(json.dumps(data), encoding="utf-8")


def train(settings: TrainSettings, embedder_path: Path) -> Path:
    """Train (or resume) until ``settings.epochs``; return the checkpoint path."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from rag.models.loading import tokenizer_at
    from rag.reader.weights import FROZEN_PREFIXES, build_qa_model

    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    work = Path(settings.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer_at(embedder_path)
    _check_work_data(work, settings)
    cache = work / "features.json"
    if cache.is_file():
        data = json.loads(cache.read_text())
    else:
        train_set, _ = training_sets(settings.qa_dir, seed=settings.seed, names=settings.sources,
                                     human_repeat=settings.human_english_repeat, anchors=settings.question_anchors,
                                     traditional=settings.traditional,
                                     retrieved_negatives=settings.retrieved_negatives,
                                     human_sources=settings.human_english_sources)
        data = featurize(tokenizer, train_set, settings.negatives_per_positive, settings.seed)
        cache.write_text(json.dumps(data))
    teacher = None
    if settings.distil:
        from rag_train.distil import distil_loss, teacher_logits

        if settings.init_from is None:
            raise ValueError("distillation needs a teacher: give --init with exported reader weights")
        teacher = teacher_logits(Path(settings.init_from), embedder_path, data, work, tokenizer.pad_id, settings.threads)
    model = build_qa_model(embedder_path, settings.layers)
    for name, param in model.named_parameters():
        param.requires_grad = not name.startswith(FROZEN_PREFIXES)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.01)
    steps_per_epoch = len(data) // settings.batch_size
    total = int(steps_per_epoch * settings.epochs)
    sched = get_linear_schedule_with_warmup(optim, int(total * settings.warmup), total)
    ckpt = work / "checkpoint.pt"
    step = 0
    if ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"], strict=False)
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
        log.info("resumed from %s at step %d/%d", ckpt, step, total)
    elif settings.init_from:
        from safetensors.torch import load_file

        from rag.reader.weights import WEIGHTS_FILE

        delta = load_file(str(Path(settings.init_from) / WEIGHTS_FILE))
        own = model.state_dict()  # a shallower reader takes the bottom layers
        model.load_state_dict({k: v.float() for k, v in delta.items() if k in own}, strict=False)
        log.info("no checkpoint: starting from the exported weights in %s", settings.init_from)
    model.train()
    t0, losses = time.time(), []
    order_seed = settings.seed if settings.shuffle_seed is None else settings.shuffle_seed
    while step < total:
        epoch, pos = divmod(step, steps_per_epoch)
        order = list(range(len(data)))
        random.Random(order_seed + epoch).shuffle(order)
        rows = order[pos * settings.batch_size:(pos + 1) * settings.batch_size]
        batch = collate([data[i] for i in rows], tokenizer.pad_id)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            out = model(**batch)
        loss = out.loss
        if teacher is not None:
            width = batch["input_ids"].shape[1]
            soft = distil_loss(out.start_logits, out.end_logits,
                               torch.from_numpy(teacher[rows, :, :width].astype(np.float32)), batch["attention_mask"])
            loss = (1 - settings.distil) * loss + settings.distil * soft
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.item())
        if step % 5 == 0:
            rate = (time.time() - t0) / len(losses)
            log.info("step %d/%d  loss %.3f  %.1f s/step  eta %.0f min", step, total,
                     float(np.mean(losses[-25:])), rate, (total - step) * rate / 60)
        if step % settings.save_every == 0 or step == total:
            _save_checkpoint(model, optim, sched, step, ckpt)
    return ckpt


def _save_checkpoint(model, optim, sched, step: int, path: Path) -> None:
    import torch

    from rag.reader.weights import trainable_state

    tmp = path.with_suffix(".tmp")
    torch.save(dict(model=trainable_state(model), optim=optim.state_dict(),
                    sched=sched.state_dict(), step=step), tmp)
    tmp.replace(path)
    log.info("checkpoint saved at step %d", step)


def predict(engine, tokenizer, examples: list[QAExample], batch: int = 32) -> list[dict]:
    """Per example: the best span's margin over the null score and how right it is.
    ``engine`` is a ``rag.reader.runtime`` engine (torch or ONNX Runtime)."""
    from rag.evaluation import answer_f1, normalize_answer

    records = []
    for i in range(0, len(examples), batch):
        part = examples[i:i + batch]
        enc = encode_windows(tokenizer, [e.question for e in part], [e.context for e in part])
        start_logits, end_logits = engine(enc.input_ids, enc.attention_mask)
        cands = span_candidates(enc, start_logits, end_logits, top_n=1, contexts=[e.context for e in part])
        best: dict[int, tuple] = {}
        for c in cands:
            if c.context_index not in best or c.score - c.null_score > best[c.context_index][0]:
                best[c.context_index] = (c.score - c.null_score, c.start, c.end)
        for j, ex in enumerate(part):
            margin, s, e = best.get(j, (-1e9, 0, 0))
            pred = ex.context[s:e]
            answerable = ex.answer_start >= 0
            records.append(dict(
                key=ex.lang if answerable else "unanswerable", margin=float(margin), answerable=answerable,
                em=float(answerable and normalize_answer(pred) == normalize_answer(ex.answer_text)),
                f1=answer_f1(pred, ex.answer_text) if answerable else 0.0))
    return records


def fit_calibration(records: list[dict]) -> Calibration:
    """Platt scaling: P(span is right | margin) = sigmoid(scale · margin + bias)."""
    x = np.clip(np.array([r["margin"] for r in records]), -50, 50)[:, None]
    y = np.array([float(r["f1"] >= 0.5) for r in records])
    (scale,), bias = fit_logistic(x, y, l2=0.0)
    return Calibration(float(scale), bias)


def report(records: list[dict], calibration: Calibration, threshold: float = 0.5) -> dict:
    """EM/F1 per question language after abstention, abstention on unanswerables, reliability."""
    out: dict[str, dict] = {}
    for key in sorted({r["key"] for r in records}):
        rows = [r for r in records if r["key"] == key]
        kept = [c >= threshold for c in _confidences(rows, calibration)]
        if key == "unanswerable":
            out[key] = dict(abstained=round(100 * (1 - float(np.mean(kept))), 1), n=len(rows))
        else:
            out[key] = dict(em=round(100 * float(np.mean([r["em"] * k for r, k in zip(rows, kept)])), 1),
                            f1=round(100 * float(np.mean([r["f1"] * k for r, k in zip(rows, kept)])), 1),
                            f1_no_abstain=round(100 * float(np.mean([r["f1"] for r in rows])), 1),
                            answered=round(100 * float(np.mean(kept)), 1), n=len(rows))
    out["reliability"] = reliability(zip(_confidences(records, calibration), (r["f1"] >= 0.5 for r in records)))
    return out


def _confidences(records: list[dict], calibration: Calibration) -> np.ndarray:
    return calibration.confidence(np.clip([r["margin"] for r in records], -50, 50))


def _calibrated(engine, tokenizer, samples: dict[str, list]) -> tuple[dict, dict]:
    """(calibration, held-out report per source): fitted on the first half of every source's
    sample, reported on the other halves."""
    halves = {}
    for name, sample in samples.items():
        records = predict(engine, tokenizer, sample)
        halves[name] = (records[:len(records) // 2], records[len(records) // 2:])
    calibration = fit_calibration([r for fit_half, _ in halves.values() for r in fit_half])
    return calibration, {name: report(rest, calibration) for name, (_, rest) in halves.items()}


def _forced(engine, tokenizer, examples: list[QAExample]) -> dict:
    """EM / F1 of the best span when the reader must answer (gold paragraph given)."""
    if not examples:
        return {}
    records = predict(engine, tokenizer, examples)
    return dict(n=len(records), em=round(100 * float(np.mean([r["em"] for r in records])), 1),
                f1=round(100 * float(np.mean([r["f1"] for r in records])), 1))


def _measure(engine, tokenizer, samples: dict[str, list], human: list[QAExample]) -> dict:
    """One runtime's calibration and held-out figures (per source, and on hand-written English)."""
    calibration, by_source = _calibrated(engine, tokenizer, samples)
    # CMRC's held-out figures are the ones every checkpoint so far was compared on
    first = "cmrc2018" if "cmrc2018" in by_source else next(iter(by_source))
    return dict(calibration=asdict(calibration), heldout=by_source[first], heldout_by_source=by_source,
                human_english=_forced(engine, tokenizer, human))


def export(settings: TrainSettings, embedder_path: Path, out_dir: Path, eval_limit: int = 600) -> dict:
    """Load the checkpoint, calibrate and evaluate on the held-out split, write the fp16 delta.

    Each runtime (torch fp32, OpenVINO, ONNX Runtime int8) gets its own calibration: int8
    shifts the span-vs-null margins a little, and a confidence must mean the same on each.
    """
    import tempfile

    import torch

    from rag.errors import ModelError
    from rag.models.loading import embedder_checksum, tokenizer_at
    from rag.reader.runtime import OnnxEngine, OpenVinoEngine, TorchEngine, onnx_model
    from rag.reader.weights import build_qa_model, load_qa_model, trainable_state

    tokenizer = tokenizer_at(embedder_path)
    checkpoint = Path(settings.work_dir) / "checkpoint.pt"
    if checkpoint.is_file():
        model = build_qa_model(embedder_path, settings.layers)
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"], strict=False)
        step, recorded = int(state["step"]), {k: str(v) for k, v in asdict(settings).items()}
    elif settings.init_from is not None:  # re-measure exported weights (e.g. after a runtime change)
        model, previous = load_qa_model(embedder_path, settings.init_from)
        step, recorded = int(previous["step"]), previous["settings"]
    else:
        raise ModelError(f"no checkpoint in {settings.work_dir} to export; train first, or give --init")
    # evaluate exactly what will be loaded: the delta is stored in fp16
    model.load_state_dict({k: v.half().float() for k, v in trainable_state(model).items()}, strict=False)
    model.eval()
    samples = heldout_samples(settings.qa_dir, seed=settings.seed, limit=eval_limit, names=settings.sources)
    human = human_english_heldout(settings.qa_dir, seed=settings.seed)
    runtimes = {"torch": _measure(TorchEngine(model), tokenizer, samples, human)}
    with tempfile.TemporaryDirectory() as tmp:
        engine = OpenVinoEngine(onnx_model(lambda: model, Path(tmp), "weights"), threads=settings.threads)
        runtimes["openvino"] = _measure(engine, tokenizer, samples, human)
        engine = OnnxEngine(onnx_model(lambda: model, Path(tmp), "dynamic"), threads=settings.threads)
        runtimes["onnx-int8"] = _measure(engine, tokenizer, samples, human)
    meta = dict(base_model_sha256=embedder_checksum(), step=step, settings=recorded,
                layers=model.config.num_hidden_layers,
                window=dict(max_len=MAX_LEN, stride=STRIDE), calibration=runtimes["torch"]["calibration"],
                heldout=runtimes["torch"]["heldout"], runtimes=runtimes)
    save_delta(model, Path(out_dir), meta)
    return meta


def save_delta(model, out_dir: Path, meta: dict) -> Path:
    """Write the trained delta (fp16) and its metadata atomically."""
    from safetensors.torch import save_file

    from rag.reader.weights import META_FILE, WEIGHTS_FILE, sha256_file, trainable_state

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (WEIGHTS_FILE + ".tmp")
    save_file({k: v.detach().half().contiguous() for k, v in trainable_state(model).items()}, str(tmp))
    meta = dict(meta, sha256=sha256_file(tmp))
    tmp.replace(out_dir / WEIGHTS_FILE)
    (out_dir / (META_FILE + ".tmp")).write_text(json.dumps(meta, indent=2, ensure_ascii=False))
    (out_dir / (META_FILE + ".tmp")).replace(out_dir / META_FILE)
    return out_dir / WEIGHTS_FILE
