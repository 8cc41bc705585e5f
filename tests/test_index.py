"""Incremental ingest, atomic generations and the writer lock."""

import shutil

import pytest

from rag.index.store import IndexLocked, current_generation, load_index, write_lock
from rag.ingest.incremental import ingest

from .conftest import corpus_files


def test_incremental_ingest(cfg, built_index, tmp_path):
    from dataclasses import replace

    docs = tmp_path / "docs"
    docs.mkdir()
    for path in corpus_files()[3:]:
        shutil.copy(path, docs)
    local = replace(cfg, index_dir=tmp_path / "index")
    first = ingest([docs], local, progress=False)
    assert sorted(first.added) == sorted(p.name for p in corpus_files()[3:])
    again = ingest([docs], local, progress=False)
    assert not again.changed and again.generation == first.generation

    (docs / "new.md").write_text("# Catatan\n\nLi Lei pindah ke UCSB pada tahun 2021 sebagai asisten profesor.\n")
    target = docs / corpus_files()[4].name
    target.write_text(target.read_text() + "\nTambahan paragraf baru tentang laboratorium AI.\n")
    (docs / corpus_files()[3].name).unlink()
    third = ingest([docs], local, progress=False)
    assert third.added == ["new.md"] and third.updated == [target.name]
    assert third.removed == [corpus_files()[3].name]
    index = load_index(local.index_dir)
    assert set(index.documents) == {"new.md", target.name}
    assert all(c.doc_id in index.documents for c in index.chunks)


def test_interrupted_write_leaves_previous_generation_live(cfg, built_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(cfg.index_dir, index)
    live = current_generation(index)
    # a writer that died before switching CURRENT leaves only a temp directory behind
    (index / ".tmp-gen-crashed").mkdir()
    (index / ".tmp-gen-crashed" / "chunks.jsonl").write_text("half")
    assert load_index(index).path == live


def test_second_writer_is_refused(tmp_path):
    with write_lock(tmp_path):
        with pytest.raises(IndexLocked, match="another ingest"):
            with write_lock(tmp_path):
                pass


def test_an_index_tokenised_by_an_older_rag_is_refreshed(cfg, built_index, tmp_path):
    import json
    from dataclasses import replace

    from rag.index.store import LEXICAL_TOKENS
    from rag.pipeline import ensure_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Catatan\n\nSebelum itu, Ma Weiying bergabung dengan Universitas Tsinghua.\n")
    local = replace(cfg, index_dir=tmp_path / "index", corpus_dir=docs)
    ensure_index(local)
    old = current_generation(local.index_dir)
    manifest = json.loads((old / "manifest.json").read_text())
    assert manifest["lexical"] == LEXICAL_TOKENS
    ensure_index(local)  # up to date: nothing to do
    assert current_generation(local.index_dir) == old
    manifest["lexical"] = "words+pinyin-v1"  # as an older rag wrote it
    (old / "manifest.json").write_text(json.dumps(manifest))
    ensure_index(local)
    new = current_generation(local.index_dir)
    assert new != old and json.loads((new / "manifest.json").read_text())["lexical"] == LEXICAL_TOKENS
    index = load_index(local.index_dir)
    assert "maweiying" in index.lexical["pinyin"].vocab_dict  # the Latin full name is a name token now


def test_kept_chunks_are_not_tokenised_again(cfg, built_index, tmp_path, monkeypatch):
    # a generation stores each chunk's lexical tokens; the next one reuses them for the chunks it
    # keeps, and its tokens equal those of an index built from scratch
    from dataclasses import replace

    import rag.index.store as store
    from rag.index.store import LEXICAL, TOKENS, stored_tokens
    from rag.ingest.incremental import remove

    docs = tmp_path / "docs"
    docs.mkdir()
    for path in corpus_files()[3:]:
        shutil.copy(path, docs)
    local = replace(cfg, index_dir=tmp_path / "index")
    ingest([docs], local, progress=False)
    kept = len(load_index(local.index_dir).chunks)
    (docs / "new.md").write_text("# Catatan\n\nLi Lei pindah ke UCSB pada tahun 2021 sebagai asisten profesor.\n")

    seen = []
    tokenise = store.lexical_tokens
    monkeypatch.setattr(store, "lexical_tokens", lambda field, text: seen.append(text) or tokenise(field, text))
    ingest([docs], local, progress=False)
    index = load_index(local.index_dir)
    new = [c.text for c in index.chunks if c.doc_id == "new.md"]
    assert len(index.chunks) == kept + len(new) and sorted(seen) == sorted(new * len(LEXICAL))

    fresh = ingest([docs], replace(local, index_dir=tmp_path / "fresh"), progress=False)
    assert fresh.chunks == len(index.chunks)
    fresh_index = load_index(tmp_path / "fresh")
    for field in LEXICAL:
        assert stored_tokens(index, field) == stored_tokens(fresh_index, field) == \
            [tokenise(field, c.text) for c in index.chunks]

    # removing a document rewrites without tokenising; unreadable stored tokens are made again
    seen.clear()
    remove(["new.md"], local)
    assert seen == []
    live = load_index(local.index_dir)
    damaged = live.path / TOKENS.format("bm25")
    size = damaged.stat().st_size
    damaged.write_bytes(b"\0" * size)  # same size: the index still loads, the tokens do not
    assert stored_tokens(load_index(local.index_dir), "bm25") is None
    (docs / "new.md").unlink()
    (docs / "other.md").write_text("# Lain\n\nSebuah catatan lain.\n")
    ingest([docs], local, progress=False)
    assert len(seen) == len(load_index(local.index_dir).chunks) + len(
        [c for c in load_index(local.index_dir).chunks if c.doc_id == "other.md"])
