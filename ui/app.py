"""The gradio app: chat with cited answers, sources, quote finder, documents, upload and removal.

Thin by design: every action calls ``rag``'s public API (``QA.run``, ``QA.find_quote``,
``QA.documents``, ``QA.view``, ``store_and_ingest``, ``remove_documents``); this module only lays
out components and renders results.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import gradio as gr

from rag import Turn
from rag.config import Config
from rag.ingest.uploads import remove_documents, store_and_ingest
from rag.pipeline import QA, QuestionError
from rag.resident import announce
from rag.retrieval.retriever import Filters

from . import render

log = logging.getLogger(__name__)

EXAMPLES = [
    "Which deep learning framework does FAIR rely on to hold its position?",
    "Where did Wang Gang work as a tenured professor before joining Alibaba?",
    "字节跳动AI Lab在架构上直接属于哪个部门?",
    "Siapa direktur ByteDance AI Labs yang bergabung dengan UCSB?",
]
CSS = (".passage {border-left: 3px solid #bbb; padding-left: 8px; margin-bottom: 10px} mark {background: #ffe066} "
       "#context .doctext {max-height: 420px; overflow-y: auto; white-space: pre-wrap; line-height: 1.6; "
       "border: 1px solid #ddd; border-radius: 6px; padding: 8px} "
       "#context .docname {font-weight: 600; margin-bottom: 4px} "
       "a.cite {font-weight: 600; text-decoration: none} #cite-target {display: none} "
       ".read-as {color: #666; font-style: italic}")
# Citation links in the chat open the cited place in the document view (through a hidden box
# whose change event the app listens to); the marked answer is scrolled into view.
JS = """() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href*="#cite="]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const box = document.querySelector('#cite-target textarea');
    if (!box) return;
    box.value = link.getAttribute('href').split('#cite=')[1] + '|' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
  new MutationObserver(() => {
    const mark = document.querySelector('#context .doctext mark');
    const box = document.querySelector('#context .doctext');
    if (mark && box && mark.dataset.shown !== '1') {
      mark.dataset.shown = '1';
      setTimeout(() => {
        box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
      }, 150);
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""
HEADERS = ["title", "document", "language", "characters", "chunks"]


def build_app(qa: QA) -> gr.Blocks:
    """Lay out the app around a warmed-up ``QA``."""

    def answer(question: str, top_k, documents, languages, history=(), answers=None) -> dict:
        """``QA.run``'s JSON, or the question's error as JSON."""
        try:
            filters = Filters(frozenset(documents or ()), frozenset(languages or ()))
            return qa.run(question, int(top_k or 5), filters, history=history, answers=answers).to_json()
        except QuestionError as exc:
            return dict(question=question, understood_as=None, answers=[], passages=[], error=str(exc))

    def ask_json(question: str, top_k: int = 5, documents: list[str] | None = None,
                 languages: list[str] | None = None, history: list[str] | None = None,
                 answers: list[str | None] | None = None) -> dict:
        """Answer a question, a follow-up of ``history`` (earlier questions, earliest first; ``answers``:
        their answers' texts, computed when missing); the same JSON as ``rag ask --json``."""
        return answer(question, top_k, documents, languages, history or (), answers)

    def search_json(text: str, limit: int = 5) -> dict:
        """Find where a fragment comes from; the same JSON as ``rag search --json``."""
        matches = qa.find_quote(text, limit=int(limit or 5)) if text.strip() else []
        return dict(query=text, matches=[m.to_json() for m in matches])

    def respond(message, history, turns, docs, langs, top_k):
        """One turn of the tab's conversation: ``turns`` holds its questions, answers' texts and readings
        (passed as they are, so earlier turns are not read again)."""
        turns = turns or []
        result = answer(message, top_k, docs, langs, [Turn(**t) for t in turns])
        if "error" in result:  # a question that cannot be asked: nothing is added to the chat, it stays to be edited
            gr.Warning(result["error"])
            return history, gr.update(), gr.update(), gr.update(), gr.update(), turns
        history = list(history or []) + [{"role": "user", "content": render.esc(message)},
                                         {"role": "assistant", "content": render.answer_markdown(result)}]
        turns = turns + [dict(question=message, answer=result["answers"][0]["text"] if result["answers"] else "",
                              understood=result["understood_as"])]
        choices = render.citation_choices(result)
        return (history, "", render.passages_html(result),
                gr.update(choices=choices, value=choices[0][1] if choices else None), result, turns)

    def new_conversation():
        return [], "", "", gr.update(choices=[], value=None), {}, [], "<p></p>"

    def show_citation(value):
        """The picked citation in the document view (no pick: the view stays as it is)."""
        place = render.parse_citation(value)
        return render.document_view_html(qa.view(*place)) if place else gr.update()

    def open_citation(value, result):
        """A citation link clicked in the chat, of any answer: its place in the document view, and in
        the picker (which lists the latest answer's citations, and gains an earlier one's when clicked)."""
        place = render.parse_citation(value)
        if place is None:
            return gr.update(), gr.update()
        picked = render.citation_value(*place)
        choices = render.citation_choices(result or {})
        if picked not in {v for _, v in choices}:
            choices.append((render.citation_label(*place), picked))
        return show_citation(picked), gr.update(choices=choices, value=picked)

    def lookup(text):
        return render.quotes_markdown(search_json(text)["matches"])

    def listings():
        """Everything that lists the documents, rebuilt from the index (after a change, on page load)."""
        documents = qa.documents()
        names = render.document_choices(documents)
        return (render.documents_rows(documents), gr.update(choices=names),
                gr.update(choices=render.language_choices(d.lang for d in documents)), gr.update(choices=names, value=None))

    def upload(files, progress=gr.Progress(track_tqdm=True)):
        if not files:
            return ("Choose one or more .txt, .md, .html, .pdf, .docx or .epub files.", *listings())
        pairs = [(Path(getattr(f, "orig_name", None) or Path(str(f)).name).name, Path(str(f))) for f in files]
        progress(0, desc="Reading and indexing")
        report = store_and_ingest(pairs, qa.cfg, progress=True)
        lines = []
        if report.ingest:
            r = report.ingest
            lines.append(f"Indexed: {len(r.added)} added, {len(r.updated)} updated, {len(r.unchanged)} unchanged "
                         f"({r.chunks} chunks in the index).")
        lines += [f"❌ {render.esc(e)}" for e in report.errors]
        return ("\n\n".join(lines), *listings())

    def ask_removal(doc_id):
        if not doc_id:
            return gr.update(visible=False), "", "Choose a document to remove."
        return gr.update(visible=True), f"Remove **{render.esc(doc_id)}** from the index? An uploaded file is deleted.", ""

    def remove(doc_id):
        if not doc_id:
            return ("Choose a document to remove.", *listings())
        report = remove_documents([doc_id], qa.cfg)
        lines = [f"Removed {render.esc(d)} ({report.chunks} chunks left in the index)." for d in report.removed]
        return ("\n\n".join(lines + [f"❌ {render.esc(e)}" for e in report.errors]), *listings())

    documents = qa.documents()
    with gr.Blocks(title="rag — ask your documents") as app:
        gr.Markdown("# Ask your documents\nAnswers are exact words from the sources, with citations. "
                    "Ask in English, 中文 or Bahasa Indonesia.")
        last = gr.State({})
        turns = gr.State([])  # this tab's conversation: Turn fields (gr.State: per tab)
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Answers", height="68vh", min_height=560, elem_id="chat")
                    box = gr.Textbox(label="Question", placeholder="Ask a question…", elem_id="question")
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask", scale=3)
                        restart = gr.Button("New conversation", elem_id="new-conversation", scale=1)
                    gr.Examples(EXAMPLES, inputs=[box], label="Examples")
                with gr.Column(scale=2):
                    docs = gr.Dropdown(render.document_choices(documents), multiselect=True,
                                       label="Only these documents", elem_id="doc-filter")
                    langs = gr.CheckboxGroup(render.language_choices(d.lang for d in documents),
                                             label="Only these languages", elem_id="lang-filter")
                    top_k = gr.Slider(1, 20, value=qa.cfg.top_k, step=1, label="Passages to read")
                    cites = gr.Dropdown([], label="Show a citation in its document", elem_id="citations")
                    context = gr.HTML(label="In the document", elem_id="context")
                    target = gr.Textbox(elem_id="cite-target", show_label=False, container=False)
                    sources = gr.HTML(label="Retrieved passages", elem_id="sources")
            outputs = [chat, box, sources, cites, last, turns]
            send.click(respond, [box, chat, turns, docs, langs, top_k], outputs, api_visibility="private")
            box.submit(respond, [box, chat, turns, docs, langs, top_k], outputs, api_visibility="private")
            restart.click(new_conversation, None, outputs + [context], api_visibility="private")
            cites.change(show_citation, [cites], [context], api_visibility="private")
            target.change(open_citation, [target, last], [context, cites], api_visibility="private")
        with gr.Tab("Quote finder"):
            frag = gr.Textbox(label="Paste a sentence or fragment (any language or script)", elem_id="fragment")
            find = gr.Button("Find the source", elem_id="find")
            found = gr.Markdown(elem_id="quotes")
            find.click(lookup, [frag], [found], api_visibility="private")
            frag.submit(lookup, [frag], [found], api_visibility="private")
        with gr.Tab("Documents"):
            table = gr.Dataframe(render.documents_rows(documents), headers=HEADERS, interactive=False,
                                 wrap=True, column_widths=["38%", "28%", "14%", "10%", "10%"], elem_id="documents")
            files = gr.File(file_count="multiple", label="Add documents (.txt .md .html .pdf .docx .epub)",
                            file_types=[".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".epub"], elem_id="upload")
            status = gr.Markdown(elem_id="upload-status")
            with gr.Row():
                doomed = gr.Dropdown(render.document_choices(documents), label="Remove a document from the index",
                                     elem_id="remove-doc", scale=3)
                drop = gr.Button("Remove…", variant="stop", elem_id="remove", scale=1)
            with gr.Row(visible=False) as confirm_row:  # removal asks first: it deletes an uploaded file
                confirm_text = gr.Markdown(elem_id="remove-question")
                confirm = gr.Button("Yes, remove it", variant="stop", elem_id="remove-confirm")
                cancel = gr.Button("Cancel", elem_id="remove-cancel")
            removed = gr.Markdown(elem_id="remove-status")
            refreshed = [table, docs, langs, doomed]
            files.upload(upload, [files], [status, *refreshed], api_visibility="private")
            drop.click(ask_removal, [doomed], [confirm_row, confirm_text, removed], api_visibility="private")
            cancel.click(lambda: (gr.update(visible=False), ""), None, [confirm_row, removed], api_visibility="private")
            confirm.click(remove, [doomed], [removed, *refreshed], api_visibility="private").then(
                lambda: gr.update(visible=False), None, [confirm_row], api_visibility="private")
        app.load(listings, None, refreshed, api_visibility="private")
        gr.api(ask_json, api_name="ask")
        gr.api(search_json, api_name="search")
    return app


def _fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena, and a server's worker threads keep
    theirs half empty: two arenas save ≈ 20 MB after uploads and questions (glibc only; elsewhere a
    no-op). mallopt rather than MALLOC_ARENA_MAX: the variable only counts when set before start."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def serve(cfg: Config, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load everything once, then serve until interrupted."""
    from rag.pipeline import ensure_index

    _fewer_malloc_arenas()
    log.info("Loading index and models…")
    ensure_index(cfg)
    qa = QA(cfg).warm_up()
    documents = qa.documents()
    log.info("Ready: %d documents, %d chunks", len(documents), sum(d.chunks for d in documents))
    app = build_app(qa)
    # a stop by SIGTERM unwinds like Ctrl+C, so the announcement below is withdrawn
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    with announce(cfg.index_dir, f"http://{local}:{port}"):  # `rag ask` / `rag search` use this app meanwhile
        app.queue(default_concurrency_limit=4).launch(
            server_name=host, server_port=port, css=CSS, js=JS, show_error=True, quiet=False,
            max_file_size=f"{int(cfg.max_file_mb)}mb")
