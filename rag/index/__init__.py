"""Stage 2, the index: chunk vectors (faiss), BM25 (bm25s) and documents, in atomic generations."""
