"""The ``rag bench`` verb (registered through the ``rag.commands`` entry point)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from rag.cli import config_from_args, emit

log = logging.getLogger("rag")


def cmd_bench(args) -> int:
    from rag_bench.report import format_table, plot
    from rag_bench.run import BenchSettings, run

    report = run(config_from_args(args), BenchSettings(questions=args.questions, quick=args.quick, work=args.work))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
        log.info("bench report written to %s", args.out)
    if args.plot:
        log.info("plot written to %s", plot(report, args.plot))
    if args.json:
        emit(report)
    else:
        print(format_table(report))
    return 0


def register(verb) -> None:
    """Add ``bench`` to the ``rag`` command (``verb`` is ``rag.cli``'s verb factory)."""
    s = verb("bench", cmd_bench, "Measure indexing, latency, memory and scaling, and a Haystack 2 pipeline "
                                 "on the same work (offline; needs the [bench] extra for Haystack and the plot).")
    s.add_argument("--quick", action="store_true", help="a small run (well under a minute of measuring)")
    s.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    s.add_argument("--questions", type=Path, default=None, help="JSONL questions (default: bench/questions.jsonl)")
    s.add_argument("--out", type=Path, default=None, help="also write the JSON report into this file (e.g. docs/bench.json)")
    s.add_argument("--plot", type=Path, default=None, help="also draw latency vs corpus size (e.g. docs/bench.png)")
    s.add_argument("--work", type=Path, default=None, help="keep the benchmark's indexes in this folder")
    s.add_argument("--reader", choices=["neural", "sentence"], default=None)
