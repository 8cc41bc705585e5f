"""rag: offline multilingual extractive question answering over your documents."""

__version__ = "0.1.0"
