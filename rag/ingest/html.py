"""Web pages and HTML chapters → ``Extracted``: the main content only, with its title and date.

A web page goes through ``trafilatura`` (main-content extraction made for this: navigation, cookie
banners, sidebars, footers and scripts are left out; title and publication date from the page's
metadata, ``<title>`` or ``<h1>``), whose content tree we walk so that headings, paragraphs, list
items and table rows become blocks (``TextBuilder``). Markup trafilatura finds no article in
(a fragment, a page of a few lines) and EPUB chapters, which are all content, are read whole by
``markup_blocks``, with the page furniture elements still dropped.
"""

from __future__ import annotations

import logging
import re

from rag.ingest.extracted import Extracted, TextBuilder

log = logging.getLogger(__name__)

_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "blockquote", "pre", "figcaption",
           "caption", "address", "td", "th", "div", "section", "article", "main", "body"}
_FRAME = {"html", "body", "main", "article"}
_FURNITURE_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "nav", "header", "footer",
                   "aside", "form", "button", "select")
# class / id words of site furniture (kept to whole-word matches: "navigation" but not "canvas")
_FURNITURE = re.compile(r"(^|[\s_-])(nav|navbar|navigation|menu|cookie|cookies|consent|banner|sidebar|"
                        r"footer|breadcrumbs?|share|social|related|popular|most-read|newsletter|advert|ads?)"
                        r"($|[\s_-])", re.IGNORECASE)


def read_html(markup: str) -> Extracted:
    """The main content of a web page (``trafilatura``), or all its visible text where it finds none."""
    import trafilatura

    tree = _parse(markup)
    if tree is None:
        return Extracted("")
    title = _page_title(tree)
    _drop_furniture(tree)  # before trafilatura too: on a short page it keeps what it cannot rule out
    try:
        found = trafilatura.bare_extraction(tree, include_tables=True, include_comments=False,
                                            include_formatting=False, include_links=False, include_images=False,
                                            with_metadata=True, deduplicate=False,
                                            # a date the page states in its markup, never one guessed from its text
                                            date_extraction_params={"extensive_search": False, "original_date": True})
    except Exception as exc:  # trafilatura raises several kinds on odd markup; all mean "no article found"
        log.info("trafilatura found no article (%s); reading the whole page", exc)
        found = None
    if found is not None and found.body is not None and (found.text or "").strip():
        builder = TextBuilder()
        _walk(found.body, builder)
        extracted = builder.build(found.title or title, found.date or "")
        if extracted.text.strip():
            return extracted
    return _tree_blocks(tree, title)


def _text(el) -> str:
    return "".join(el.itertext())


def _walk(el, out: TextBuilder) -> None:
    """trafilatura's content tree (head, p, list/item, table/row/cell, quote, code) → blocks."""
    for child in el:
        tag = child.tag
        if tag in ("head", "p", "quote", "code"):
            out.block(_text(child))
        elif tag == "list":
            for item in child.iter("item"):
                out.item(_text(item))
        elif tag == "table":
            _table(out, [[(_text(c), c.get("role") == "head") for c in row.iter("cell")] for row in child.iter("row")])
        elif len(child):
            _walk(child, out)
        elif (child.text or "").strip():
            out.block(child.text)


def _table(out: TextBuilder, rows: list[list[tuple[str, bool]]]) -> None:
    """A table's rows of (cell text, whether a header cell): a first row of header cells is the header."""
    header = [text for text, _ in rows[0]] if rows and all(head for _, head in rows[0]) else None
    out.table([[text for text, _ in row] for row in rows[0 if header is None else 1:]], header)


def markup_blocks(markup: str | bytes, title: str = "") -> Extracted:
    """Every visible block of ``markup`` (furniture elements dropped), title from ``<title>`` or ``<h1>``."""
    tree = _parse(markup)
    if tree is None:
        return Extracted("")
    title = title or _page_title(tree)
    _drop_furniture(tree)
    return _tree_blocks(tree, title)


def _parse(markup: str | bytes):
    import lxml.html

    try:
        return lxml.html.document_fromstring(markup)
    except ValueError:  # a str that declares its encoding (XHTML): lxml wants its bytes
        if isinstance(markup, str):
            return _parse(markup.encode("utf-8"))
        return None
    except lxml.etree.ParserError:
        return None


def _drop_furniture(tree) -> None:
    """Scripts, navigation, sidebars, footers, forms, and elements whose class or id names furniture;
    a ``<header>`` only outside the article (an article's header holds its headline)."""
    for el in list(tree.iter(*_FURNITURE_TAGS)):
        if el.tag != "header" or not any(a.tag in ("article", "main") for a in el.iterancestors()):
            el.drop_tree()
    for el in list(tree.iter()):
        # the page's frame stays whatever its classes say (<body class="has-sidebar">)
        if isinstance(el.tag, str) and el.tag not in _FRAME and el.getparent() is not None and _FURNITURE.search(
                f"{el.get('class', '')} {el.get('id', '')} {el.get('role', '')}"):
            el.drop_tree()


def _tree_blocks(tree, title: str) -> Extracted:
    out = TextBuilder()
    body = tree.find("body")
    _blocks(body if body is not None else tree, out)
    return out.build(title)


def _page_title(tree) -> str:
    for path in ("//meta[@property='og:title']/@content", "//title/text()", "//h1"):
        found = tree.xpath(path)
        if found:
            text = found[0] if isinstance(found[0], str) else found[0].text_content()
            if text.strip():
                return " ".join(text.split())
    return ""


def _blocks(el, out: TextBuilder) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "table":
        _table(out, [[(" ".join(c.text_content().split()), c.tag == "th") for c in tr if c.tag in ("td", "th")]
                     for tr in el.iter("tr")])
        return
    if tag in ("ul", "ol"):
        for li in el:
            if li.tag == "li":
                out.item(li.text_content())
        return
    # a block with block children: its own loose text, then the children in order
    if any(isinstance(c.tag, str) and (c.tag in _BLOCKS or c.tag in ("table", "ul", "ol")) for c in el):
        if (el.text or "").strip():
            out.block(el.text)
        for child in el:
            _blocks(child, out)
            if (child.tail or "").strip():
                out.block(child.tail)
    else:
        out.block(el.text_content())
