"""Shared fixtures: the real models and a real index of the bundled corpus, built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.config import PROJECT_ROOT, Config  # noqa: E402

CORPUS = PROJECT_ROOT / "corpus"


@pytest.fixture(scope="session")
def cfg(tmp_path_factory) -> Config:
    return Config.from_env(index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def built_index(cfg):
    from rag.index import load_index
    from rag.ingest import ingest

    report = ingest([CORPUS], cfg, progress=False)
    assert not report.errors
    return load_index(cfg.index_dir)


@pytest.fixture(scope="session")
def qa(cfg, built_index):
    from rag.pipeline import QA

    return QA(cfg).warm_up()


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.txt"))
