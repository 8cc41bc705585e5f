"""The document set: twelve files as people have them — web pages with site furniture, typeset PDFs,
Word files, EPUBs — in English, Chinese and Indonesian, written for this project and built here from
the texts in ``data/documents/documents.json`` (``rag eval-documents`` builds them, then asks the
questions of ``data/documents/questions.jsonl`` through the real pipeline).

Each document is a list of blocks: ``["h", text]`` a heading, ``["p", text]`` a paragraph,
``["li", text]`` a list item, ``["table", [header, *rows]]`` a table. A PDF is typeset line by line
(hard wraps, a hyphenated line end, a running header and page numbers); a web page gets navigation,
a cookie banner, a sidebar and a footer around its article.
"""

from __future__ import annotations

import html
import json
import textwrap
from pathlib import Path

FURNITURE = ("Subscribe to our newsletter", "Accept all cookies", "Most read", "All rights reserved")


def _web(doc: dict, path: Path) -> None:
    body = []
    for kind, value in doc["blocks"]:
        if kind == "h":
            body.append(f"<h2>{html.escape(value)}</h2>")
        elif kind == "p":
            body.append(f"<p>{html.escape(value)}</p>")
        elif kind == "li":
            body.append(f"<ul><li>{html.escape(value)}</li></ul>")
        elif kind == "table":
            head, *rows = value
            cells = "".join(f"<th>{html.escape(c)}</th>" for c in head)
            trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
            body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>{trs}</tbody></table>")
    site = html.escape(doc.get("site", "Daily Courier"))
    path.write_text(f"""<!doctype html><html lang="{doc['lang']}"><head><meta charset="utf-8">
<title>{html.escape(doc['title'])} | {site}</title>
<meta property="article:published_time" content="{doc.get('date', '2025-01-01')}"></head><body>
<header class="masthead"><a href="/">{site}</a><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/about">About us</a></li></ul></nav></header>
<div class="cookie-banner" id="cookie-consent">We use cookies to improve your experience. <button>Accept all cookies</button></div>
<main><article><h1>{html.escape(doc['title'])}</h1>{''.join(body)}</article></main>
<aside class="sidebar"><h3>Most read</h3><ol><li><a href="/x">Storm closes the airport</a></li>
<li><a href="/y">Local team wins the cup</a></li></ol><p>Subscribe to our newsletter</p></aside>
<footer><p>© 2025 {site}. All rights reserved.</p><a href="/privacy">Privacy</a></footer></body></html>""",
                    encoding="utf-8")


def _pdf(doc: dict, path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(doc["title"])
    lines: list[tuple[str, str]] = [("title", doc["title"])]
    for kind, value in doc["blocks"]:
        if kind == "h":
            lines += [("gap", ""), ("h", value)]
        elif kind == "p":
            wrapped = textwrap.wrap(value, 88)
            if doc.get("hyphenate") and len(wrapped) > 1:  # the first line ends in a hyphenated word
                first, rest = wrapped[0], " ".join(wrapped[1:])
                word, _, tail = rest.partition(" ")
                if len(word) >= 6 and word.isalpha():
                    cut = len(word) // 2
                    wrapped = [first + " " + word[:cut] + "-"] + textwrap.wrap(word[cut:] + " " + tail, 88)
            lines += [("gap", "")] + [("p", ln) for ln in wrapped]
        elif kind == "li":
            lines += [("p", "- " + value)]
        elif kind == "table":
            lines += [("gap", "")] + [("p", "   ".join(row)) for row in value]
    page, y = 0, 300.0
    for kind, text in lines:
        if y > 190:  # short pages: the reports run over page breaks
            if page:
                _pdf_footer(pdf, page)
            pdf.add_page()
            page += 1
            pdf.set_font("helvetica", size=9)
            pdf.set_xy(10, 8)
            pdf.cell(0, 5, doc["header"])
            y = 22.0
        if kind == "gap":
            y += 5
            continue
        size = {"title": 16, "h": 13}.get(kind, 11)
        pdf.set_font("helvetica", "B" if kind in ("title", "h") else "", size=size)
        pdf.set_xy(10, y)
        pdf.cell(0, 6, text)
        y += 6 if kind == "p" else 10
    _pdf_footer(pdf, page)
    pdf.output(str(path))


def _pdf_footer(pdf, page: int) -> None:
    pdf.set_font("helvetica", size=9)
    pdf.set_xy(100, 285)
    pdf.cell(0, 5, str(page))


def _docx(doc: dict, path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading(doc["title"], 0)
    for kind, value in doc["blocks"]:
        if kind == "h":
            document.add_heading(value, 1)
        elif kind == "p":
            document.add_paragraph(value)
        elif kind == "li":
            document.add_paragraph(value, style="List Bullet")
        elif kind == "table":
            table = document.add_table(rows=len(value), cols=len(value[0]))
            for i, row in enumerate(value):
                for j, cell in enumerate(row):
                    table.cell(i, j).text = cell
    document.save(str(path))


def _epub(doc: dict, path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(path.stem)
    book.set_title(doc["title"])
    book.set_language(doc["lang"])
    chapters, current = [], []
    for kind, value in doc["blocks"]:
        if kind == "h" and current:
            chapters.append(current)
            current = []
        current.append((kind, value))
    chapters.append(current)
    items = []
    for n, blocks in enumerate(chapters, 1):
        parts = []
        for kind, value in blocks:
            if kind == "table":
                head, *rows = value
                parts.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>" +
                             "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                             + "</table>")
            else:
                tag = {"h": "h1", "p": "p", "li": "p"}[kind]
                parts.append(f"<{tag}>{html.escape(value)}</{tag}>")
        item = epub.EpubHtml(title=f"Chapter {n}", file_name=f"chapter{n}.xhtml", lang=doc["lang"])
        item.content = "".join(parts)
        book.add_item(item)
        items.append(item)
    book.toc = tuple(items)
    book.spine = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)


BUILDERS = {"html": _web, "pdf": _pdf, "docx": _docx, "epub": _epub}


def build(spec: Path, folder: Path) -> list[Path]:
    """Write every document of ``spec`` (documents.json) into ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for doc in json.loads(Path(spec).read_text(encoding="utf-8")):
        path = folder / doc["file"]
        BUILDERS[path.suffix.lstrip(".")](doc, path)
        out.append(path)
    return out
