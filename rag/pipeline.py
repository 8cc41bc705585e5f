"""The question-answering pipeline: retrieval → reading → answers, one ``run`` per question."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.answer.assemble import Answer, assemble
from rag.answer.quotes import QuoteJudge, QuoteMatch, find_quote, lookup_request, lookup_spans
from rag.answer.tables import realign
from rag.config import Config
from rag.conversation.followup import TURNS_BACK, Turn, resolve
from rag.errors import InputError
from rag.index.store import LEXICAL_TOKENS, Index, current_generation, current_manifest, load_index
from rag.reader.base import make_reader
from rag.retrieval.retriever import Filters, Passage, Retriever
from rag.text.aliases import Aliases
from rag.text.crosslingual import anchor_question
from rag.text.language import CJK
from rag.text.romanize import romanize

log = logging.getLogger(__name__)

NOT_FOUND = "Not found in the documents."
MAX_HISTORY = 12  # earlier turns of a conversation read for a follow-up (the newest)


class QuestionError(InputError):
    """A question that cannot be asked (empty, too long, not text)."""


@dataclass
class Result:
    """One question's answers (best first; none: not found) and the passages they were read from."""

    question: str
    answers: list[Answer]
    passages: list[Passage]
    timings_ms: dict = field(default_factory=dict)
    understood_as: str | None = None  # a follow-up as it was read, completed from the history

    def to_json(self) -> dict:
        """The batch contract's object (README, "Batch contract")."""
        return dict(question=self.question, understood_as=self.understood_as,
                    answers=[a.to_json() for a in self.answers], passages=[p.to_json() for p in self.passages])


@dataclass(frozen=True)
class DocumentInfo:
    """What the index holds of one document, for listings."""

    doc_id: str
    title: str
    lang: str
    characters: int
    chunks: int


@dataclass(frozen=True)
class DocumentView:
    """A stretch of a document's cleaned text (as it was read) with one span marked in it."""

    doc_id: str
    text: str
    mark: tuple[int, int]  # the marked span inside ``text``
    truncated: tuple[bool, bool]  # whether text was cut before / after the stretch
    title: str = ""
    page: int | None = None  # of the marked span, in documents with pages


class QA:
    """Loads the index and models once (``warm_up``); answers with ``run``.

    The live index is re-read when another process replaces it (``refresh``), so a
    running server picks up an ingest atomically.
    """

    def __init__(self, cfg: Config | None = None):
        self.cfg = cfg or Config.from_env()
        self.reader = make_reader(self.cfg)
        self._index: Index | None = None
        self._retired: Index | None = None  # the generation replaced last
        self._retriever: Retriever | None = None
        self._aliases: tuple[Path | None, Aliases | None] = (None, None)  # of which generation
        self._quote_judge: QuoteJudge | None = None
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """Answers below this confidence are withheld: the configured one, else the reader's own."""
        return self.reader.threshold if self.cfg.min_confidence is None else self.cfg.min_confidence

    @property
    def index(self) -> Index:
        self.refresh()
        return self._index

    @property
    def retriever(self) -> Retriever:
        self.refresh()
        return self._retriever

    @property
    def quote_judge(self) -> QuoteJudge:
        if self._quote_judge is None:
            self._quote_judge = QuoteJudge.load(self.cfg.quote_judge)
        return self._quote_judge

    def _aliases_of(self, index: Index) -> Aliases:
        """The names ``index``'s documents spell in both scripts (``rag.text.aliases``), found once a
        generation."""
        path, found = self._aliases
        if path != index.path or found is None:
            found = Aliases(d.cleaned.text for d in index.documents.values())
            self._aliases = (index.path, found)
        return found

    def refresh(self) -> None:
        """Load the index if it is new on disk (cheap check of the CURRENT pointer)."""
        gen = current_generation(self.cfg.index_dir)
        if self._index is not None and gen == self._index.path:
            return
        with self._lock:
            if self._index is None or gen != self._index.path:
                from rag.models.loading import embedder_checksum

                index = load_index(self.cfg.index_dir, embedder_sha256=embedder_checksum(), milvus_uri=self.cfg.milvus_uri)
                self._retriever = Retriever(index, self.cfg)
                # the generation before the one replaced now serves no request any more: release its store
                retired, self._retired = self._retired, self._index
                if retired is not None:
                    retired.dense.close()
                self._index = index
                log.info("index %s loaded: %d documents, %d chunks", index.generation,
                         len(index.documents), len(index.chunks))
                if index.manifest.get("lexical") != LEXICAL_TOKENS:
                    log.warning("index %s was tokenised by an older rag: run `rag ingest` on its documents "
                                "to refresh it (names in Latin letters are not matched until then)", index.generation)

    def warm_up(self) -> "QA":
        self.refresh()
        # one English and one Chinese query load jieba's, CC-CEDICT's and pypinyin's tables now
        self._retriever.run("Who warmed up the model?", 1)
        self._retriever.run("誰預熱了模型？", 1)
        self.reader.warm_up()
        self.quote_judge  # noqa: B018 - a missing judgement file fails here, not at the first lookup
        return self

    def run(self, question: str, top_k: int | None = None, filters: Filters | None = None,
            history: Sequence[str | Turn] = (), answers: Sequence[str | None] | None = None) -> Result:
        """Answer ``question``; with ``history`` (the conversation's earlier questions, earliest
        first, and optionally their ``answers``' texts) a follow-up is completed from it first."""
        question = validate_question(question, self.cfg.max_question_chars)
        self.refresh()
        turns = self.conversation(history, answers, top_k, filters)
        understood = self.understand(question, turns)
        return replace(self._answer(understood or question, top_k, filters), question=question,
                       understood_as=understood)

    def _answer(self, question: str, top_k: int | None, filters: Filters | None) -> Result:
        retriever, index = self._retriever, self._index
        timings = {}
        t0 = time.perf_counter()
        passages = retriever.run(question, top_k or self.cfg.top_k, filters, timings)
        t1 = time.perf_counter()
        fragment = lookup_request(question)
        if fragment:  # "where does 'X' come from?": answered by the lookup alone, or not found
            spans = lookup_spans(index, retriever, fragment, self.cfg.answers, filters, self.quote_judge)
        else:
            spans = realign(index, self.reader.run(question, passages), question)
        aliases = self._aliases_of(index)  # the generation this question read, not one loaded since
        answers = assemble(index, spans, self.cfg.answers, self.threshold, question, aliases)
        if not CJK.search(question):
            answers = [replace(a, romanized=romanize(a.text, aliases)) for a in answers]
        t2 = time.perf_counter()
        # retrieval excludes the question embedding, reported on its own
        timings.update(retrieval=round(1000 * (t1 - t0) - timings.get("embedding", 0.0), 1),
                       reading=round(1000 * (t2 - t1), 1))
        return Result(question, answers, passages, timings)

    def conversation(self, history: Sequence[str | Turn], answers: Sequence[str | None] | None = None,
                     top_k: int | None = None, filters: Filters | None = None) -> list[Turn]:
        """The earlier turns, each read as it was understood and with its answer: the given one, else
        computed for the last few turns (those a follow-up can refer to)."""
        history, answers = list(history or ()), list(answers or ())
        skipped = max(0, len(history) - MAX_HISTORY)  # answers[i] goes with history[i]
        history, answers = history[skipped:], answers[skipped:]
        turns: list[Turn] = []
        for i, item in enumerate(history):
            turn = item if isinstance(item, Turn) else Turn(item)
            question = validate_question(turn.question, self.cfg.max_question_chars)
            answer = turn.answer
            if answer is None and i < len(answers) and answers[i] is not None:
                answer = str(answers[i])
            understood = turn.understood or self.understand(question, turns)
            if answer is None and i >= len(history) - TURNS_BACK:
                found = self._answer(understood or question, top_k, filters).answers
                answer = found[0].text if found else ""
            turns.append(Turn(question, answer, understood))
        return turns

    def understand(self, question: str, turns: Sequence[Turn]) -> str | None:
        """``question`` completed from ``turns`` (``rag.conversation.followup``); None: it stands alone."""
        return resolve(question, turns, similar=self._similar, native=self._native) if turns else None

    def _similar(self, text: str, options: list[str]) -> list[float]:
        """e5's cosine of ``text`` with each option (which word an elliptical question replaces)."""
        vectors = self._retriever.embedder.queries([text] + options, fields=("e5",))["e5"]
        return [float(v) for v in vectors[1:] @ vectors[0]]

    def _native(self, name: str) -> str | None:
        """A Latin-script name in the characters the documents write it in (for a Chinese follow-up),
        from the passages that name it; None when none does."""
        for p in self._retriever.run(name, 8):
            if not CJK.search(p.chunk.text):
                continue
            written = anchor_question(name, p.chunk.text, "names")
            if written != name and not re.search(r"[A-Za-z]", written):
                return written
        return None

    def find_quote(self, fragment: str, limit: int = 5) -> list[QuoteMatch]:
        """Where ``fragment`` comes from (see ``rag.answer.quotes``), best first."""
        self.refresh()
        return find_quote(self._index, self._retriever, fragment, limit=limit, judge=self.quote_judge)

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents, by name."""
        index = self.index
        chunks = Counter(c.doc_id for c in index.chunks)
        return [DocumentInfo(d.doc_id, d.title, d.lang, len(d.original), chunks[d.doc_id])
                for d in sorted(index.documents.values(), key=lambda d: d.doc_id)]

    def view(self, doc_id: str, start: int, end: int, context: int = 1500) -> DocumentView | None:
        """The cleaned text around original offsets ``[start, end)`` of a document (a citation),
        with that span marked; None if the document is not indexed."""
        doc = self.index.documents.get(doc_id)
        if doc is None:
            return None
        cleaned = doc.cleaned
        c0 = cleaned.cleaned_index(start)
        c1 = max(c0, cleaned.cleaned_index(end))
        lo, hi = max(0, c0 - context), min(len(cleaned.text), c1 + context)
        return DocumentView(doc_id, cleaned.text[lo:hi], (c0 - lo, c1 - lo), (lo > 0, hi < len(cleaned.text)),
                            doc.title, doc.page_at(start))


def validate_question(question, limit: int) -> str:
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    question = question.strip()
    if not question:
        raise QuestionError("the question is empty; type a question")
    if len(question) > limit:
        raise QuestionError(f"the question is {len(question)} characters, over the {limit} limit; "
                            "shorten it (or raise RAG_MAX_QUESTION_CHARS)")
    return question


def ensure_index(cfg: Config) -> None:
    """Build the default index from the bundled corpus when there is none yet, or refresh it
    when an older rag tokenised it (embeddings are reused; documents from elsewhere are kept)."""
    from rag.ingest.incremental import ingest

    corpus = Path(cfg.corpus_dir)
    if not corpus.is_dir():
        return
    if current_generation(cfg.index_dir) is None:
        log.info("No index at %s yet: building it from %s…", cfg.index_dir, corpus)
        t0 = time.perf_counter()
        report = ingest([corpus], cfg)
        log.info("Index built: %d documents, %d chunks in %.1f s", len(report.added), report.chunks,
                 time.perf_counter() - t0)
        return
    manifest = current_manifest(cfg.index_dir)
    if manifest is not None and manifest.get("lexical") != LEXICAL_TOKENS:
        log.info("The index at %s was tokenised by an older rag: refreshing it", cfg.index_dir)
        ingest([corpus], cfg)
