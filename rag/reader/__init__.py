"""Stage 4, reading: from retrieved passages, the exact spans that answer the question."""
