"""The training verbs of the ``rag`` command: ``train-reader``, ``fit-scorer``, ``fit-quotes`` and the evaluations
(registered through the ``rag.commands`` entry point; the product never imports this)."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from rag.cli import config_from_args, emit
from rag.text.crosslingual import ANCHOR_MODES

log = logging.getLogger("rag")


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def cmd_train_reader(args) -> int:
    from rag.models.loading import ensure_embedder
    from rag_train.reader import TrainSettings, export, train

    cfg = config_from_args(args)
    # without --sources, TrainSettings' default (the shipped reader's sources) applies
    chosen = {} if args.sources is None else dict(sources=_names(args.sources))
    settings = TrainSettings(qa_dir=args.data, work_dir=args.work or Path(cfg.home) / "reader-train", epochs=args.epochs,
                             lr=args.lr, init_from=args.init, human_english_repeat=args.human_english_repeat,
                             question_anchors=args.question_anchors, traditional=args.traditional,
                             layers=args.layers, distil=args.distil, retrieved_negatives=args.retrieved_negatives,
                             bf16=args.bf16, shuffle_seed=args.shuffle_seed,
                             human_english_sources=args.human_english_sources and _names(args.human_english_sources),
                             **chosen)
    embedder = ensure_embedder(cfg)
    if not args.export_only:
        train(settings, embedder)
    meta = export(settings, embedder, cfg.reader_weights)
    log.info("reader exported to %s: held-out %s", cfg.reader_weights, json.dumps(meta["heldout"]))
    return 0


def cmd_fit_scorer(args) -> int:
    from rag_train.fusion import save_fusion
    from rag_train.scorer import ABSTAIN_SHARE, ANSWER_SHARE, FitSettings, collect, fit, save

    cfg = config_from_args(args)
    chosen = {} if args.sources is None else dict(sources=_sources(args.sources))
    with tempfile.TemporaryDirectory(prefix="rag-fit-") as tmp:
        fusion, records = collect(cfg, FitSettings(qa_dir=args.data, work_dir=Path(args.work or tmp), **chosen))
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


def _sources(text: str) -> tuple[tuple[str, int], ...]:
    """``cmrc2018:200,facqa:100`` → ((source, distractor articles), …)."""
    from rag.errors import InputError

    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, n = part.partition(":")
        if not n.strip().isdigit():
            raise InputError(f"--sources: '{part}' is not NAME:COUNT (e.g. cmrc2018:200)")
        out.append((name.strip(), int(n)))
    return tuple(out)


def cmd_eval_open(args) -> int:
    from rag_train.open_eval import OpenEvalSettings, run

    settings = OpenEvalSettings(qa_dir=args.data, articles=args.articles, passages=args.passages)
    with tempfile.TemporaryDirectory(prefix="rag-open-eval-") as tmp:
        report = run(config_from_args(args), settings, Path(args.work or tmp))
    if args.json:
        emit(report)
        return 0
    cols = ("n", "answerable", "em", "f1", "hit", "citation", "answered", "abstained_unanswerable", "recall_at_5")
    print(f"open corpus: {report['documents']} documents, {report['questions']} questions")
    print(f"{'':26s}" + "".join(f"{c[:10]:>11s}" for c in cols))
    for group in ("by_lang", "by_source", "by_source_lang", "by_origin", "by_source_origin"):
        for name, stats in [("overall", report["overall"])] * (group == "by_lang") + list(report[group].items()):
            print(f"{group[3:] + '=' + name if name != 'overall' else name:26s}"
                  + "".join(f"{'-' if stats[c] is None else stats[c]:>11}" for c in cols))
    print("reliability (top answer):", json.dumps(report["reliability"]))
    return 0


def cmd_eval_dialogues(args) -> int:
    from rag_train.dialogues import DIALOGUES, run

    report = run(config_from_args(args), args.data, args.file or DIALOGUES)
    if args.json:
        emit(report)
        return 0
    for name, row in report["followups"].items():
        log.info("%-22s n=%3d  with history %.3f  alone %.3f  written out %.3f  read as written %.3f", name,
                 row["n"], row["history"], row["alone"], row["ceiling"], row["read_as_full"])
    s = report["standalone"]
    log.info("stand-alone questions after an unrelated conversation: %d, read and answered unchanged %.3f",
             s["n"], s["unchanged"])
    return 0


def cmd_fit_quotes(args) -> int:
    from rag_train.quotes import fit

    cfg = config_from_args(args)
    fitted = fit(cfg, args.data, articles=args.articles, work=args.work)
    out = args.out or cfg.quote_judge
    Path(out).write_text(json.dumps(fitted, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("quote judgement written to %s: overlap from %s, meaning %s", out, fitted["overlap"], fitted["meaning"])
    for kind in ("overlap", "meaning"):
        log.info("  %s: %s", kind, json.dumps(fitted["report"][kind]))
    return 0


def cmd_eval_documents(args) -> int:
    from rag_train.documents_eval import run

    cfg = config_from_args(args)
    with tempfile.TemporaryDirectory() as tmp:
        report = run(cfg, Path(args.work or tmp))
    if args.json:
        emit(report)
        return 0
    o = report["overall"]
    log.info("%d files, %d questions: hit %.3f, citation %.3f, answered %.3f; whole answering sentence quoted "
             "for %.3f of the hits", report["files"], report["questions"], o["hit"], o["citation"], o["answered"],
             report["whole_sentence_of_hits"])
    for name in ("by_lang", "by_format"):
        for key, row in report[name].items():
            log.info("  %-6s n=%2d hit %.3f", key, row["n"], row["hit"])
    log.info("site furniture in chunks: %s", ", ".join(report["furniture_in_chunks"]) or "none")
    return 0


def register(verb) -> None:
    """Add the training verbs to the ``rag`` command (``verb`` is ``rag.cli``'s verb factory)."""
    data_help = "folder with the SQuAD-format training files (e.g. ../shared/qa-train)"
    s = verb("train-reader", cmd_train_reader, "Train the extractive reader (resumable) and export its weights.")
    s.add_argument("--data", type=Path, required=True, help=data_help)
    s.add_argument("--work", type=Path, default=None, help="checkpoint folder (default: RAG_HOME/reader-train)")
    s.add_argument("--epochs", type=float, default=2.0)
    s.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (lower to continue from --init)")
    s.add_argument("--export-only", action="store_true", help="only export the latest checkpoint")
    s.add_argument("--init", type=Path, default=None,
                   help="exported reader weights to start from when the checkpoint folder is empty (e.g. models/reader)")
    s.add_argument("--sources", default=None,
                   help="comma-separated training sources, NAME*N to see one N times an epoch (default: "
                        "cmrc2018,facqa*2,drcd_dev, the shipped reader's "
                        "last stage; DRCD is in data/qa-extra: drcd_dev its dev file, drcd both files; "
                        "cmrc2018_train, drcd_train, squad2 and squad read the sets' training files when --data "
                        "holds them)")
    s.add_argument("--human-english-repeat", type=int, default=0,
                   help="add the hand-written English questions of training examples (data/human-en), each this "
                        "many times per epoch")
    s.add_argument("--human-english-sources", default=None,
                   help="comma-separated sources whose hand-written English questions join (default: every "
                        "training source that has some, data/human-en/<source>_train_en.tsv)")
    s.add_argument("--question-anchors", choices=ANCHOR_MODES, default="off",
                   help="train on English questions anchored to their passage's names and words, as the reader "
                        "reads them (RAG_QUESTION_ANCHORS); default off, as the shipped reader was trained")
    s.add_argument("--traditional", type=float, default=0.0,
                   help="share of Chinese training articles whose passages are read in traditional characters "
                        "(questions as asked); default 0, as the shipped reader was trained")
    s.add_argument("--layers", type=int, default=None,
                   help="keep only the bottom N encoder layers (a shallower, faster reader; start it with --init)")
    s.add_argument("--distil", type=float, default=0.0,
                   help="weight (0–1) of the --init reader's span distributions in the loss (distillation); "
                        "its logits are computed once into --work")
    s.add_argument("--retrieved-negatives", type=float, default=0.0, metavar="SHARE",
                   help="share (0–1) of unanswerable training questions paired with the paragraph of another "
                        "article that BM25 ranks highest for them (a retrieval-like distractor), not a random one")
    s.add_argument("--shuffle-seed", type=int, default=None,
                   help="seed of the order examples are seen in (default: the split's seed, 13); a stage "
                        "continuing another on the same sources takes a new one to see other examples first")
    s.add_argument("--bf16", action="store_true",
                   help="train in bf16 autocast (weights and optimiser stay fp32): faster on CPUs with AMX or "
                        "AVX-512 BF16, emulated and slow elsewhere")

    s = verb("fit-quotes", cmd_fit_quotes, "Fit when a quote lookup's best match is close (translations and "
                                           "misremembered sentences of indexed SQuAD paragraphs against sentences "
                                           "of other articles); writes models/quotes.json.")
    s.add_argument("--data", type=Path, required=True, help="folder with squad11_dev_en/zh/id.json")
    s.add_argument("--articles", type=int, default=20,
                   help="articles indexed (the others give fragments that are not in the index)")
    s.add_argument("--work", type=Path, default=None, help="keep the documents and the index here")
    s.add_argument("--out", type=Path, default=None, help="where to write (default: the configured models/quotes.json)")

    s = verb("eval-documents", cmd_eval_documents, "Document evaluation: web pages, PDFs, Word files and EPUBs "
             "in three languages (data/documents) built, indexed and asked through `rag ask --json -`.")
    s.add_argument("--work", type=Path, default=None, help="keep the files and their index here")
    s.add_argument("--json", action="store_true", help="print the report as JSON, a row per question")

    s = verb("eval-open", cmd_eval_open, "Open-corpus evaluation: DRCD test articles, FacQA held-out passages "
                                         "(and CMRC held-out articles with --data) in one index, questions in "
                                         "Chinese, English and Indonesian asked through `rag ask --json -`.")
    s.add_argument("--data", type=Path, default=None, help="folder with CMRC 2018 files, to add its held-out articles")
    s.add_argument("--articles", type=int, default=40, help="DRCD test articles to sample")
    s.add_argument("--passages", type=int, default=60, help="FacQA held-out passages to sample")
    s.add_argument("--work", type=Path, default=None, help="keep the collection and its index here")
    s.add_argument("--json", action="store_true", help="print the report as JSON")

    s = verb("eval-dialogues", cmd_eval_dialogues, "Conversation evaluation: follow-up questions of hand-written "
             "dialogues asked with their history, alone and written out (data/dialogues).")
    s.add_argument("--data", type=Path, required=True, help="the training-data folder (SQuAD-format files)")
    s.add_argument("--file", type=Path, default=None, help="dialogues (JSONL; default data/dialogues/dialogues.jsonl)")
    s.add_argument("--json", action="store_true", help="print the report as JSON, a row per follow-up")

    s = verb("fit-scorer", cmd_fit_scorer, "Fit the retrieval fusion and then the answer scorer on held-out articles "
                                           "run through retrieval and the reader; writes the fusion into "
                                           "models/retrieval.json and the scorer into the reader's reader.json.")
    s.add_argument("--data", type=Path, required=True, help=data_help)
    s.add_argument("--work", type=Path, default=None,
                   help="keep the fit collection, its index and the collected candidates here (reused by the next run)")
    s.add_argument("--sources", default=None,
                   help="held-out sources with their distractor articles, e.g. cmrc2018:200,facqa:100,drcd_dev:100 "
                        "(default: FitSettings.sources)")
