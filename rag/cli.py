"""Command line: ``rag ingest | migrate | ask | search | eval | serve``, plus the verbs other packages
register (``rag_train``: ``train-reader``, ``fit-scorer``; ``rag_bench``: ``bench``).

Argument parsing and printing only; the work is done by the public API (``rag.QA``,
``rag.ingest.incremental``, ``rag.evaluation``). Exit codes are decided in ``rag.errors``: 0 success;
1 some input was rejected (the rest was done); 2 unusable index, models, settings or
arguments; 3 an unexpected error (a bug; ``-v`` shows its traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from rag.config import Config
from rag.errors import EXIT_BUG, EXIT_OK, EXIT_REJECTED, RagError
from rag.index.dense import STORES

log = logging.getLogger("rag")

PLUGIN_GROUP = "rag.commands"  # entry points: ``register(verb)`` adds a package's verbs
OURS = ("rag", "rag_ui", "rag_train", "rag_bench")  # logger names of this project's packages


def config_from_args(args) -> Config:
    """``Config.from_env`` with the options a command was given."""
    return Config.from_env(index_dir=args.index, top_k=getattr(args, "top_k", None),
                           reader=getattr(args, "reader", None), max_file_mb=getattr(args, "max_file_mb", None),
                           store=getattr(args, "store", None), milvus_uri=getattr(args, "milvus_uri", None))


def emit(obj) -> None:
    """One JSON object on a line of stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _qa(args, warm: bool = True):
    """The pipeline over the chosen index; ``warm``: load every model now (else each on first use)."""
    from rag.pipeline import QA, ensure_index

    cfg = config_from_args(args)
    if args.index is None:  # the default index is built from the bundled corpus when missing
        ensure_index(cfg)
    return QA(cfg).warm_up() if warm else QA(cfg)


# ---- verbs ---------------------------------------------------------------------------

def cmd_ingest(args) -> int:
    from rag.ingest.incremental import ingest

    report = ingest(args.paths, config_from_args(args), rebuild=args.rebuild, progress=not args.quiet)
    log.info("index %s: %d chunks; added %d, updated %d, unchanged %d, removed %d",
             report.generation, report.chunks, len(report.added), len(report.updated),
             len(report.unchanged), len(report.removed))
    for err in report.errors:
        log.error("not indexed: %s", err)
    return EXIT_REJECTED if report.errors else EXIT_OK


def cmd_migrate(args) -> int:
    from rag.ingest.incremental import migrate

    cfg = config_from_args(args)
    report = migrate(cfg, args.store, cfg.milvus_uri)
    log.info("index %s: %d documents, %d chunks now in %s", report.generation, len(report.unchanged),
             report.chunks, args.store if not cfg.milvus_uri else f"{args.store} at {cfg.milvus_uri}")
    return EXIT_OK


@dataclass(frozen=True)
class Request:
    """One line of ``rag ask --json -``: a question, its id, and the conversation before it (``Turn``s)."""

    question: str | None
    error: str | None = None
    id: object = None
    history: tuple = ()


def _strings(value, name: str, n: int, nullable: bool = False) -> tuple:
    if not isinstance(value, list) or not all(isinstance(v, str) or (nullable and v is None) for v in value):
        raise ValueError(f"line {n}: \"{name}\" must be a list of strings{' (or nulls)' if nullable else ''}")
    return tuple(value)


def batch_lines(stream):
    """A ``Request`` for each line of a byte stream (a question, or a JSON object with ``question``
    and optional ``id``, ``history`` and ``answers``; an answer not given is computed)."""
    from rag.conversation.followup import Turn

    for n, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield Request(None, f"line {n} is not valid UTF-8")
            continue
        qid, history = None, ()
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
                line, qid = obj.get("question", ""), obj.get("id")
                questions = _strings(obj.get("history", []), "history", n)
                given = obj.get("answers")
                answers = () if given is None else _strings(given, "answers", n, nullable=True)
                history = tuple(Turn(q, answers[i] if i < len(answers) else None) for i, q in enumerate(questions))
            except (ValueError, AttributeError) as exc:
                message = str(exc) if str(exc).startswith("line ") else f"line {n} looks like JSON but does not parse"
                yield Request(None, message, qid)
                continue
        if not isinstance(line, str) or not line.strip():
            yield Request(None, f"line {n} is empty; give one question per line", qid)
            continue
        yield Request(line, None, qid, history)


class _Answers:
    """Questions and look-ups answered by a running app over the same index (``rag.resident``),
    else in-process (the index and models loaded on first need)."""

    def __init__(self, args):
        self.args, self.cfg, self.qa, self.url = args, config_from_args(args), None, None
        if not args.in_process and getattr(args, "reader", None) is None:
            from rag.resident import find

            self.url = find(self.cfg.index_dir)
            if self.url:
                log.info("answered by the running app at %s (--in-process: load the index here instead)", self.url)

    def _remote(self, api: str, *inputs) -> dict | None:
        from rag.resident import ResidentUnavailable, call

        if self.url is None:
            return None
        try:
            return call(self.url, api, *inputs)
        except ResidentUnavailable as exc:
            log.warning("the running app did not answer (%s); answering here", exc)
            self.url = None
            return None

    def _local(self, warm: bool = True):
        if self.qa is None:
            self.qa = _qa(self.args, warm)
        return self.qa

    def ask(self, question: str, history=()) -> dict:
        """``question`` answered as a follow-up of ``history`` (``Turn``s, earliest first)."""
        from rag.pipeline import QuestionError

        out = self._remote("ask", question, self.args.top_k or self.cfg.top_k, [], [],
                           [t.question for t in history], [t.answer for t in history])
        if out is None:  # in-process, earlier readings are passed as they were
            return self._local().run(question, self.args.top_k, history=history).to_json()
        if "error" in out:
            raise QuestionError(out["error"])
        return out

    def search(self, text: str, limit: int) -> list[dict]:
        out = self._remote("search", text, limit)
        if out is None:
            # an exact match needs only the index: encoders load only for a fragment without one
            return [m.to_json() for m in self._local(warm=False).find_quote(text, limit=limit)]
        return out["matches"]


def cmd_ask(args) -> int:
    from rag.pipeline import QuestionError

    answers = _Answers(args)
    if args.question == "-":
        for request in batch_lines(sys.stdin.buffer):
            out, error = dict(question=request.question, understood_as=None, answers=[], passages=[]), request.error
            if error is None:
                try:
                    out = answers.ask(request.question, request.history)
                except QuestionError as exc:
                    error = str(exc)
            if error is not None:
                out["error"] = error
            if request.id is not None:
                out["id"] = request.id
            emit(out)
        return EXIT_OK
    data = answers.ask(args.question)
    if args.json:
        emit(data)
        return EXIT_OK
    print_answer(data)
    print("\nPassages:")
    for p in data["passages"]:
        print(f"  {p['score']:.3f} {p['source']} {p['start']}:{p['end']}  {p['cleaned'][:80]!r}")
    return EXIT_OK


def print_answer(data: dict) -> None:
    """A ``rag ask --json`` object as text: how a follow-up was read, the answers and their citations."""
    from rag.pipeline import NOT_FOUND

    if data.get("understood_as"):
        print(f"(read as: {data['understood_as']})")
    if not data["answers"]:
        print(NOT_FOUND)
    for i, a in enumerate(data["answers"], 1):
        print(f"{i}. {a['text']}   (confidence {a['score']:.2f})")
        if a.get("context"):
            dated = f"; the document is dated {a['context']['dated']}" if a["context"]["dated"] else ""
            print(f"   in: {a['context']['text']}{dated}")
        for c in a["citations"]:
            print(f"   [{c['source']} {c['start']}:{c['end']}] {c['quote']}")


def cmd_chat(args) -> int:
    """An interactive conversation: each question is read with the ones before it."""
    from rag.conversation.followup import Turn
    from rag.pipeline import QuestionError

    answers, turns = _Answers(args), []
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask a question (follow-ups use the conversation); /reset starts over, /quit or Ctrl+D ends.")
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            return EXIT_OK
        line = line.strip()
        if line in ("/quit", "/exit"):
            return EXIT_OK
        if line == "/reset":
            turns = []
            print("(new conversation)")
            continue
        if not line:
            continue
        try:
            data = answers.ask(line, turns)
        except QuestionError as exc:
            log.error("%s", exc)
            continue
        print_answer(data)
        turns.append(Turn(line, data["answers"][0]["text"] if data["answers"] else "", data.get("understood_as")))


def cmd_search(args) -> int:
    matches = _Answers(args).search(args.text, args.limit)
    if args.json:
        emit(dict(query=args.text, matches=matches))
        return EXIT_OK
    if not any(m.get("close", True) for m in matches):
        print("No close match in the documents." + (" Nearest passages:" if matches else ""))
    for m in matches:
        sure = m["score"] if m.get("confidence") is None else m["confidence"]
        kind = "exact" if m["exact"] else f"{m.get('kind', 'closest')} {sure:.2f}" + ("" if m.get("close", True) else ", not close")
        print(f"{m['source']} {m['start']}:{m['end']} [{kind}]  {m['text'][:120]!r}")
    return EXIT_OK


def cmd_eval(args) -> int:
    from rag.evaluation import evaluate, format_details, format_report, read_items

    items = read_items(args.file)
    report, details = evaluate(_qa(args), items, top_k=args.top_k or 5)
    if args.json:
        emit(dict(report, questions=details))
    else:
        print(format_report(report))
        if args.details:
            print(format_details(details))
    return EXIT_OK


def cmd_serve(args) -> int:
    from rag_ui.app import serve

    serve(config_from_args(args), host=args.host, port=args.port)
    return EXIT_OK


# ---- parser --------------------------------------------------------------------------

def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """-v, -q and --index, accepted before the verb and after it (``suppress``: a verb's copy
    leaves a value given before the verb alone)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("-v", "--verbose", action="store_true", default=default(False),
                        help="debug logging, and the traceback of an unexpected error")
    parser.add_argument("-q", "--quiet", action="store_true", default=default(False),
                        help="warnings and errors only, no progress bars")
    parser.add_argument("--index", type=Path, default=default(None),
                        help="index directory (default: ./index, built from the bundled corpus)")
    parser.add_argument("--milvus-uri", default=default(None), metavar="URI",
                        help="Milvus server holding the index's vectors, e.g. http://host:19530 "
                             "(default: the index's own; RAG_MILVUS_URI)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Offline multilingual extractive QA over your documents.")
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, func, help_: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help_, description=help_)
        s.set_defaults(func=func)
        _common(s, suppress=True)
        return s

    s = verb("ingest", cmd_ingest, "Add, update or remove documents (txt, md, html, pdf) in the index.")
    s.add_argument("paths", nargs="+", type=Path, help="files or directories")
    s.add_argument("--rebuild", action="store_true", help="re-read and re-embed everything")
    s.add_argument("--max-file-mb", type=float, default=None, help="refuse files larger than this (default 20)")
    s.add_argument("--store", choices=STORES, default=None,
                   help="where the vectors go: faiss files (default for a new index) or Milvus (Lite inside "
                        "the index directory, or the server of --milvus-uri); default: where the index has them")

    s = verb("migrate", cmd_migrate, "Move the index's vectors to another store (nothing is embedded again).")
    s.add_argument("--store", choices=STORES, required=True, help="faiss, or milvus (with --milvus-uri for a server)")

    s = verb("ask", cmd_ask, "Answer a question with exact spans and citations ('-' reads questions from stdin, "
                             "one per line, JSON out).")
    s.add_argument("question", help="the question, or '-' for batch mode")
    s.add_argument("--top-k", type=int, default=None, help="passages to retrieve (default 5)")
    s.add_argument("--json", action="store_true", help="print the answer as JSON")
    s.add_argument("--reader", choices=["neural", "sentence"], default=None, help="reader to use")
    s.add_argument("--in-process", action="store_true",
                   help="load the index and models here even when `rag serve` is running over this index")

    s = verb("chat", cmd_chat, "A conversation in the terminal: follow-up questions are read with the earlier "
                               "ones (/reset starts over).")
    s.add_argument("--top-k", type=int, default=None, help="passages to retrieve (default 5)")
    s.add_argument("--in-process", action="store_true",
                   help="load the index and models here even when `rag serve` is running over this index")

    s = verb("search", cmd_search, "Find where a quote or fragment comes from (any script or language).")
    s.add_argument("text", help="the fragment to look up")
    s.add_argument("--limit", type=int, default=5, help="matches to show")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--in-process", action="store_true",
                   help="load the index here even when `rag serve` is running over this index")

    s = verb("eval", cmd_eval, "Evaluate on a JSONL file of questions (id, lang, kind, question, answers, docs).")
    s.add_argument("file", type=Path)
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--json", action="store_true", help="print the report as JSON (with a row per question)")
    s.add_argument("--details", action="store_true", help="also print a line per question")
    s.add_argument("--reader", choices=["neural", "sentence"], default=None)

    s = verb("serve", cmd_serve, "Start the chat app in the browser (gradio).")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--reader", choices=["neural", "sentence"], default=None)

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        ep.load()(verb)
    return p


def _logging(args) -> None:
    """Our loggers at the chosen level; other libraries' only from WARNING (everything under -v)."""
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    if args.quiet:  # no progress bars either (ours use tqdm, transformers' too)
        os.environ["TQDM_DISABLE"] = "1"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for ours in OURS:
        logging.getLogger(ours).setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(args)
    try:
        return args.func(args)
    except RagError as exc:
        log.error("%s", exc, exc_info=args.verbose)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as exc:
        if args.verbose:
            log.exception("unexpected error (a bug in rag; please report it with this traceback)")
        else:
            log.error("unexpected error: %s: %s (a bug in rag; run again with -v for the traceback)",
                      type(exc).__name__, exc)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
