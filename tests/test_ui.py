"""The gradio app, started for real and driven in Debian's Chromium (and by gradio_client)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real app server and Chromium

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_process(cfg, built_index, tmp_path_factory):
    """The app as users start it (``rag serve``) on a copy of the test index: (url, process, index)."""
    index = tmp_path_factory.mktemp("ui") / "index"
    shutil.copytree(cfg.index_dir, index)
    port = free_port()
    log = open(index.parent / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--index", str(index)],
                            stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, HF_HUB_OFFLINE="1"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((index.parent / "server.log").read_text())
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("the app did not start within 300 s:\n" + (index.parent / "server.log").read_text())
    yield url, proc, index
    proc.terminate()
    proc.wait(timeout=30)
    assert not (index / "serve.json").exists(), "a stopped app withdraws its announcement"


@pytest.fixture(scope="module")
def server(app_process):
    return app_process[0]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=60_000)
    yield page
    page.close()


def ask(page, question: str):
    bot = '#chat [data-testid="bot"]'
    before = page.locator(bot).count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(f"document.querySelectorAll('{bot}').length > {before}", timeout=120_000)
    return page.locator(bot).last


def upload(page, path: Path, text: str | None = None, expect: str = "Indexed") -> None:
    """Upload a file (written with ``text`` first, if given) in the Documents tab; wait until the
    status says ``expect``."""
    if text is not None:
        path.write_text(text, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#upload input[type=file]", str(path))
    page.wait_for_function(f"document.querySelector('#upload-status').innerText.includes({expect!r})",
                           timeout=180_000)


def test_english_question_gets_bold_answer_with_highlighted_citation(page):
    reply = ask(page, "What robot field did Wang Gang choose for his startup?")
    assert "机器人" in reply.locator("strong").first.inner_text()
    assert reply.locator("mark").count() >= 1
    assert "confidence" in reply.inner_text()
    assert ".txt" in reply.inner_text()
    page.wait_for_selector("#context .doctext mark", timeout=30_000)
    page.wait_for_timeout(500)
    box = page.locator("#context .doctext").bounding_box()
    mark = page.locator("#context .doctext mark").bounding_box()
    assert box["y"] <= mark["y"] <= box["y"] + box["height"], "the answer is scrolled into view"
    shot = os.environ.get("RAG_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=False)
    # the citation stays attached to its message after the next turn
    ask(page, "Which deep learning framework does FAIR rely on?")
    assert page.locator('#chat [data-testid="bot"]').first.locator("mark").count() >= 1


def test_who_leads_a_lab_is_answered_in_the_app_in_english_and_indonesian(page):
    from .test_reader import LAB_HEAD

    for question in LAB_HEAD:
        reply = ask(page, question)
        assert "賈佳亞" in reply.locator("strong").first.inner_text()
        assert "confidence" in reply.inner_text()
        assert "Jiǎ Jiāyà" in reply.inner_text(), "a Chinese answer to a Latin-script question is romanised"


def test_citations_of_earlier_answers_open_their_documents_and_numbers_agree(page):
    import re

    asked = ["Which deep learning framework does FAIR rely on?", "Who is the director of ByteDance AI Labs?",
             "Where did Wang Gang work as a tenured professor before joining Alibaba?"]
    for question in asked:
        ask(page, question)
    replies = page.locator('#chat [data-testid="bot"]')
    for n in (0, 2):  # the first answer and the third (the latest)
        link = replies.nth(n).locator("a.cite").first
        quote = replies.nth(n).locator("mark").first.inner_text()
        link.click()
        page.wait_for_function(f"document.querySelector('#context .doctext mark') && "
                               f"{quote!r}.includes(document.querySelector('#context .doctext mark').innerText)",
                               timeout=30_000)
        page.wait_for_timeout(500)
        assert page.locator(".toast-body").count() == 0, "no error for a citation of an earlier answer"
    page.click("#citations input")
    labels = [o.inner_text() for o in page.get_by_role("option").all()]
    chat_numbers = [a.inner_text() for a in replies.nth(2).locator("a.cite").all()]
    assert [re.search(r"\[\d+\]", label).group() for label in labels[:len(chat_numbers)]] == chat_numbers, \
        "one numbering"


def test_the_chat_is_tall_and_the_documents_table_fits_1280_pixels(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=60_000)
    assert page.locator("#chat").bounding_box()["height"] >= 560
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#documents table", timeout=30_000)
    # every cell shown (gradio also lays out zero-height cells to measure columns) shows all its text
    fits = page.evaluate("""() => [...document.querySelectorAll('#documents td, #documents th')].every(
        el => el.getBoundingClientRect().height === 0 || el.scrollWidth <= el.clientWidth + 2)""")
    width = page.evaluate("document.querySelector('#documents').getBoundingClientRect().right")
    page.close()
    assert fits and width <= 1280, "no column cut off or scrolled at 1280 px"


def test_question_is_shown_as_typed_and_unaskable_ones_add_nothing(page):
    ask(page, "Which deep learning framework does Facebook's FAIR rely on?")
    assert "Facebook's FAIR" in page.locator('#chat [data-testid="user"]').last.inner_text()
    bubbles = page.locator('#chat [data-testid="user"]').count()
    page.fill("#question textarea", "   ")
    page.click("#ask")
    page.wait_for_selector(".toast-body", timeout=30_000)
    assert "empty" in page.inner_text(".toast-body")
    long_question = "Who leads the lab? " * 150  # 2 850 characters, over the 2 000 limit
    page.fill("#question textarea", long_question)
    page.click("#ask")
    page.wait_for_function("[...document.querySelectorAll('.toast-body')].some(t => t.innerText.includes('limit'))",
                           timeout=30_000)
    assert page.locator('#chat [data-testid="user"]').count() == bubbles, "no bubble for a question not asked"
    assert page.input_value("#question textarea") == long_question, "the question stays to be shortened"


def test_citation_link_opens_the_cleaned_document_at_the_answer(page):
    import re

    ask(page, "Which deep learning framework does FAIR rely on?")
    replies = page.locator('#chat [data-testid="bot"]')
    first = replies.nth(replies.count() - 1)  # pinned: ``.last`` would follow the next reply
    answer = first.locator("strong").first.inner_text()
    link = first.locator("a.cite").first
    source = link.get_attribute("href").split("#cite=")[1]
    assert source.startswith(("000_", "001_")), "the cited article carries inline pinyin (the case tested)"
    ask(page, "Siapa direktur ByteDance AI Labs yang bergabung dengan UCSB?")  # the view moves to its answer
    page.wait_for_function(f"!document.querySelector('#context .doctext mark').innerText.includes({answer!r})",
                           timeout=30_000)
    link.click()  # the first reply's citation, still in the chat
    page.wait_for_function(f"document.querySelector('#context .doctext mark').innerText === {answer!r}",
                           timeout=30_000)
    shown = page.inner_text("#context .doctext")
    assert not re.search(r"[\u4e00-\u9fff]\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,7}\)", shown), "pinyin cleaned away"
    assert "#" not in page.url, "the link did not navigate"


def test_a_follow_up_shows_how_it_was_read_and_new_conversation_starts_over(page):
    ask(page, "What did Li Lei do after leaving ByteDance?")
    reply = ask(page, "Which university did he join?")
    assert "Read as: Which university did Li Lei join?" in reply.inner_text()
    page.click("#new-conversation")
    page.wait_for_function("document.querySelectorAll('#chat [data-testid=\"bot\"]').length === 0", timeout=30_000)
    again = ask(page, "Which university did he join?")
    assert "Read as" not in again.inner_text(), "a new conversation has no earlier turns"


def test_the_api_takes_the_conversation(server):
    from gradio_client import Client

    data = Client(server, verbose=False).predict("Which university did he join?", 5, [], [],
                                                 ["Who is the director of ByteDance AI Labs?"], ["Li Lei"],
                                                 api_name="/ask")
    assert data["understood_as"] == "Which university did Li Lei join?"
    assert data["answers"]


def test_off_topic_question_is_not_found(page):
    reply = ask(page, "What is the boiling point of tungsten in kelvin?")
    assert "Not found in the documents" in reply.inner_text()


def test_quote_finder_matches_simplified_to_traditional(page):
    page.get_by_role("tab", name="Quote finder").click()
    page.fill("#fragment textarea", "又要马儿跑又要马儿不吃草")
    page.click("#find")
    page.wait_for_selector("#quotes mark", timeout=60_000)
    text = page.inner_text("#quotes")
    assert "001_299ef1fff7c01911.txt" in text and "exact match" in text and "又要馬兒跑" in text


def test_quote_finder_says_no_close_match_for_text_in_no_document(page):
    page.get_by_role("tab", name="Quote finder").click()
    page.fill("#fragment textarea", "The committee approved the new budget for the harbour bridge repairs on Tuesday.")
    page.click("#find")
    page.wait_for_function("document.querySelector('#quotes').innerText.includes('No close match')", timeout=60_000)
    assert "not close" in page.inner_text("#quotes")


def test_upload_then_ask_and_bad_upload_is_refused(page, tmp_path):
    upload(page, tmp_path / "catatan lab.txt", "Laboratorium Zamrud dipimpin oleh Profesor Kinanti Larasati sejak "
           "tahun 2019. Laboratorium itu meneliti pertanian pintar di Bandung.\n")
    assert "catatan_lab.txt" in page.inner_text("#documents")
    page.get_by_role("tab", name="Ask").click()
    reply = ask(page, "Siapa yang memimpin Laboratorium Zamrud?")
    assert "catatan_lab.txt" in reply.inner_text()

    bad = tmp_path / "image.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    upload(page, bad, expect="binary")
    assert "image.txt" not in page.inner_text("#documents")


def test_english_upload_gets_a_title_and_a_language_filter_then_is_removed(page, app_process, tmp_path):
    upload(page, tmp_path / "greenhouse-report.md", "# Greenhouse Robotics Annual Report\n\nThe Kestrel greenhouse lab "
           "in Leeds is led by Dr. Amara Okafor, who founded it in 2018. It builds harvesting robots for tomatoes.\n")
    assert "Greenhouse Robotics Annual Report" in page.inner_text("#documents")
    page.get_by_role("tab", name="Ask").click()
    assert "English" in page.inner_text("#lang-filter")
    page.reload(wait_until="load")  # a new page builds its filters from the index
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.wait_for_function("document.querySelector('#lang-filter').innerText.includes('English')", timeout=30_000)
    assert "Chinese (traditional)" in page.inner_text("#lang-filter")

    page.get_by_role("tab", name="Documents").click()
    page.click("#remove-doc input")
    page.get_by_role("option", name="Greenhouse Robotics Annual Report — greenhouse-report.md").click()
    page.click("#remove")
    page.wait_for_selector("#remove-confirm", state="visible", timeout=30_000)
    assert "greenhouse-report.md" in page.inner_text("#remove-question"), "removal asks first"
    assert "greenhouse-report.md" in page.inner_text("#documents"), "nothing is removed before it is confirmed"
    page.click("#remove-confirm")
    page.wait_for_function("document.querySelector('#remove-status').innerText.includes('Removed')", timeout=120_000)
    assert "greenhouse-report.md" not in page.inner_text("#documents")
    assert (app_process[2] / "uploads").is_dir() and not (app_process[2] / "uploads" / "greenhouse-report.md").exists()
    page.get_by_role("tab", name="Ask").click()
    page.wait_for_function("!document.querySelector('#lang-filter').innerText.includes('English')", timeout=30_000)
    reply = ask(page, "Who leads the Kestrel greenhouse lab in Leeds?")
    assert "greenhouse-report.md" not in reply.inner_text()


def test_document_text_is_escaped(server, tmp_path, browser):

    hostile = tmp_path / "hostile.html"
    hostile.write_text("<p>Profesor Bima memimpin &lt;script&gt;window.pwned=1&lt;/script&gt; "
                       "lab robotika &lt;img src=x onerror=window.pwned=2&gt; di Jakarta.</p>")
    page = browser.new_page()
    page.goto(server, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=60_000)
    upload(page, hostile)
    page.get_by_role("tab", name="Ask").click()
    ask(page, "Siapa yang memimpin lab robotika di Jakarta?")
    assert page.evaluate("window.pwned === undefined")
    page.close()


def test_gradio_client_returns_the_cli_json(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    data = client.predict("Which deep learning framework does FAIR rely on?", 5, [], [], api_name="/ask")
    assert set(data) >= {"question", "answers", "passages"}
    assert data["passages"] and set(data["passages"][0]) >= {"text", "source", "start", "end", "score"}
    found = client.predict("神仙們歸隱山林", 5, api_name="/search")
    assert found["matches"][0]["exact"] and found["matches"][0]["source"].startswith("003")
    json.dumps(data)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


SOAK_SECONDS = float(os.environ.get("RAG_SOAK_SECONDS", "60"))
SOAK_CLIENTS = 32
SOAK_QUESTIONS = ["Which deep learning framework does FAIR rely on?", "周伯文是哪一年出任京东集团副总裁的?",
                  "Siapa yang memimpin laboratorium AI Alibaba?", "What is the boiling point of tungsten?",
                  "字节跳动AI Lab在架构上直接属于哪个部门?", "Who left Tencent AI Lab in 2022?"]
SOAK_QUOTES = ["又要马儿跑又要马儿不吃草", "神仙們歸隱山林", "laboratorium"]


@pytest.mark.reliability(f"soak: {SOAK_CLIENTS} concurrent API clients for {SOAK_SECONDS:.0f} s (questions, quote "
                         "look-ups) plus an upload in the browser, loopback only",
                         "zero errors, bounded memory, p95 latency reported")
def test_soak_many_clients(app_process, browser, tmp_path, record_property):
    import random
    import threading

    from gradio_client import Client

    url, proc, _ = app_process
    warm = Client(url, verbose=False)
    for q in SOAK_QUESTIONS:  # steady state before the baseline is read
        warm.predict(q, 5, [], [], api_name="/ask")
    rss_start = _rss_mb(proc.pid)
    deadline = time.time() + SOAK_SECONDS
    latencies, errors, lock = [], [], threading.Lock()

    def client(n: int):
        rng = random.Random(n)
        try:
            c = Client(url, verbose=False)
        except Exception as exc:  # noqa: BLE001 - a client that cannot connect is an error
            with lock:
                errors.append(f"client {n}: {exc!r}")
            return
        while time.time() < deadline:
            t0 = time.time()
            try:
                if rng.random() < 0.7:
                    out = c.predict(rng.choice(SOAK_QUESTIONS), 5, [], [], api_name="/ask")
                    ok = "passages" in out and "error" not in out
                else:
                    out = c.predict(rng.choice(SOAK_QUOTES), 5, api_name="/search")
                    ok = bool(out["matches"])
                with lock:
                    latencies.append(time.time() - t0)
                    if not ok:
                        errors.append(f"client {n}: bad reply {str(out)[:200]}")
            except Exception as exc:  # noqa: BLE001
                with lock:
                    errors.append(f"client {n}: {exc!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(SOAK_CLIENTS)]
    for t in threads:
        t.start()
    # one upload through the browser while the clients run
    page = browser.new_page()
    page.goto(url, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=120_000)
    page.get_by_role("tab", name="Documents").click()
    doc = tmp_path / "soak-note.txt"
    doc.write_text("Catatan uji beban: Laboratorium Melati dibuka di Yogyakarta pada tahun 2025.\n")
    page.set_input_files("#upload input[type=file]", str(doc))
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('Indexed')",
                           timeout=int(SOAK_SECONDS * 1000) + 300_000)
    page.close()
    for t in threads:
        t.join(timeout=SOAK_SECONDS + 600)
    rss_end = _rss_mb(proc.pid)
    assert not errors, errors[:5]
    assert len(latencies) >= SOAK_CLIENTS
    # bounded: allow for the uploaded document's new index generation, nothing like a leak per request
    assert rss_end < rss_start * 1.5 + 300, (rss_start, rss_end)
    import numpy as np

    p50, p95 = np.percentile(latencies, [50, 95])
    record_property("observed", f"{len(latencies)} requests, 0 errors, p50 {p50:.1f} s, p95 {p95:.1f} s "
                                f"(queued behind 4 workers); server RSS {rss_start:.0f} → {rss_end:.0f} MB")


def test_cli_answers_through_the_running_app(app_process, tmp_path):
    """`rag ask` / `rag search` over the index a `rag serve` is serving use that app (no models loaded in
    the CLI process); `--in-process` and a stale announcement answer locally, with the same JSON."""
    from .conftest import rag

    _, proc, index = app_process
    question = "Which deep learning framework does FAIR rely on?"
    remote = rag("ask", question, "--json", "--index", str(index), "-v")
    assert remote.returncode == 0, remote.stderr.decode()[-2000:]
    log = remote.stderr.decode()
    assert "answered by the running app" in log and "Loading embedder" not in log
    local = rag("ask", question, "--json", "--index", str(index), "--in-process")
    assert local.returncode == 0, local.stderr.decode()[-2000:]
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    found = rag("search", "又要馬兒跑", "--json", "--index", str(index), "-v")
    assert "answered by the running app" in found.stderr.decode()
    assert json.loads(found.stdout)["matches"][0]["exact"]
    empty = rag("ask", "   ", "--index", str(index))
    assert empty.returncode == 2 and "empty" in empty.stderr.decode()
    # an announcement left by a process that is gone is ignored
    stale = tmp_path / "index"
    shutil.copytree(index, stale, ignore=shutil.ignore_patterns("uploads"))
    (stale / "serve.json").write_text(json.dumps(dict(url="http://127.0.0.1:9", pid=2 ** 22 + 1)))
    alone = rag("search", "又要馬兒跑", "--json", "--index", str(stale), "-v")
    assert alone.returncode == 0 and "running app" not in alone.stderr.decode()
    assert json.loads(alone.stdout)["matches"] == json.loads(found.stdout)["matches"]
