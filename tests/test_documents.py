"""Reading files: encodings, formats and refusals."""

import pytest

from rag.ingest.documents import DocumentError, load_document

TEXT = "人工智能實驗室的負責人離職了。科學家們回到學術界。"


@pytest.mark.parametrize("codec", ["gbk", "big5", "utf-16", "utf-8-sig"])
def test_legacy_and_unicode_encodings(tmp_path, codec):
    text = TEXT if codec != "gbk" else "人工智能实验室的负责人离职了。科学家们回到学术界。"
    path = tmp_path / f"doc-{codec}.txt"
    path.write_bytes((text * 5).encode(codec))
    doc = load_document(path, 10**6)
    assert doc.original == text * 5
    assert doc.lang.startswith("zh")


def test_html_text_without_scripts(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>t</title><script>alert(1)</script></head>"
                    "<body><nav>x</nav><p>Li Lei bergabung dengan UCSB sebagai asisten profesor.</p></body></html>")
    doc = load_document(path, 10**6)
    assert "alert" not in doc.original and "UCSB" in doc.original


@pytest.mark.parametrize("name,data,message", [
    ("empty.txt", b"", "empty"),
    ("blank.txt", b"  \n\t\n", "empty"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary"),
    ("fake.pdf", b"hello, not a pdf", "not a PDF"),
    ("archive.zip", b"PK\x03\x04", "unsupported"),
])
def test_bad_files_are_refused_clearly(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=message):
        load_document(path, 10**6)


def test_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("a" * 2000)
    with pytest.raises(DocumentError, match="limit"):
        load_document(path, 1000)


def test_a_page_whose_body_has_furniture_classes_keeps_its_article(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><body class='has-sidebar nav-open'><main class='menu-wrap'><p>Kessel is a village of "
                    "900 people by the lake, with a school and a harbour.</p></main>"
                    "<div class='sidebar'>Most read: storm closes the airport</div></body></html>")
    doc = load_document(path, 10**6)
    assert "village of 900 people" in doc.original and "Most read" not in doc.original
