"""The trained extractive reader, with its real weights, on real passages."""

import shutil
from dataclasses import replace

import pytest

from rag.answer.assemble import assemble
from rag.reader.base import make_reader
from rag.reader.neural import NeuralReader
from rag.reader.sentence import SentenceReader
from rag.reader.weights import ReaderWeightsError, load_qa_model

# one question per seed document, in the three languages (written for these tests)
QUESTIONS = {
    "000": "騰訊的覓影項目可以篩查什麼疾病?",
    "001": "Which framework helped FAIR keep its place in deep learning?",
    "002": "What robot field did Wang Gang choose for his startup?",
    "003": "复旦大学给漆远的教授头衔是什么?",
    "004": "Universitas mana yang diikuti Li Lei sebagai asisten profesor?",
}


def test_default_reader_is_the_trained_one(cfg):
    assert isinstance(make_reader(cfg), NeuralReader)
    assert isinstance(make_reader(replace(cfg, reader="sentence")), SentenceReader)


@pytest.mark.parametrize("doc", sorted(QUESTIONS))
def test_answers_are_exact_spans_with_exact_offsets(qa, doc):
    # every span the reader proposes (abstention threshold off), from passages of this document
    passages = [p for p in qa.run(QUESTIONS[doc], top_k=10).passages if p.chunk.doc_id.startswith(doc)]
    assert passages, f"no passage of {doc} retrieved for {QUESTIONS[doc]}"
    answers = assemble(qa.index, qa.reader.run(QUESTIONS[doc], passages), limit=5, threshold=0.0)
    assert answers
    for answer in answers:
        for c in answer.citations:
            document = qa.index.documents[c.source]
            assert document.original[c.start:c.end] == c.original
            assert c.text in document.cleaned.text
            assert c.quote[c.answer_in_quote[0]:c.answer_in_quote[1]] == c.text
            assert 0.0 <= c.score <= 1.0


def test_english_question_answered_from_chinese_passage(qa):
    result = qa.run(QUESTIONS["002"])
    best = result.answers[0]
    assert best.citations[0].source.startswith("002")
    assert "机器人" in best.text


# questions users asked in the app: the lab's head is named once, in a traditional-Chinese
# article, as 騰訊優圖實驗室負責人; another person's sentence in the same passage says 主導 ("leads")
LAB_HEAD = ["Who leads Tencent's Youtu Lab?", "Siapa yang memimpin laboratorium Youtu?"]


@pytest.mark.parametrize("question", LAB_HEAD)
def test_who_leads_a_lab_asked_in_english_or_indonesian_over_chinese_text(qa, question):
    best = qa.run(question).answers[0]  # answers below the threshold are withheld
    assert best.text == "賈佳亞"
    assert best.citations[0].source.startswith("000")


def test_where_someone_worked_is_read_from_the_title_before_his_name(qa):
    """"贾佳亚在哪里工作过？": the passage says so only as 騰訊優圖實驗室負責人賈佳亞 (head of the lab),
    in the other script. The scorer's choice among the reader's spans is the lab, whatever the
    threshold then decides (on the machine that fitted it, 0.15 against 0.14: shown)."""
    question = "贾佳亚在哪里工作过？"
    spans = qa.reader.run(question, qa.retriever.run(question, qa.cfg.top_k))
    assert spans[0].text == "騰訊優圖實驗室"
    assert spans[0].passage.chunk.doc_id.startswith("000")


def test_off_topic_question_abstains(qa):
    assert qa.run("What is the boiling point of tungsten in kelvin?").answers == []


def test_missing_weights_say_what_to_do(cfg, tmp_path):
    from rag.models.loading import ensure_embedder

    with pytest.raises(ReaderWeightsError, match="not found"):
        load_qa_model(ensure_embedder(cfg), tmp_path)


def test_corrupt_weights_are_detected(cfg, tmp_path):
    from rag.models.loading import ensure_embedder

    shutil.copytree(cfg.reader_weights, tmp_path / "reader")
    weights = tmp_path / "reader" / "reader.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ReaderWeightsError, match="corrupt"):
        load_qa_model(ensure_embedder(cfg), tmp_path / "reader")


def test_a_shallower_reader_keeps_the_bottom_layers_and_loads_from_its_delta(cfg, tmp_path):
    import json

    import numpy as np
    import torch
    from safetensors.torch import load_file

    from rag.models.loading import ensure_embedder
    from rag.reader.runtime import TorchEngine
    from rag.reader.weights import build_qa_model
    from rag_train.reader import save_delta

    embedder = ensure_embedder(cfg)
    shallow = build_qa_model(embedder, layers=2)
    assert shallow.config.num_hidden_layers == 2 and len(shallow.bert.encoder.layer) == 2
    own = shallow.state_dict()
    shipped = load_file(str(cfg.reader_weights / "reader.safetensors"))
    shallow.load_state_dict({k: v.float() for k, v in shipped.items() if k in own}, strict=False)
    shallow.eval()
    save_delta(shallow, tmp_path / "r", dict(layers=2))
    loaded, meta = load_qa_model(embedder, tmp_path / "r")
    assert meta["layers"] == 2 and len(loaded.bert.encoder.layer) == 2
    ids = torch.randint(5, 1000, (1, 24)).numpy()
    mask = np.ones_like(ids)
    # fp16 storage: the same logits within rounding
    assert np.allclose(TorchEngine(shallow)(ids, mask)[0], TorchEngine(loaded)(ids, mask)[0], atol=0.05)

    meta_path = tmp_path / "r" / "reader.json"
    meta_path.write_text(json.dumps(dict(meta, layers=3)))
    with pytest.raises(ReaderWeightsError, match="does not fit"):
        load_qa_model(embedder, tmp_path / "r")
    with pytest.raises(ReaderWeightsError, match="13 layers"):
        build_qa_model(embedder, layers=13)


def test_the_served_runtime_reads_as_the_torch_model_does(qa, cfg):
    # OpenVINO (int8 embedding table, bf16 arithmetic where the CPU has it) against the fp32
    # torch model, on real windows of the corpus
    import numpy as np

    from rag.models.loading import load_reader_engine, load_reader_model
    from rag.reader.runtime import OpenVinoEngine, TorchEngine

    engine, _ = load_reader_engine(replace(cfg, reader_runtime="openvino"))
    assert isinstance(engine, OpenVinoEngine)
    torch_engine = TorchEngine(load_reader_model(cfg)[0])
    clear_tokens = 0
    for question in (QUESTIONS["002"], QUESTIONS["003"], QUESTIONS["004"]):
        enc = qa.reader.encode(question, [p.chunk.text for p in qa.run(question, top_k=4).passages])
        ours = np.concatenate(engine(enc.input_ids, enc.attention_mask))
        theirs = np.concatenate(torch_engine(enc.input_ids, enc.attention_mask))
        valid = np.concatenate([enc.attention_mask] * 2).astype(bool)
        assert np.corrcoef(ours[valid], theirs[valid])[0, 1] > 0.999
        # where the torch model has a clear best token, the served runtime picks the same one
        ranked = np.sort(np.where(valid, theirs, -np.inf), axis=1)
        clear = ranked[:, -1] - ranked[:, -2] > 0.5
        best = [np.where(valid, x, -np.inf).argmax(axis=1) for x in (ours, theirs)]
        assert (best[0][clear] == best[1][clear]).all()
        clear_tokens += int(clear.sum())
    assert clear_tokens  # the comparison saw some


def test_encoding_from_many_threads_at_once_gives_the_same_windows(qa):
    # the app answers requests in parallel; the reader's tokenizer keeps settings in shared state
    from concurrent.futures import ThreadPoolExecutor

    texts = [c.text for c in qa.index.chunks[:6]]
    cases = [("Who founded Aibee?", texts[:1]), ("金榕本科毕业于哪所大学?" * 3, texts[1:4]),
             ("Siapa yang bergabung dengan ByteDance?", texts[4:6])]
    expected = [qa.reader.encode(q, c).input_ids for q, c in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [(i, pool.submit(qa.reader.encode, *cases[i])) for i in list(range(len(cases))) * 200]
        for i, job in jobs:
            assert (job.result().input_ids == expected[i]).all()


def test_the_reader_reads_an_english_question_with_the_passages_own_names(qa, cfg):
    question = QUESTIONS["002"]
    chunk = next(c for c in qa.index.chunks if c.doc_id.startswith("002") and "王刚" in c.text)
    assert "王刚" in qa.reader.question_for(question, chunk.text)
    assert NeuralReader(replace(cfg, question_anchors="off")).question_for(question, chunk.text) == question
    with pytest.raises(ValueError, match="RAG_QUESTION_ANCHORS"):
        NeuralReader(replace(cfg, question_anchors="all"))


def test_a_simplified_question_is_read_in_a_traditional_passages_characters(qa):
    from rag.text.language import CJK_RUN, fold

    doc_id = next(d for d, doc in qa.index.documents.items() if doc.lang == "zh-Hant")
    chunk = next(c for c in qa.index.chunks if c.doc_id == doc_id
                 and any(fold(run) != run for run in CJK_RUN.findall(c.text) if len(run) >= 8))
    phrase = next(run for run in CJK_RUN.findall(chunk.text) if len(run) >= 8 and fold(run) != run)
    question = fold(phrase) + "是什么意思?"  # simplified, as a reader of simplified Chinese asks
    assert phrase in qa.reader.question_for(question, chunk.text)


@pytest.mark.parametrize("text, span, trimmed", [
    ("「絕悟」和首個「電競虛擬人」——天鵝靜", "絕悟」和首個「電競虛擬人」——天鵝", "絕悟"),  # ends at its own closing quote
    ("in (2016) he", "2016)", "2016"),
    ("Dr. Smith (PhD) left", "Dr. Smith (PhD)", "Dr. Smith (PhD)"),  # a bracket opened inside stays
    ("王者荣耀（腾讯）很好", "王者荣耀（腾讯）", "王者荣耀（腾讯）"),
    ("Tencent’s lab", "Tencent’s lab", "Tencent’s lab"),
    ("he said “go”.", "“go”.", "go"),
])
def test_reader_spans_end_at_a_quote_or_bracket_they_did_not_open(text, span, trimmed):
    from rag.reader.windows import trim_span

    start = text.index(span)
    s, e = trim_span(text, start, start + len(span))
    assert text[s:e] == trimmed
