"""Training and fitting: the reader, the answer scorer, the retrieval fusion (the ``[train]`` extra). The product (``rag``) never imports this package."""
