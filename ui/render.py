"""Turn answers, passages and quote matches into safe Markdown/HTML for the UI.

Every piece of document text goes through ``esc`` (HTML-escaped, Markdown punctuation
backslash-escaped) before it is shown: documents may contain ``<script>`` or Markdown.
"""

from __future__ import annotations

import html
import re

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")

NOT_FOUND = "**Not found in the documents.**"


def esc(text: str) -> str:
    """Document text → inert Markdown/HTML (newlines kept as spaces)."""
    return _MD.sub(r"\\\1", html.escape(text.replace("\n", " "), quote=True))


def esc_html(text: str) -> str:
    return html.escape(text, quote=True)


def highlighted_quote(quote: str, lo: int, hi: int) -> str:
    return f"{esc(quote[:lo])}<mark>{esc(quote[lo:hi])}</mark>{esc(quote[hi:])}"


def answer_markdown(result: dict) -> str:
    """A chat reply: the answer in bold with its confidence, then numbered citations."""
    answers = result.get("answers", [])
    if not answers:
        lines = [NOT_FOUND]
        if result.get("passages"):
            lines.append("\nClosest passages:")
            for i, p in enumerate(result["passages"][:3], 1):
                lines.append(f"{i}. `{esc_html(p['source'])}` [{p['start']}–{p['end']}]: {esc(p['cleaned'][:160])}…")
        return "\n".join(lines)
    best = answers[0]
    lines = [f"**{esc(best['text'])}**  ·  confidence {best['score']:.2f}", ""]
    n = 0
    for c in best["citations"]:
        n += 1
        lo, hi = c["answer_in_quote"]
        lines.append(f"{n}. `{esc_html(c['source'])}` [{c['start']}–{c['end']}]: {highlighted_quote(c['quote'], lo, hi)}")
    if len(answers) > 1:
        lines += ["", "Other answers:"]
        for a in answers[1:]:
            where = ", ".join(f"`{esc_html(c['source'])}` [{c['start']}–{c['end']}]" for c in a["citations"])
            lines.append(f"- **{esc(a['text'])}** ({a['score']:.2f}) from {where}")
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
    """(label, value) for every citation of every answer; value = 'source|start|end'."""
    out = []
    for ai, a in enumerate(result.get("answers", []), 1):
        for c in a["citations"]:
            out.append((f"{ai}. {a['text'][:30]} — {c['source']} [{c['start']}–{c['end']}]",
                        f"{c['source']}|{c['start']}|{c['end']}"))
    return out


def in_document(original: str, start: int, end: int, context: int = 1500) -> list[tuple[str, str | None]]:
    """HighlightedText value: the document around the citation with the answer marked."""
    lo, hi = max(0, start - context), min(len(original), end + context)
    head = ("…" if lo > 0 else "") + original[lo:start]
    tail = original[end:hi] + ("…" if hi < len(original) else "")
    return [(head, None), (original[start:end], "answer"), (tail, None)]


def quotes_markdown(matches: list[dict]) -> str:
    if not matches:
        return "No match in the documents."
    lines = []
    for i, m in enumerate(matches, 1):
        kind = "exact match" if m["exact"] else f"closest passage, score {m['score']:.2f}"
        lines.append(f"{i}. `{esc_html(m['source'])}` [{m['start']}–{m['end']}] ({kind}): <mark>{esc(m['text'][:300])}</mark>")
    return "\n".join(lines)
