"""``rag bench``: the benchmark, outside the serving package (the ``[bench]`` extra adds Haystack and matplotlib)."""
