"""rag: offline multilingual extractive question answering over your documents.

The public API::

    from rag import QA, Config
    qa = QA(Config.from_env(index_dir="index")).warm_up()
    result = qa.run("Who leads the lab?")      # a Result: answers with citations, passages
    result.to_json()                           # the batch contract of `rag ask --json`
    qa.run("Where did he study?", history=["Who leads the lab?"])  # a follow-up (``Turn``s too)

Errors a user can fix are ``RagError``s (``rag.errors``). Attributes are imported on first
use, so ``import rag`` stays light.
"""

from __future__ import annotations

import importlib

__version__ = "0.13.0"
__all__ = ["QA", "Config", "Result", "Turn", "Filters", "RagError", "ingest"]

_EXPORTS = {
    "QA": "rag.pipeline",
    "Result": "rag.pipeline",
    "Turn": "rag.conversation.followup",
    "Config": "rag.config",
    "Filters": "rag.retrieval.retriever",
    "RagError": "rag.errors",
    "ingest": "rag.ingest.incremental",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
