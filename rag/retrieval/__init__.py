"""Stage 3, retrieval: candidate chunks from every channel, fused into ranked passages."""
