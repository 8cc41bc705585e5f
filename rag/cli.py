"""Command line: ``rag ingest | ask | search | eval | serve | bench | train-reader | fit-scorer``.

Exit codes: 0 success; 1 some input was rejected (the rest was done); 2 unusable index,
models or arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .config import Config
from .crosslingual import ANCHOR_MODES

log = logging.getLogger("rag")


def _config(args) -> Config:
    return Config.from_env(index_dir=args.index, top_k=getattr(args, "top_k", None),
                           reader=getattr(args, "reader", None),
                           max_file_mb=getattr(args, "max_file_mb", None))


def _emit(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _qa(cfg: Config, default_index: bool):
    from .pipeline import QA, ensure_index

    if default_index:
        ensure_index(cfg)
    return QA(cfg).warm_up()


# ---- verbs ---------------------------------------------------------------------------

def cmd_ingest(args) -> int:
    from .ingest import ingest

    report = ingest(args.paths, _config(args), rebuild=args.rebuild, progress=not args.quiet)
    log.info("index %s: %d chunks; added %d, updated %d, unchanged %d, removed %d",
             report.generation, report.chunks, len(report.added), len(report.updated),
             len(report.unchanged), len(report.removed))
    for err in report.errors:
        log.error("not indexed: %s", err)
    return 1 if report.errors else 0


def _batch_lines(stream):
    """(question or None, error or None, id) for each stdin line."""
    for n, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield None, f"line {n} is not valid UTF-8", None
            continue
        qid = None
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
                line, qid = obj.get("question", ""), obj.get("id")
            except (ValueError, AttributeError):
                yield None, f"line {n} looks like JSON but does not parse", None
                continue
        if not isinstance(line, str) or not line.strip():
            yield None, f"line {n} is empty; give one question per line", qid
            continue
        yield line, None, qid


def cmd_ask(args) -> int:
    from .pipeline import NOT_FOUND, QuestionError

    cfg = _config(args)
    qa = _qa(cfg, default_index=args.index is None)
    if args.question == "-":
        for question, error, qid in _batch_lines(sys.stdin.buffer):
            out = dict(question=question, answers=[], passages=[])
            if error is None:
                try:
                    out = qa.run(question, args.top_k).to_json(qa.index)
                except QuestionError as exc:
                    error = str(exc)
            if error is not None:
                out["error"] = error
            if qid is not None:
                out["id"] = qid
            _emit(out)
        return 0
    try:
        result = qa.run(args.question, args.top_k)
    except QuestionError as exc:
        log.error("%s", exc)
        return 2
    data = result.to_json(qa.index)
    if args.json:
        _emit(data)
        return 0
    if not data["answers"]:
        print(NOT_FOUND)
    for i, a in enumerate(data["answers"], 1):
        print(f"{i}. {a['text']}   (confidence {a['score']:.2f})")
        for c in a["citations"]:
            print(f"   [{c['source']} {c['start']}:{c['end']}] {c['quote']}")
    print("\nPassages:")
    for p in data["passages"]:
        print(f"  {p['score']:.3f} {p['source']} {p['start']}:{p['end']}  {p['cleaned'][:80]!r}")
    return 0


def cmd_search(args) -> int:
    qa = _qa(_config(args), default_index=args.index is None)
    matches = qa.find_quote(args.text, limit=args.limit)
    if args.json:
        _emit(dict(query=args.text, matches=[m.to_json() for m in matches]))
        return 0
    for m in matches:
        kind = "exact" if m.exact else f"{m.score:.2f}"
        print(f"{m.source} {m.start}:{m.end} [{kind}]  {m.text[:120]!r}")
    if not matches:
        print("No match in the documents.")
    return 0


def cmd_eval(args) -> int:
    from .evaluation import format_details, format_report, score_item, summarise
    from .retrieval import quoted_fragments

    qa = _qa(_config(args), default_index=args.index is None)
    rows, details = [], []
    for n, line in enumerate(Path(args.file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = item["question"]
        except (ValueError, KeyError, TypeError):
            log.error("%s line %d is not a JSON object with a 'question'; skipped", args.file, n)
            continue
        result = qa.run(question, max(5, args.top_k or 5)).to_json(qa.index)
        quotes = None
        if item.get("kind") == "quote":
            fragment = (quoted_fragments(question) or [question])[0]
            quotes = [m.source for m in qa.find_quote(fragment)]
        rows.append((item, score_item(item, result, quotes)))
        top = (result["answers"] or [None])[0]
        details.append(dict(id=item.get("id", str(n)), lang=item.get("lang", "?"), kind=item.get("kind", "?"),
                            answer=top and top["text"], source=top and top["source"],
                            confidence=top and top["score"], **rows[-1][1]))
    report = summarise(rows)
    if args.json:
        _emit(dict(report, questions=details))
    else:
        print(format_report(report))
        if args.details:
            print(format_details(details))
    return 0


def cmd_serve(args) -> int:
    from ui.app import serve

    serve(_config(args), host=args.host, port=args.port)
    return 0


def cmd_bench(args) -> int:
    from .bench import BenchSettings, format_table, plot, run

    settings = BenchSettings(questions=args.questions, quick=args.quick, work=args.work)
    report = run(_config(args), settings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    log.info("bench report written to %s", args.out)
    if args.plot:
        log.info("plot written to %s", plot(report, args.plot))
    if args.json:
        _emit(report)
    else:
        print(format_table(report))
    return 0


def cmd_train_reader(args) -> int:
    from .models import ensure_embedder
    from .reader_train import TrainSettings, export, train

    cfg = _config(args)
    # without --sources, TrainSettings' default (the shipped reader's sources) applies
    chosen = {} if args.sources is None else dict(sources=tuple(n.strip() for n in args.sources.split(",") if n.strip()))
    settings = TrainSettings(qa_dir=args.data, work_dir=args.work, epochs=args.epochs, lr=args.lr, init_from=args.init,
                             human_english_repeat=args.human_english_repeat, question_anchors=args.question_anchors,
                             traditional=args.traditional, **chosen)
    embedder = ensure_embedder(cfg)
    if not args.export_only:
        train(settings, embedder)
    meta = export(settings, embedder, cfg.reader_weights)
    log.info("reader exported to %s: held-out %s", cfg.reader_weights, json.dumps(meta["heldout"]))
    return 0


def cmd_fit_scorer(args) -> int:
    import tempfile

    from .fusion_fit import save_fusion
    from .scorer_fit import ABSTAIN_SHARE, ANSWER_SHARE, FitSettings, collect, fit, save

    cfg = _config(args)
    with tempfile.TemporaryDirectory(prefix="rag-fit-") as tmp:
        fusion, records = collect(cfg, FitSettings(qa_dir=args.data, work_dir=Path(args.work or tmp)))
    scorer, report = fit(records)
    path = save(scorer, report, cfg.reader_weights, cfg.reader_runtime)
    log.info("answer scorer (%s) written to %s", cfg.reader_runtime, path)
    log.info("retrieval fusion written to %s", save_fusion(fusion, cfg.retrieval_fusion))
    for row in report["scorer"]["thresholds"] + [report["scorer"]["at_threshold"]]:
        log.info("threshold %.2f: answers %.0f%% of answerable (%.0f%% right), abstains on %.0f%% of unanswerable",
                 row["threshold"], 100 * row["answered"], 100 * row["right"], 100 * row["abstained"])
    log.info("chosen threshold %.2f: the widest margin over abstaining on %.0f%% of unanswerable and answering "
             "%.0f%% of answerable held-out questions (fit half)",
             report["scorer"]["threshold"], 100 * ABSTAIN_SHARE, 100 * ANSWER_SHARE)
    return 0


# ---- parser --------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Offline multilingual extractive QA over your documents.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only, no progress bars")
    sub = p.add_subparsers(dest="verb", required=True)

    def verb(name, func, help_):
        s = sub.add_parser(name, help=help_, description=help_)
        s.set_defaults(func=func)
        s.add_argument("--index", type=Path, default=None, help="index directory (default: ./index, built from the bundled corpus)")
        return s

    s = verb("ingest", cmd_ingest, "Add, update or remove documents (txt, md, html, pdf) in the index.")
    s.add_argument("paths", nargs="+", type=Path, help="files or directories")
    s.add_argument("--rebuild", action="store_true", help="re-read and re-embed everything")
    s.add_argument("--max-file-mb", type=float, default=None, help="refuse files larger than this (default 20)")

    s = verb("ask", cmd_ask, "Answer a question with exact spans and citations ('-' reads questions from stdin, one per line, JSON out).")
    s.add_argument("question", help="the question, or '-' for batch mode")
    s.add_argument("--top-k", type=int, default=None, help="passages to retrieve (default 5)")
    s.add_argument("--json", action="store_true", help="print the answer as JSON")
    s.add_argument("--reader", choices=["neural", "sentence"], default=None, help="reader to use")

    s = verb("search", cmd_search, "Find where a quote or fragment comes from (any script or language).")
    s.add_argument("text", help="the fragment to look up")
    s.add_argument("--limit", type=int, default=5, help="matches to show")
    s.add_argument("--json", action="store_true", help="print JSON")

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

    s = verb("bench", cmd_bench, "Measure indexing, latency, memory and scaling, and a Haystack 2 pipeline "
                                 "on the same work (offline; needs the [bench] extra for Haystack and the plot).")
    s.add_argument("--quick", action="store_true", help="a small run (well under a minute of measuring)")
    s.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    s.add_argument("--questions", type=Path, default=None, help="JSONL questions (default: bench/questions.jsonl)")
    s.add_argument("--out", type=Path, default=Path("bench.json"), help="where to write the JSON report")
    s.add_argument("--plot", type=Path, default=None, help="also draw latency vs corpus size (e.g. docs/bench.png)")
    s.add_argument("--work", type=Path, default=None, help="keep the benchmark's indexes in this folder")
    s.add_argument("--reader", choices=["neural", "sentence"], default=None)

    s = verb("train-reader", cmd_train_reader, "Train the extractive reader (resumable) and export its weights.")
    s.add_argument("--data", type=Path, default=Path("../shared/qa-train"), help="folder with SQuAD-format training files")
    s.add_argument("--work", type=Path, default=Path.home() / ".cache" / "rag" / "reader-train", help="checkpoint folder")
    s.add_argument("--epochs", type=float, default=2.0)
    s.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (lower to continue from --init)")
    s.add_argument("--export-only", action="store_true", help="only export the latest checkpoint")
    s.add_argument("--init", type=Path, default=None,
                   help="exported reader weights to start from when the checkpoint folder is empty (e.g. models/reader)")
    s.add_argument("--sources", default=None,
                   help="comma-separated training sources (default: cmrc2018,facqa, the shipped reader's); drcd "
                        "(data/qa-extra) was measured in models/reader/MODEL_CARD.md and not adopted")
    s.add_argument("--human-english-repeat", type=int, default=0,
                   help="add the hand-written English questions of training examples (data/human-en), each this "
                        "many times per epoch")
    s.add_argument("--question-anchors", choices=ANCHOR_MODES, default="off",
                   help="train on English questions anchored to their passage's names and words, as the reader "
                        "reads them (RAG_QUESTION_ANCHORS); default off, as the shipped reader was trained")
    s.add_argument("--traditional", type=float, default=0.0,
                   help="share of Chinese training articles whose passages are read in traditional characters "
                        "(questions as asked); default 0, as the shipped reader was trained")

    s = verb("fit-scorer", cmd_fit_scorer, "Fit the answer scorer on held-out articles run through retrieval and "
                                           "the reader, after fitting the retrieval fusion on them; writes the scorer into the "
                                           "reader's reader.json and the fusion into models/retrieval.json.")
    s.add_argument("--data", type=Path, default=Path("../shared/qa-train"), help="folder with SQuAD-format training files")
    s.add_argument("--work", type=Path, default=None,
                   help="keep the fit collection, its index and the collected candidates here (reused by the next run)")
    return p


def main(argv: list[str] | None = None) -> int:
    from .index import IndexUnusable

    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    if args.quiet:  # no progress bars either (ours use tqdm, transformers' too)
        os.environ["TQDM_DISABLE"] = "1"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("faiss", "sentence_transformers", "httpx", "transformers", "bm25s", "jieba",
                  "haystack", "accelerate"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    try:
        return args.func(args)
    except IndexUnusable as exc:
        log.error("%s", exc)
        return 2
    except Exception as exc:  # last resort: one clear line, no traceback unless --verbose
        from .documents import DocumentError
        from .reader_weights import ReaderWeightsError

        if isinstance(exc, (DocumentError, ReaderWeightsError, RuntimeError, ValueError, OSError)):
            log.error("%s", exc, exc_info=args.verbose)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
