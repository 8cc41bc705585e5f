"""Stage 1, documents → chunks: read files, clean them with an offset map, split into chunks."""
