"""The model cache (``RAG_HOME``): artefacts built once, safely shared by concurrent processes.

Every checkout and process of a user shares the cache, so two first runs can meet. An artefact
is built under a per-artefact file lock (``fcntl.flock``) into a private temporary folder and
published with an atomic rename; a process that finds the lock taken says so and waits, then
uses what the first one published. Nothing another process may be reading is deleted in place.

First-run stages report one line each with their duration; the libraries' own chatter during
them (progress bars, load reports, tracer warnings, the quantiser's log) is shown only with ``-v``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


@contextlib.contextmanager
def artefact_lock(target: Path, what: str):
    """Hold the lock of the artefact at ``target`` (waiting, with a message, while another
    process holds it)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target.parent / f".{target.name}.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("Another rag process is building %s; waiting for it to finish", what)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def private_folder(near: Path):
    """A new empty folder beside ``near`` (same file system, so a rename publishes it), removed
    afterwards with whatever was not published out of it."""
    Path(near).parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{Path(near).name}-", dir=Path(near).parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def publish(built: Path, target: Path) -> Path:
    """Move ``built`` to ``target`` atomically. A stale ``target`` (another version, called with
    the lock held) is renamed aside first and removed after: files a process still has open stay
    readable to it until it closes them."""
    target = Path(target)
    stale = None
    if target.exists():
        stale = target.with_name(f".stale-{target.name}-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(target, stale)
    os.replace(built, target)
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    return target


@contextlib.contextmanager
def stage(what: str):
    """One progress line when a first-run stage starts and one with its duration when it ends;
    the libraries stay quiet meanwhile unless the ``rag`` logger is at DEBUG (``-v``)."""
    log.info("First use: %s (once)…", what)
    t0 = time.perf_counter()
    with quiet_libraries():
        yield
    log.info("First use: %s done in %.1f s", what, time.perf_counter() - t0)


@contextlib.contextmanager
def quiet_libraries():
    """Silence third-party progress bars, warnings and INFO logs for the duration (not under -v)."""
    if logging.getLogger("rag").isEnabledFor(logging.DEBUG):
        yield
        return
    root = logging.getLogger()
    level = root.level
    saved = {k: os.environ.get(k) for k in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    os.environ.update(TQDM_DISABLE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    root.setLevel(logging.ERROR)  # the ONNX quantiser logs every skipped node to the root logger
    try:
        with warnings.catch_warnings(), _transformers_quiet():
            warnings.simplefilter("ignore")  # torch.onnx tracer warnings
            yield
    finally:
        root.setLevel(level)
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@contextlib.contextmanager
def _transformers_quiet():
    """transformers' own verbosity (its load reports) and progress bars, restored afterwards."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
