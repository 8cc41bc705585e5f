"""The layout holds: serving never imports training or benchmark code, modules stay small,
the UI uses the public API, and the docs describe the product rather than its history."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT

SERVING = ("rag", "ui")
OUTSIDE = ("rag_train", "rag_bench")


def _modules(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (PROJECT_ROOT / f).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules(*SERVING), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_serving_never_imports_training_or_benchmark_code(path):
    bad = {n for n in _imports(path) if n.split(".")[0] in OUTSIDE}
    assert not bad, f"{path} imports {bad}"


def test_the_ui_uses_only_the_public_api():
    allowed = {"rag", "rag.config", "rag.pipeline", "rag.retrieval.retriever", "rag.ingest.uploads", "rag.text.language",
               "rag.resident"}
    for path in _modules("ui"):
        used = {n for n in _imports(path) if n.split(".")[0] == "rag"}
        assert used <= allowed, f"{path} reaches into {used - allowed}"
        assert ".index." not in path.read_text(encoding="utf-8"), f"{path} reads the index directly"


def test_no_module_over_400_lines():
    long = {str(p): n for p in _modules("rag", "ui", "rag_train", "bench")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long


def test_stages_are_packages():
    assert {p.name for p in (PROJECT_ROOT / "rag").iterdir() if (p / "__init__.py").is_file()} >= {
        "ingest", "index", "retrieval", "reader", "answer"}


def test_answering_loads_no_training_code():
    """A process that answers from the public API never has rag_train or rag_bench in memory."""
    code = ("import sys, rag, rag.cli, rag.pipeline, rag_ui.app; rag.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rag_train', 'rag_bench')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # the CLI's parser registers the training and bench verbs: only their small cli modules load
    assert set(eval(out)) <= {"rag_train", "rag_train.cli", "rag_bench", "rag_bench.cli"}, out


def test_answering_and_ingesting_run_without_torch(cfg, qa, tmp_path):
    """Models already built: `rag ingest`, `rag ask` and `rag search` run on ONNX Runtime and
    `tokenizers`, never importing torch, transformers or sentence-transformers."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "note.txt").write_text("騰訊優圖實驗室的負責人是賈佳亞。" * 5, encoding="utf-8")
    code = ("import sys, runpy; sys.argv = ['rag', '-q'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('rag.cli', run_name='__main__')\n"
            "except SystemExit as e:\n    code = e.code\n"
            "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
            "print('HEAVY', heavy, file=sys.stderr); sys.exit(code)")
    index = tmp_path / "index"
    for args in (["ingest", str(tmp_path / "docs"), "--index", str(index)],
                 ["ask", "--in-process", "Who leads the Youtu Lab?", "--index", str(index)],
                 ["search", "優圖實驗室的負責人", "--index", str(index)]):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                              env=dict(os.environ, RAG_HOME=str(cfg.home)))
        assert proc.returncode == 0, proc.stderr
        assert "HEAVY []" in proc.stderr, (args, proc.stderr[-500:])


def test_docs_describe_the_product_not_its_history():
    texts = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md")),
             *sorted((PROJECT_ROOT / "models").rglob("*.md")), *sorted((PROJECT_ROOT / "data").rglob("*.md")),
             *_modules("rag", "ui", "rag_train", "bench")]
    library_terms = re.compile(r"InferenceSession|SessionOptions|self\.session|\.session\b|session\.config|"
                               r"scope=\"session\"|intra_op")
    for path in texts:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bsessions?\b", line, re.I) and not library_terms.search(line):
                pytest.fail(f"{path.relative_to(PROJECT_ROOT)}:{n} tells history: {line.strip()[:100]}")
    assert len((PROJECT_ROOT / "README.md").read_text(encoding="utf-8")) <= 8000


def test_the_package_says_the_version_the_project_declares():
    import tomllib

    import rag

    declared = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert rag.__version__ == declared
