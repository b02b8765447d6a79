"""The server's web page works in a real browser: headless Chromium against a real server process.

``serve.ServerProcess`` starts ``genai-course serve`` on a free port of 127.0.0.1 with a tiny
cvae-digits checkpoint and a tiny charlm-names one (20 training steps each); the keys are made
with ``serve.add_key`` while it runs (the server reads the key file on every request). Playwright
opens ``GET /`` in Chromium and uses the page as a person would: paste a key, Connect, pick a
model and a label, Draw. Checked: a valid key draws a picture (an ``<img>`` that decoded) and a
list of names, and the page says the samples were signed; the same key revoked while the server
runs gets the server's 401 line and no picture; a key whose scopes leave out the digits model
is not offered it, and a key limited to some labels sees the server's 403 line; the page keeps
the key nowhere (no cookies, no local or session storage, an empty field after a reload); and
when no answer can come (the server stopped, or a key with a character no HTTP header carries),
the page says so instead of failing silently. Any uncaught error in the page fails the test.

Chromium is Debian's ``/usr/bin/chromium``, driven as ``tests/test_browser.py`` drives it
(``playwright install`` is never needed); without Chromium or Playwright the test skips, except
under CI (the variable ``CI`` set), where it fails. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from genai_course import cli, serve
from shared import chromium, require_browser

WAIT_MS = 20_000  # the longest any one step of the page may take (a request, a picture decoding)
BOTH = "model:cvae-digits model:charlm-names max:8"


@dataclass
class Served:
    url: str
    keys: Path
    server: serve.ServerProcess
    digits: Path  # the cvae-digits checkpoint


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server process over a tiny cvae-digits and a tiny charlm-names checkpoint; stopped at the end."""
    require_browser()
    folder = tmp_path_factory.mktemp("browser-serve")
    digits, names = folder / "cvae.pt", folder / "charlm.pt"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "cvae-digits", "--steps", "20", "--out", str(digits), "--quiet"]) == 0
        assert cli.main(["train", "charlm-names", "--steps", "20", "--out", str(names), "--quiet"]) == 0
    keys = folder / "keys.json"
    serve.add_key(keys, "owner", "admin", quota="1000/min")  # a key file that exists before the server starts
    with serve.ServerProcess([digits, names], keys) as server:
        yield Served(server.url, keys, server, digits)
    assert not server.running


@pytest.fixture(scope="module")
def browser(served):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)  # every expect() below waits this long at most
    with chromium() as launched:
        yield launched


class Page:
    """The web page in a fresh browser context (no cookies or storage from another test), and
    what went wrong in it: uncaught exceptions and console errors. Chromium logs every refused
    request ("Failed to load resource: ... 401"); those are the point of some tests, not errors."""

    def __init__(self, context, url: str):
        self.context, self.page = context, context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught exception: {error}"))
        self.page.on("console", self._console)
        self.page.goto(url + "/")

    def _console(self, message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console error: {message.text}")

    def connect(self, key: str) -> None:
        self.page.fill("#key", key)
        with self.page.expect_response(lambda r: r.url.endswith("/v1/models")):
            self.page.click("#connect")

    def choose(self, model: str, label: str | None = None, n: int | None = None) -> None:
        self.page.select_option("#model", model)
        if label is not None:
            self.page.select_option("#label", label)
        if n is not None:
            self.page.fill("#n", str(n))

    def draw(self) -> int:
        """Click Draw; the status of the answer (the page then handles it: wait on what it shows)."""
        with self.page.expect_response(lambda r: r.url.endswith("/v1/generate")) as answer:
            self.page.click("#draw")
        return answer.value.status

    def options(self, select: str) -> list[str]:
        return self.page.eval_on_selector_all(f"{select} option", "os => os.map(o => o.value)")

    def message(self) -> str:
        return self.page.inner_text("#message")

    def picture_width(self) -> int:
        """The drawn picture's decoded width, once it has decoded (0 never comes back: it times out)."""
        img = self.page.locator("#samples img")
        img.wait_for(state="attached")
        self.page.wait_for_function(
            "() => { const i = document.querySelector('#samples img'); return i && i.complete && i.naturalWidth > 0; }")
        return img.evaluate("i => i.naturalWidth")


@pytest.fixture
def page(browser, served):
    context = browser.new_context()
    try:
        p = Page(context, served.url)
        yield p
        assert p.errors == []
    finally:
        context.close()


def test_a_valid_key_draws_digits_and_names(page, served):
    from playwright.sync_api import expect

    key = serve.add_key(served.keys, "artist", BOTH)  # added while the server runs
    page.connect(key)
    expect(page.page.locator("#message")).to_have_text(
        "Key artist: 2 model(s) you may use, at most 8 samples a request.")
    assert page.options("#model") == ["cvae-digits", "charlm-names"]

    page.choose("cvae-digits", label="3", n=4)
    assert page.options("#label") == ["", *map(str, range(10))]
    assert page.draw() == 200
    expect(page.page.locator("#message")).to_have_class("ok")
    expect(page.page.locator("#message")).to_contain_text("4 sample(s), signed; drawn in a forward pass of")
    assert page.picture_width() > 0
    assert page.page.get_attribute("#samples img", "alt") == "4 samples of cvae-digits"

    page.choose("charlm-names")
    labels = page.options("#label")
    assert labels[0] == "" and len(labels) > 2  # "every label in turn", then the locales
    page.choose("charlm-names", label=labels[1], n=5)
    assert page.draw() == 200
    names = page.page.locator("#names li")
    expect(names).to_have_count(5)
    assert all(text.endswith(f"({labels[1]})") for text in names.all_inner_texts())
    expect(page.page.locator("#samples img")).to_have_count(0)
    expect(page.page.locator("#message")).to_contain_text("5 sample(s), signed")


def test_a_key_revoked_while_the_server_runs_shows_the_401(page, served):
    from playwright.sync_api import expect

    key = serve.add_key(served.keys, "doomed", BOTH)
    page.connect(key)
    page.choose("cvae-digits", label="7", n=2)
    assert page.draw() == 200
    assert page.picture_width() > 0

    serve.revoke_key(served.keys, "doomed")
    assert page.draw() == 401
    message = page.page.locator("#message")
    expect(message).to_have_text("401: this key is not valid (unknown or revoked)")
    expect(message).to_have_class("error")
    expect(page.page.locator("#samples img")).to_have_count(0)  # the old picture is gone, no new one came

    with page.page.expect_response(lambda r: r.url.endswith("/v1/models")):
        page.page.click("#connect")  # connecting again: refused too, and Draw is switched off
    expect(message).to_have_text("401: this key is not valid (unknown or revoked)")
    expect(page.page.locator("#draw")).to_be_disabled()


def test_a_key_without_the_digits_model_is_not_offered_it(page, served):
    from playwright.sync_api import expect

    key = serve.add_key(served.keys, "names-only", "model:charlm-names max:8")
    page.connect(key)
    expect(page.page.locator("#message")).to_have_text(
        "Key names-only: 1 model(s) you may use, at most 8 samples a request.")
    assert page.options("#model") == ["charlm-names"]
    assert "cvae-digits" not in page.page.inner_text("#model")


def test_a_key_limited_to_some_labels_sees_the_403_and_413(page, served):
    from playwright.sync_api import expect

    key = serve.add_key(served.keys, "low-digits", "model:cvae-digits label:0-4 max:4")
    page.connect(key)
    expect(page.page.locator("#message")).to_contain_text("Key low-digits: 1 model(s)")
    assert page.options("#model") == ["cvae-digits"]
    assert page.options("#label") == ["0", "1", "2", "3", "4"]  # only the labels the key may ask for, no "every label in turn"
    message = page.page.locator("#message")

    page.choose("cvae-digits", label="2", n=5)  # one more than the key's max:4
    assert page.draw() == 413
    expect(message).to_have_text("413: 5 samples is more than this key may ask for at once (at most 4)")

    page.choose("cvae-digits", label="2", n=4)
    assert page.draw() == 200
    assert page.picture_width() > 0


def test_the_page_keeps_the_key_nowhere(page, served):
    from playwright.sync_api import expect

    key = serve.add_key(served.keys, "forgetful", BOTH)
    page.connect(key)
    page.choose("cvae-digits", label="1", n=1)
    assert page.draw() == 200
    assert page.picture_width() > 0
    stored = page.page.evaluate(
        "() => ({local: localStorage.length, session: sessionStorage.length, cookie: document.cookie})")
    assert stored == {"local": 0, "session": 0, "cookie": ""}
    assert page.context.cookies() == []
    assert key not in page.page.content()  # the key is in the field's value, never written into the page
    page.page.reload()
    expect(page.page.locator("#key")).to_have_value("")
    expect(page.page.locator("#draw")).to_be_disabled()


def test_the_page_says_when_no_answer_comes(browser, served, tmp_path):
    """fetch throws instead of answering when the server is gone or a header cannot carry the key:
    the page shows that (it once left the last message standing, with an uncaught error)."""
    from playwright.sync_api import expect

    keys = tmp_path / "keys.json"
    key = serve.add_key(keys, "short-lived", "model:cvae-digits")
    context = browser.new_context()
    try:
        with serve.ServerProcess([served.digits], keys) as server:
            page = Page(context, server.url)
            message = page.page.locator("#message")
            page.page.fill("#key", "\u201c" + key + "\u201d")  # pasted with curly quotes: not ISO-8859-1
            page.page.click("#connect")
            expect(message).to_contain_text("the request failed: ")
            expect(message).to_contain_text("ISO-8859-1")
            expect(page.page.locator("#draw")).to_be_disabled()

            page.connect(key)
            page.choose("cvae-digits", label="5", n=2)
            assert page.draw() == 200
            assert page.picture_width() > 0
            server.stop()
        page.page.click("#draw")
        expect(message).to_have_text("the request failed: Failed to fetch")
        expect(message).to_have_class("error")
        expect(page.page.locator("#samples img")).to_have_count(0)
        assert page.errors == []
    finally:
        context.close()
