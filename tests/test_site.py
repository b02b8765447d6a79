"""The course website (``make site``, scripts/build_site.py), built and read in a real browser.

The site is built once from the committed notebooks into a temporary folder (Sphinx with
warnings as errors: a missing file or reference fails the build), served on 127.0.0.1, and every
page is opened in Debian's Chromium with every request that leaves the local server blocked and
recorded. Each page must load without a console error, a failed or blocked request, or an image of
zero size; every internal link must point at a page (and a heading) that exists; equations must be
typeset by the site's own MathJax; the search page must find "discriminator".
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from shared import browser_missing, chromium, require_browser

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _site_tools() -> None:
    try:
        import myst_nb, sphinx_book_theme  # noqa: F401
    except ImportError:
        browser_missing("the site's packages are missing: pip install -e '.[site]' (make site and make test install them)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    _site_tools()
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, f"the site did not build cleanly:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    html = out / "_build" / "html"
    assert (html / "index.html").exists()
    return html


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _serve(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _pages(html: Path) -> list[str]:
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html") if not p.relative_to(html).parts[0].startswith("_"))


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', path.read_text(encoding="utf-8")))


def test_the_site_has_every_page(site):
    pages = _pages(site)
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(lessons) >= 16
    for name in lessons:
        stem = name.removesuffix(".ipynb")
        assert f"lessons/{stem}.html" in pages
        assert f"exercises/{stem}.html" in pages
    for page in ("index.html", "instructors.html", "results.html", "glossary.html", "search.html"):
        assert page in pages


def test_lesson_pages_show_objectives_run_time_and_widget_stills(site):
    text = (site / "lessons" / "05_training_loop.html").read_text(encoding="utf-8")
    assert "By the end you can" in text and "Run time" in text and "69.5 s" in text
    nb = json.loads((ROOT / "notebooks" / "05_training_loop.ipynb").read_text(encoding="utf-8"))
    stills = sum(any(o.get("metadata", {}).get("widget_still") for o in c.get("outputs", [])) for c in nb["cells"])
    assert stills >= 2  # its two training scrubbers at least, each kept as a still of its first state
    assert text.count("It moves in JupyterLab") == stills
    figures = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    assert figures >= 6 and text.count("<img") >= figures  # every figure of the notebook is on the page



def _article(page: Path) -> str:
    """The page's own content, without the navigation (which links every page)."""
    return page.read_text(encoding="utf-8").split("<article", 1)[1].split("</article>", 1)[0]


def test_the_glossary_and_the_home_page_link_every_lesson(site):
    rows = [line for line in (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").splitlines()
            if re.search(r"\| \d\d(, \d\d)* \|\s*$", line)]
    glossary = _article(site / "glossary.html")
    linked = re.findall(r'href="lessons/\d\d_[a-z0-9_]+\.html">(?:<span[^>]*>)?\d\d<', glossary)
    assert len(rows) >= 300 and len(linked) >= len(rows)  # each term's lesson is a link to that lesson's page
    assert "in the repository" not in glossary
    home = _article(site / "index.html")
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f'href="lessons/{path.stem}.html"' in home, f"the home page's syllabus does not link {path.stem}"
    assert "in the repository" not in home


def test_every_page_in_a_browser_offline(site):
    require_browser()
    with _serve(site) as base, chromium() as browser:
        context = browser.new_context()
        outside: list[str] = []

        def route(r):
            if r.request.url.startswith(base + "/"):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        links: dict[str, set[str]] = {}
        typeset = 0
        for name in _pages(site):
            problems.clear()
            page.goto(f"{base}/{name}", wait_until="load")
            assert not outside, f"{name} asked for something outside the site: {outside[:5]}"
            math = page.locator(".math").count()
            if math:
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
                page.evaluate("() => MathJax.startup.promise")
                rendered = page.locator(".math mjx-container").count()
                errors = page.locator("mjx-merror").count()
                assert rendered == math and errors == 0, f"{name}: {rendered} of {math} equations typeset, {errors} TeX errors"
                typeset += rendered
            sizes = page.evaluate("""() => Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.naturalHeight])""")
            empty = [src for src, complete, w, h in sizes if not (complete and w > 0 and h > 0)]
            assert not empty, f"{name}: images of zero size (or not loaded): {empty[:5]}"
            assert not problems, f"{name}:\n  " + "\n  ".join(problems[:10])
            assert not outside, f"{name} asked for something outside the site: {outside[:5]}"
            for href in page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
                if href.startswith(base + "/"):
                    links.setdefault(href, set()).add(name)
        assert typeset > 100, f"only {typeset} equations typeset on the whole site"

        page.goto(f"{base}/search.html?q=discriminator", wait_until="load")
        page.wait_for_selector("#search-results li", timeout=30000)
        found = page.evaluate("() => Array.from(document.querySelectorAll('#search-results li a')).map(a => a.getAttribute('href'))")
        assert any("03_the_discriminator" in h for h in found), f"search for 'discriminator' found {found[:10]}"
        assert not problems and not outside, problems + outside
        context.close()

    broken = []
    ids: dict[Path, set[str]] = {}
    for href, sources in sorted(links.items()):
        parts = urlsplit(href)
        target = site / unquote(parts.path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(f"{href} (from {sorted(sources)[0]}): no such file")
        elif parts.fragment and target.suffix == ".html":
            if target not in ids:
                ids[target] = _ids(target)
            if unquote(parts.fragment) not in ids[target]:
                broken.append(f"{href} (from {sorted(sources)[0]}): no heading #{parts.fragment}")
    assert not broken, f"{len(broken)} internal links lead nowhere:\n  " + "\n  ".join(broken[:20])


def test_a_workshop_subset(tmp_path):
    _site_tools()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(tmp_path), "--lessons", "07", "05"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = tmp_path / "_build" / "html"
    lessons = sorted(p.name for p in (html / "lessons").glob("*.html"))
    assert lessons == ["05_training_loop.html", "07_conditional_gan.html"]
    assert sorted(p.name for p in (html / "exercises").glob("*.html")) == lessons
    home = (html / "index.html").read_text(encoding="utf-8")
    assert "lessons/05_training_loop.html" in home and "lessons/03_the_discriminator.html" not in home
    glossary = (html / "glossary.html").read_text(encoding="utf-8")
    assert 'href="lessons/05_training_loop.html' in glossary and 'href="lessons/03_' not in glossary
    assert "Lesson 03" not in (html / "lessons" / "05_training_loop.html").read_text(encoding="utf-8").split('<nav')[1]


@pytest.mark.parametrize("lessons, message", [
    (["99"], "build_site: no lesson 99 in notebooks/ (there are 01, 02,"),
    (["5"], "build_site: --lessons takes two-digit lesson numbers such as 05, got 5"),
])
def test_a_bad_lesson_number_is_one_line_and_exit_2(tmp_path, lessons, message):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(tmp_path), "--lessons", *lessons],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr
    assert not (tmp_path / "_src").exists()
