"""Real files of every supported format, built the way people's tools make them (for the tests)."""

from __future__ import annotations

from pathlib import Path

WEB_PAGE = """<!doctype html><html><head><title>Northline Rail reports record year | Example News</title>
<meta property="article:published_time" content="2024-03-05"></head>
<body>
<header class="site-header"><a href="/">Example News</a>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/business">Business</a></li></ul></nav>
</header>
<div id="cookie-consent" class="cookie-banner">We use cookies to improve your experience on our site.
<button>Accept all cookies</button></div>
<main><article>
<h1>Northline Rail reports record year</h1>
<p>Northline Rail, the regional operator based in Harlow, carried more passengers in 2023 than in any year
since it was founded in 1987. The company said ticket sales rose by twelve percent.</p>
<p>Its chief executive, Maria Olsen, said the new timetable had been decisive. The operator now runs 240
trains a day on four lines.</p>
<h2>Stations</h2>
<table><thead><tr><th>Station</th><th>Opened</th><th>Passengers a day</th></tr></thead>
<tbody><tr><td>Harlow</td><td>1998</td><td>12,400</td></tr><tr><td>Epping</td><td>2004</td><td>8,150</td></tr>
<tr><td>Ongar</td><td>2011</td><td>3,020</td></tr></tbody></table>
<p>The company plans to open a fifth line in 2026, connecting Ongar with Chelmsford.</p>
</article></main>
<aside class="sidebar"><h3>Most read</h3><ol><li><a href="/a">Storm closes the airport for a day</a></li>
<li><a href="/b">Football club sold to investors</a></li></ol></aside>
<footer><p>© 2024 Example News. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>"""

WEB_FURNITURE = ("Home", "cookies", "Most read", "Storm closes", "Football club", "All rights reserved",
                 "Privacy policy", "Example News")

# a report typeset line by line as a PDF writer sets it: hard wraps, a word hyphenated at a line end,
# a running header and a page number on each page, a paragraph running over the page break
PDF_TITLE = "Lake Mirren Water Survey"
PDF_HEADER = "Lake Mirren Water Survey - Annual Review 2022"
PDF_PAGES = [
    [["The survey team spent eight years at a field station in the north, recording the water",
      "level of the lake every morning. Samples were taken in four towns around Lake Mirren,",
      "where the water was treat-",
      "ed before it was tested in the station's own laboratory."],
     ["In 2019 the station was moved to Kessel, a village of 900 people. The move was paid for by",
      "the regional council, which also funded a new boat for the",
      ]],
    [["sampling work on the open water."],
     ["The final report was published in March 2022. It found that the water quality had improved",
      "in three of the four towns, and that the lake level had fallen by 40 centimetres."]],
]


def web_page(path: Path) -> Path:
    path.write_text(WEB_PAGE, encoding="utf-8")
    return path


def pdf_report(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(PDF_TITLE)
    for number, paragraphs in enumerate(PDF_PAGES, 1):
        pdf.add_page()
        pdf.set_font("helvetica", size=9)
        pdf.set_xy(10, 8)
        pdf.cell(0, 5, PDF_HEADER)
        y = 25
        if number == 1:
            pdf.set_font("helvetica", "B", size=16)
            pdf.set_xy(10, y)
            pdf.cell(0, 10, PDF_TITLE)
            y += 16
        pdf.set_font("helvetica", size=11)
        for lines in paragraphs:
            for line in lines:
                pdf.set_xy(10, y)
                pdf.cell(0, 6, line)
                y += 6
            y += 6
        pdf.set_font("helvetica", size=9)
        pdf.set_xy(100, 285)
        pdf.cell(0, 5, f"Page {number}")
    pdf.output(str(path))
    return path


def word_file(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Harbour Museum Visitor Guide", 0)
    document.add_paragraph("The Harbour Museum opened in 1964 in the old customs house of Port Ellis. "
                           "It holds 3,200 objects from the age of sail.")
    document.add_heading("What to see", 1)
    document.add_paragraph("A full-size copy of the schooner Gull", style="List Bullet")
    document.add_paragraph("The lighthouse lens from Cape Morrow", style="List Bullet")
    table = document.add_table(rows=3, cols=3)
    for i, row in enumerate([["Gallery", "Floor", "Objects"], ["Ships", "Ground", "1,150"], ["Maps", "First", "640"]]):
        for j, value in enumerate(row):
            table.cell(i, j).text = value
    document.add_paragraph("The museum is run by the Port Ellis Heritage Trust, a charity founded in 1961.")
    document.save(str(path))
    return path


def epub_book(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("river-book-1")
    book.set_title("The River Alde")
    book.set_language("en")
    one = epub.EpubHtml(title="Source", file_name="one.xhtml", lang="en")
    one.content = ("<h1>The source</h1><p>The river Alde rises near the village of Brandon and flows "
                   "sixty kilometres to the sea.</p>")
    two = epub.EpubHtml(title="Crossings", file_name="two.xhtml", lang="en")
    two.content = ("<h1>Crossings</h1><p>A ferry has crossed the river at Orford since 1820.</p>"
                   "<table><tr><th>Bridge</th><th>Built</th></tr><tr><td>Snape</td><td>1802</td></tr>"
                   "<tr><td>Iken</td><td>1911</td></tr></table>")
    for chapter in (one, two):
        book.add_item(chapter)
    book.toc = (one, two)
    book.spine = [one, two]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path
