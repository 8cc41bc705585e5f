"""A running app answers for the command line: ``rag ask`` / ``rag search`` use it instead of
loading the index and models themselves (seconds instead of a cold start).

``rag serve`` announces itself in ``<index>/serve.json`` (its URL and process id) while it runs;
the CLI reads that file, checks the process is alive, and calls the app's JSON API (gradio's
``/gradio_api/call/<name>``: POST the inputs, then read the event stream for the result) over
127.0.0.1. Anything amiss (no file, a dead process, a refused connection, an error event) makes
the CLI answer in-process, as it would without a server. Plain ``urllib``, no extra dependency.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

ANNOUNCEMENT = "serve.json"
TIMEOUT = 120.0  # seconds for one call (a question queued behind others included)


class ResidentUnavailable(Exception):
    """The running app could not answer; the caller answers in-process instead."""


@contextlib.contextmanager
def announce(index_dir: Path, url: str):
    """Announce the app at ``url`` for ``index_dir`` while the block runs (and at exit, removed)."""
    path = Path(index_dir) / ANNOUNCEMENT
    tmp = path.with_name(f".{ANNOUNCEMENT}.{os.getpid()}")
    tmp.write_text(json.dumps(dict(url=url, pid=os.getpid())), encoding="utf-8")
    os.replace(tmp, path)

    def withdraw():
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()

    atexit.register(withdraw)
    try:
        yield path
    finally:
        withdraw()


def find(index_dir: Path) -> str | None:
    """The URL of a live app serving ``index_dir``, or None."""
    try:
        info = json.loads((Path(index_dir) / ANNOUNCEMENT).read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)  # raises if the process is gone
        return str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def call(url: str, api: str, *inputs, timeout: float = TIMEOUT):
    """The result of the app's ``api`` endpoint for ``inputs``; ``ResidentUnavailable`` otherwise."""
    try:
        request = urllib.request.Request(f"{url}/gradio_api/call/{api}", method="POST",
                                         data=json.dumps(dict(data=list(inputs))).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            event = json.loads(response.read())["event_id"]
        with urllib.request.urlopen(f"{url}/gradio_api/call/{api}/{event}", timeout=timeout) as response:
            stream = response.read().decode("utf-8")
    except (OSError, ValueError, KeyError) as exc:
        raise ResidentUnavailable(f"{url}: {exc}") from exc
    kind, data = None, None
    for line in stream.splitlines():  # server-sent events: "event: …" then "data: …"
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind in ("complete", "error"):
            data = line.split(":", 1)[1].strip()
            break
    if kind != "complete" or data is None:
        raise ResidentUnavailable(f"{url} answered {kind or 'nothing'}: {str(data)[:200]}")
    return json.loads(data)[0]
