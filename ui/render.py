"""Turn answers, passages, documents and quote matches into safe Markdown/HTML for the app.

Every piece of document or user text goes through ``esc`` (HTML-escaped, Markdown punctuation
backslash-escaped) or ``esc_html`` before it is shown: documents may contain ``<script>`` or Markdown.
Quotes are not turned into entities: in Markdown, ``&#x27;`` would be shown as written.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, unquote

from rag.text.language import language_name

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")

NOT_FOUND = "**Not found in the documents.**"
CITE = "#cite="  # a citation link's fragment: source|start|end, URL-quoted


def esc(text: str) -> str:
    """Document or user text → inert Markdown/HTML (newlines kept as spaces)."""
    return _MD.sub(r"\\\1", html.escape(text.replace("\n", " "), quote=False))


def esc_html(text: str) -> str:
    return html.escape(text, quote=True)


def citation_value(source: str, start: int, end: int) -> str:
    return f"{source}|{start}|{end}"


def parse_citation(value: str) -> tuple[str, int, int] | None:
    """(source, start, end) of a citation value or link target (a trailing ``|nonce`` is ignored)."""
    parts = unquote(value or "").split("|")
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return None


def numbered_citations(result: dict) -> list[tuple[int, dict, dict]]:
    """(number, answer, citation) for every citation of every answer, numbered once for the chat
    and the citation picker alike: the best answer's first, then the other answers' in order."""
    out = []
    for a in result.get("answers", []):
        for c in a["citations"]:
            out.append((len(out) + 1, a, c))
    return out


def _where(c: dict) -> str:
    """Where a citation sits beyond its offsets: its page, its table row and column."""
    parts = [f"p. {c['page']}"] if c.get("page") else []
    if c.get("cell"):
        cell = c["cell"]
        parts.append(f"row {esc(cell['row'])}" + (f", column {esc(cell['column'])}" if cell["column"] else ""))
    return f" ({'; '.join(parts)})" if parts else ""


def _cite_link(n: int, c: dict) -> str:
    """A numbered citation that opens the cited place in the document view when clicked."""
    target = quote(citation_value(c["source"], c["start"], c["end"]), safe="")
    return (f"<a href='{CITE}{target}' class='cite' title='show in the document'>[{n}]</a> "
            f"`{esc_html(c['source'])}` [{c['start']}–{c['end']}]{_where(c)}")


def _answer_text(a: dict) -> str:
    """The answer in bold, with its romanisation when the question was asked in Latin letters."""
    return f"**{esc(a['text'])}**" + (f" · {esc(a['romanized'])}" if a.get("romanized") else "")


def highlighted_quote(quote_: str, lo: int, hi: int) -> str:
    return f"{esc(quote_[:lo])}<mark>{esc(quote_[lo:hi])}</mark>{esc(quote_[hi:])}"


def understood_markdown(result: dict) -> str:
    """How a follow-up was read ("Read as: …"), or nothing for a question read as asked."""
    return f"<span class='read-as'>Read as: {esc(result['understood_as'])}</span>\n\n" if result.get("understood_as") else ""


def answer_markdown(result: dict) -> str:
    """A chat reply: how a follow-up was read, the answer in bold with its confidence, then numbered,
    clickable citations."""
    return understood_markdown(result) + _answers_markdown(result)


def _answers_markdown(result: dict) -> str:
    answers = result.get("answers", [])
    if not answers:
        lines = [NOT_FOUND]
        if result.get("passages"):
            lines.append("\nClosest passages:")
            for i, p in enumerate(result["passages"][:3], 1):
                lines.append(f"{i}. `{esc_html(p['source'])}` [{p['start']}–{p['end']}]: {esc(p['cleaned'][:160])}…")
        return "\n".join(lines)
    best = answers[0]
    numbers = {id(c): n for n, _, c in numbered_citations(result)}
    lines = [f"{_answer_text(best)}  ·  confidence {best['score']:.2f}", ""]
    if best.get("context"):  # a bare fragment ("11月"): its clause, and the document's own date
        ctx = best["context"]
        dated = f" (the document is dated {esc(ctx['dated'])})" if ctx["dated"] else ""
        lines[-1:-1] = [f"in “{highlighted_quote(ctx['text'], *ctx['answer_in_context'])}”{dated}"]
    for c in best["citations"]:
        lo, hi = c["answer_in_quote"]
        lines.append(f"{numbers[id(c)]}. {_cite_link(numbers[id(c)], c)}: {highlighted_quote(c['quote'], lo, hi)}")
    if len(answers) > 1:
        lines += ["", "Other answers:"]
        for a in answers[1:]:
            links = ", ".join(_cite_link(numbers[id(c)], c) for c in a["citations"])
            lines.append(f"- {_answer_text(a)} ({a['score']:.2f}) from {links}")
    return "\n".join(lines)


def passages_html(result: dict) -> str:
    rows = []
    for i, p in enumerate(result.get("passages", []), 1):
        rows.append(
            f"<div class='passage'><b>{i}. {esc_html(p['source'])}</b> "
            f"<span>[{p['start']}–{p['end']}] score {p['score']:.3f}</span>"
            f"<p>{esc_html(p['cleaned'])}</p></div>")
    return "".join(rows) or "<p>No passages.</p>"


def citation_choices(result: dict) -> list[tuple[str, str]]:
    """(label, value) for every citation of every answer, numbered as the chat numbers them."""
    return [(f"[{n}] {a['text'][:30]} — {c['source']} [{c['start']}–{c['end']}]",
             citation_value(c["source"], c["start"], c["end"])) for n, a, c in numbered_citations(result)]


def citation_label(source: str, start: int, end: int) -> str:
    """The picker's label for a citation of an earlier answer (its number is that answer's)."""
    return f"{source} [{start}–{end}]"


def document_view_html(view) -> str:
    """A ``rag.pipeline.DocumentView``: the cleaned text as read, the cited span marked inline."""
    if view is None:
        return "<p>That document is no longer in the index.</p>"
    lo, hi = view.mark
    head = ("…" if view.truncated[0] else "") + view.text[:lo]
    tail = view.text[hi:] + ("…" if view.truncated[1] else "")
    name = f"{esc_html(view.title)} — {esc_html(view.doc_id)}" if view.title else esc_html(view.doc_id)
    page = f" · p. {view.page}" if view.page else ""
    return (f"<div class='docview'><div class='docname'>{name}{page}</div>"
            f"<div class='doctext'>{esc_html(head)}<mark>{esc_html(view.text[lo:hi])}</mark>{esc_html(tail)}</div></div>")


def language_choices(codes) -> list[tuple[str, str]]:
    """(readable name, code) for a filter, by name."""
    return sorted(((language_name(c), c) for c in set(codes)), key=lambda pair: pair[0])


def document_choices(documents) -> list[tuple[str, str]]:
    """(title — file name, file name) for each ``rag.pipeline.DocumentInfo``."""
    return [(f"{d.title} — {d.doc_id}" if d.title else d.doc_id, d.doc_id) for d in documents]


def documents_rows(documents) -> list[list]:
    return [[d.title, d.doc_id, language_name(d.lang), d.characters, d.chunks] for d in documents]


NO_CLOSE_MATCH = "**No close match in the documents.**"
_KINDS = {"overlap": "most of it found", "meaning": "same meaning"}


def quotes_markdown(matches: list[dict]) -> str:
    """Close matches first, numbered; with none, says so and lists the nearest passages as such."""
    if not matches:
        return NO_CLOSE_MATCH
    close = [m for m in matches if m.get("close", True)]
    lines = [] if close else [NO_CLOSE_MATCH, "", "Nearest passages (not close):"]
    for i, m in enumerate(close or matches, 1):
        sure = m["score"] if m.get("confidence") is None else m["confidence"]
        kind = "exact match" if m["exact"] else f"{_KINDS.get(m.get('kind'), 'closest passage')}, confidence {sure:.2f}"
        lines.append(f"{i}. `{esc_html(m['source'])}` [{m['start']}–{m['end']}] ({kind}): <mark>{esc(m['text'][:300])}</mark>")
    return "\n".join(lines)
