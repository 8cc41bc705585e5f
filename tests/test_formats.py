"""Documents as people have them: web pages, PDFs, Word files and EPUBs, read into clean text with
titles, pages and table cells, and answered from (real files, real models, a real index)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rag.config import Config
from rag.ingest.documents import load_document
from tests import files


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    files.web_page(root / "northline.html")
    files.pdf_report(root / "lake-survey.pdf")
    files.word_file(root / "museum-guide.docx")
    files.epub_book(root / "river-alde.epub")
    return root


@pytest.fixture(scope="module")
def qa(folder, tmp_path_factory):
    from rag.ingest.incremental import ingest
    from rag.pipeline import QA

    cfg = Config.from_env(index_dir=tmp_path_factory.mktemp("formats-index"))
    report = ingest([folder], cfg, progress=False)
    assert not report.errors and len(report.added) == 4
    return QA(cfg)


def test_a_web_page_is_its_article_with_its_title_and_date(folder, qa):
    doc = load_document(folder / "northline.html", 10**7)
    assert doc.title == "Northline Rail reports record year"
    assert doc.date == "2024-03-05"
    chunks = [c.text for c in qa.index.chunks if c.doc_id == "northline.html"]
    assert any("240 trains a day" in c for c in chunks)
    for furniture in files.WEB_FURNITURE:
        assert not any(furniture in c for c in chunks), furniture


def test_a_table_row_reads_alone_and_a_cell_is_answered_with_its_row_and_column(qa):
    doc = qa.index.documents["northline.html"]
    assert "Harlow — Opened: 1998 — Passengers a day: 12,400" in doc.original
    result = qa.run("How many passengers a day use Harlow station?")
    best = result.answers[0]
    assert best.text == "12,400"
    assert best.citations[0].cell == {"row": "Harlow", "column": "Passengers a day"}
    assert "Harlow" in best.citations[0].quote


def test_a_pdf_is_reflowed_without_its_running_header_and_page_numbers(folder):
    doc = load_document(folder / "lake-survey.pdf", 10**7)
    assert doc.title == files.PDF_TITLE
    text = doc.original
    assert files.PDF_HEADER not in text and "Page 1" not in text and "Page 2" not in text
    assert "where the water was treated before it was tested" in text  # the hyphenated word whole
    assert "four towns around Lake Mirren, where" in text  # a line wrap is a space, not a break
    assert "a new boat for the sampling work on the open water." in text  # across the page break
    assert len(doc.pages) == 2 and doc.page_at(text.index("The final report")) == 2


def test_a_pdf_answer_is_quoted_as_its_whole_sentence_with_its_page(qa):
    result = qa.run("Where were the samples taken?")
    best = result.answers[0]
    assert "four towns" in best.text
    assert best.citations[0].quote == ("Samples were taken in four towns around Lake Mirren, "
                                       "where the water was treated before it was tested in the station's own laboratory.")
    assert best.citations[0].page == 1
    late = qa.run("When was the final report published?").answers[0]
    assert "March 2022" in late.text and late.citations[0].page == 2


def test_a_word_file_keeps_its_headings_list_and_table(folder, qa):
    doc = load_document(folder / "museum-guide.docx", 10**7)
    assert doc.title == "Harbour Museum Visitor Guide"
    assert "• A full-size copy of the schooner Gull\n• The lighthouse lens from Cape Morrow" in doc.original
    assert "Maps — Floor: First — Objects: 640" in doc.original
    best = qa.run("How many objects are in the Maps gallery?").answers[0]
    assert best.text == "640" and best.citations[0].cell == {"row": "Maps", "column": "Objects"}


def test_an_epub_is_read_chapter_by_chapter(folder, qa):
    doc = load_document(folder / "river-alde.epub", 10**7)
    assert doc.title == "The River Alde"
    assert doc.original.index("The source") < doc.original.index("Crossings")
    assert "Iken — Built: 1911" in doc.original
    assert "1820" in qa.run("Since when has a ferry crossed the river at Orford?").answers[0].text


def test_a_file_of_an_unsupported_type_in_a_folder_is_reported_and_fails_the_ingest(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("Kessel is a village of 900 people by Lake Mirren.", encoding="utf-8")
    (docs / "slides.pptx").write_bytes(b"PK\x03\x04 not really slides")
    run = subprocess.run([sys.executable, "-m", "rag.cli", "--index", str(tmp_path / "index"), "ingest", str(docs)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode != 0
    assert run.stderr.count("slides.pptx") == 1 and "unsupported file type '.pptx'" in run.stderr
    assert "added 1" in run.stderr


def test_bundled_corpus_titles_are_headlines(built_index):
    titles = {d.doc_id[:3]: d.title for d in built_index.documents.values()}
    assert titles["002"] == "2022,又一批AI大牛从大厂出走了"
    assert titles["003"] == "互联网留不住科学家"


def test_the_document_set_builds_into_clean_titled_documents(tmp_path):
    """``rag eval-documents``' twelve files: each reads with its own title and none of its furniture."""
    import json

    from rag_train.docset import FURNITURE, build
    from rag_train.documents_eval import FOLDER

    specs = {d["file"]: d for d in json.loads((FOLDER / "documents.json").read_text(encoding="utf-8"))}
    paths = build(FOLDER / "documents.json", tmp_path)
    assert len(paths) >= 12 and {p.suffix for p in paths} == {".html", ".pdf", ".docx", ".epub"}
    questions = [json.loads(line) for line in (FOLDER / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(questions) >= 40 and {q["lang"] for q in questions} == {"en", "zh", "id"}
    for path in paths:
        doc = load_document(path, 10**7)
        assert doc.title == specs[path.name]["title"], path.name
        assert not any(f in doc.original for f in FURNITURE), path.name
        header = specs[path.name].get("header")
        assert not header or header not in doc.original, path.name
    for q in questions:
        assert q["sentence"] in load_document(tmp_path / q["doc"], 10**7).original, q["id"]
