"""The command line as users and other tools call it."""

import json
import shutil

import pytest

from .conftest import rag


def test_batch_contract_with_malformed_lines(cfg, built_index):
    lines = ["Which deep learning framework does FAIR rely on?".encode(), b"", b"\xff\xfe bad utf-8",
             "字节跳动AI Lab在架构上直接属于哪个部门?".encode()]
    proc = rag("ask", "--json", "-", "--index", str(cfg.index_dir), stdin=b"\n".join(lines) + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(out) == 4
    assert "error" in out[1] and "empty" in out[1]["error"]
    assert "error" in out[2] and "UTF-8" in out[2]["error"]
    for obj in (out[0], out[3]):
        assert "error" not in obj and set(obj) >= {"question", "answers", "passages"}
        for p in obj["passages"]:
            assert set(p) >= {"text", "source", "start", "end", "score"}
        for a in obj["answers"]:
            assert set(a) >= {"text", "score", "source", "start", "end", "quote"}
            assert 0.0 <= a["score"] <= 1.0


def test_search_json(cfg, built_index):
    proc = rag("search", "神仙們歸隱山林", "--json", "--index", str(cfg.index_dir))
    assert proc.returncode == 0, proc.stderr.decode()
    match = json.loads(proc.stdout)["matches"][0]
    assert match["exact"] and match["source"].startswith("003") and match["text"] == "神仙们归隐山林"


@pytest.mark.reliability("damaged or foreign index", "exit 2, a message with the rebuild command, no traceback")
@pytest.mark.parametrize("damage", ["truncate", "manifest", "version", "pointer", "other-weights"])
def test_damaged_index_gives_clear_error_and_exit_2(cfg, built_index, tmp_path, damage, record_property):
    from rag.index.store import current_generation

    broken = tmp_path / "index"
    shutil.copytree(cfg.index_dir, broken)
    gen = current_generation(broken)
    if damage == "truncate":
        (gen / "e5.npy").write_bytes((gen / "e5.npy").read_bytes()[:100])
    elif damage == "manifest":
        (gen / "manifest.json").write_text("{not json")
    elif damage in ("version", "other-weights"):
        manifest = json.loads((gen / "manifest.json").read_text())
        change = dict(format_version=999) if damage == "version" else dict(embedder_sha256="0" * 64)
        (gen / "manifest.json").write_text(json.dumps(dict(manifest, **change)))
    else:
        (broken / "CURRENT").write_text("gen-does-not-exist\n")
    proc = rag("ask", "anything", "--index", str(broken))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "rag ingest" in err and "Traceback" not in err
    if damage == "other-weights":
        assert "other embedding weights" in err
    record_property("observed", f"exit 2: {err.strip().splitlines()[-1][:160]}")


def test_ingest_rejects_bad_file_and_keeps_index(cfg, built_index, tmp_path):
    from rag.index.store import current_generation

    index = tmp_path / "index"
    shutil.copytree(cfg.index_dir, index)
    before = current_generation(index)
    bad = tmp_path / "photo.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    proc = rag("ingest", str(bad), "--index", str(index))
    assert proc.returncode == 1
    assert "photo.txt" in proc.stderr.decode() and "binary" in proc.stderr.decode()
    assert current_generation(index) == before


def test_common_options_before_or_after_the_verb(capsys):
    from rag.cli import build_parser

    parser = build_parser()
    before = parser.parse_args(["-q", "--index", "/x", "ask", "q"])
    after = parser.parse_args(["ask", "q", "-q", "-v", "--index", "/x"])
    assert (before.quiet, str(before.index)) == (True, "/x")
    assert (after.quiet, after.verbose, str(after.index)) == (True, True, "/x")
    assert not parser.parse_args(["ask", "q"]).quiet
    for verb in ("ask", "search", "ingest", "eval", "serve", "bench", "train-reader", "fit-scorer"):
        with pytest.raises(SystemExit):
            parser.parse_args([verb, "--help"])
        shown = capsys.readouterr().out
        assert all(flag in shown for flag in ("--verbose", "--quiet", "--index")), verb


def test_exit_codes_are_decided_by_the_error_kind(monkeypatch, caplog):
    import rag.cli
    from rag.errors import EXIT_BUG, IndexUnusable

    def unusable(args):
        raise IndexUnusable("no index here; build one with: rag ingest PATH")

    def bug(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(rag.cli, "cmd_search", unusable)
    assert rag.cli.main(["search", "x"]) == 2
    assert "build one with" in caplog.text and "Traceback" not in caplog.text
    caplog.clear()
    monkeypatch.setattr(rag.cli, "cmd_search", bug)
    assert rag.cli.main(["search", "x"]) == EXIT_BUG == 3
    assert "ZeroDivisionError" in caplog.text and "-v" in caplog.text and "Traceback" not in caplog.text
    caplog.clear()
    assert rag.cli.main(["search", "x", "-v"]) == 3
    assert "Traceback" in caplog.text  # with -v, a bug keeps its traceback


def test_a_missing_evaluation_file_is_an_input_error(tmp_path):
    proc = rag("eval", str(tmp_path / "nope.jsonl"), "--index", str(tmp_path / "index"))
    assert proc.returncode == 2 and "nope.jsonl" in proc.stderr.decode() and b"Traceback" not in proc.stderr


def test_batch_json_object_lines_are_answered_like_plain_lines(cfg, built_index):
    question = "Which deep learning framework does FAIR rely on?"
    lines = [json.dumps({"id": 7, "question": question}), question, json.dumps({"question": question, "id": "x"})]
    proc = rag("ask", "--json", "-", "--index", str(cfg.index_dir), stdin="\n".join(lines).encode() + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [o.get("id") for o in out] == [7, None, "x"]
    assert out[1]["answers"], "the plain line is answered"
    for o in (out[0], out[2]):
        assert [a["text"] for a in o["answers"]] == [a["text"] for a in out[1]["answers"]]
        assert [p["start"] for p in o["passages"]] == [p["start"] for p in out[1]["passages"]]


def test_questions_over_another_languages_text_are_answered_on_the_command_line(cfg, built_index):
    from .test_reader import LAB_HEAD

    proc = rag("ask", "--json", "-", "--in-process", "--index", str(cfg.index_dir),
               stdin="\n".join(LAB_HEAD).encode() + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()
    for line in proc.stdout.decode().splitlines():
        answers = json.loads(line)["answers"]
        assert answers and answers[0]["text"] == "賈佳亞"
        assert 0.0 < answers[0]["score"] <= 1.0
