#!/usr/bin/env python3
"""Build the course website from the committed, executed notebooks (nothing is re-run).

    python scripts/build_site.py                  # every lesson: site/_build/html
    python scripts/build_site.py --lessons 05 06  # a workshop's subset
    python scripts/build_site.py --out /tmp/site  # elsewhere (the browser test does)

The pages are gathered into ``<out>/_src`` (a lesson page is its executed notebook with a box of
its objectives, run time and exercises on top; an exercise page is the learner's notebook; the
home page, results and glossary are cut from README.md and docs/), then Sphinx with MyST-NB and
the book theme (jupyter-book 1.x's stack, the ``site`` extra) renders them to
``<out>/_build/html`` with warnings as errors: a missing file, image or reference fails the
build (exit 1). MathJax comes from sphinx-mathjax-offline, the theme's scripts and fonts from
the theme's package: the site loads nothing from anywhere else. A widget's output is the still that scripts/execute_notebooks.py
kept of its first state, with one line saying that it moves in JupyterLab.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("instructors", "glossary", "tuning", "architecture")  # docs/<name>.md, each a page
GUIDES = ("instructors", "results", "glossary", "tuning", "architecture")  # their order in the navigation
STILL_LINE = ("*Above: a still of this widget in its first state. It moves in JupyterLab: run the "
              "notebook yourself (`make lab`) and drag its controls.*")
NBVAL_MARKERS = {"# NBVAL_IGNORE_OUTPUT", "# NBVAL_RAISES_EXCEPTION", "# NBVAL_SKIP"}
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Lesson:
    number: str  # "05"
    stem: str  # "05_training_loop"
    objectives: str  # "by the end you can" (markdown)
    exercises: str  # the syllabus's exercise list (markdown)
    run_time: str  # "69.5 s"


def syllabus(readme: str) -> dict[str, tuple[str, str, str]]:
    """number -> (objectives, exercises, run time) from the README's syllabus table."""
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"\d\d", cells[0]):
            run_time = re.sub(r"[^\d.,s ]", "", cells[4]).strip()  # drop the table's footnote marks
            rows[cells[0]] = (cells[2], cells[3], run_time)
    return rows


def lesson_files() -> list[Path]:
    """Every lesson's executed notebook, in the syllabus's order."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def lessons(chosen: list[str] | None) -> list[Lesson]:
    """The lessons to build (all when chosen is None); ValueError names a lesson that is not there."""
    table = syllabus((ROOT / "README.md").read_text())
    found = []
    for path in lesson_files():
        number = path.name[:2]
        if chosen and number not in chosen:
            continue
        if number not in table:
            raise ValueError(f"build_site: lesson {number} ({path.name}) has no row in README.md's syllabus table")
        found.append(Lesson(number, path.stem, *table[number]))
    if chosen:
        missing = sorted(set(chosen) - {lesson.number for lesson in found})
        if missing:
            raise ValueError(f"build_site: no lesson {', '.join(missing)} in notebooks/ "
                             f"(there are {', '.join(p.name[:2] for p in lesson_files())})")
    return found


def slug(heading: str) -> str:
    """MyST's anchor for a heading (myst_heading_anchors): lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    return {slug(m.group(2)) for m in re.finditer(r"^(#{1,6})\s+(.+?)\s*$", markdown, re.M)}


class Links:
    """Rewrites the repository's relative links to the site's pages; a link to anything not on the
    site becomes its text (with the path in code), so no page points at a file that is not there."""

    def __init__(self, lessons: list[Lesson], page_anchors: dict[str, set[str]]):
        self.pages = {f"notebooks/{l.stem}.ipynb": f"lessons/{l.stem}.ipynb" for l in lessons}
        self.pages |= {f"lessons/{l.stem}.ipynb": f"lessons/{l.stem}.ipynb" for l in lessons}  # already the site's
        self.pages |= {f"exercises/{l.stem}.ipynb": f"exercises/{l.stem}.ipynb" for l in lessons}
        self.pages |= {f"docs/{name}.md": f"{name}.md" for name in DOCS}
        self.pages |= {"README.md": "index.md", "index.md": "index.md"}
        self.page_anchors = page_anchors  # site page -> its headings' anchors

    def __call__(self, markdown: str, page: str) -> str:
        depth = page.count("/")

        def fix(m: re.Match) -> str:
            text, target = m.group(1), m.group(2)
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                return m.group(0)
            path, _, anchor = target.partition("#")
            path = path.removeprefix("../").removeprefix("./")
            if not path:  # a heading of the same README section: wherever it went
                for site_page, found in self.page_anchors.items():
                    if anchor in found:
                        return f"[{text}]({'../' * depth}{site_page}#{anchor})" if site_page != page else f"[{text}](#{anchor})"
                return text
            if path in self.pages:
                to = self.pages[path]
                if anchor and anchor not in self.page_anchors.get(to, set()):
                    anchor = ""
                return f"[{text}]({'../' * depth}{to}{'#' + anchor if anchor else ''})"
            return text if text.startswith("`") else f"{text} (`{path}` in the repository)"

        return LINK.sub(fix, markdown)


def readme_part(readme: str, start: str, stop: str) -> str:
    """README.md from the line `start` to the line before `stop` (headings)."""
    lines = readme.splitlines()
    a = lines.index(start)
    b = lines.index(stop, a + 1)
    return "\n".join(lines[a:b]).strip() + "\n"


def home_page(readme: str, chosen: list[Lesson]) -> str:
    intro = readme_part(readme, "# genai-course", "## Other ways to install")
    intro = re.sub(r"^On this page:.*?\n\n", "", intro, flags=re.S | re.M)  # the README's own contents line
    numbers = {l.number: l.stem for l in chosen}

    def link_row(m: re.Match) -> str:
        n = m.group(1)
        return f"| [{n}](lessons/{numbers[n]}.ipynb) | [{m.group(2)}](lessons/{numbers[n]}.ipynb) |" if n in numbers else m.group(0)

    intro = re.sub(r"^\| (\d\d) \| ([^|]+?) \|", link_row, intro, flags=re.M)
    if len(chosen) < len(lesson_files()):
        kept = {l.number for l in chosen}
        intro = "\n".join(line for line in intro.splitlines()
                          if not (m := re.match(r"^\| (\d\d) \|", line)) or m.group(1) in kept)
        intro += f"\n\nThis site holds lessons {', '.join(sorted(kept))} of the course.\n"
    return intro.replace("# genai-course", "# genai-course: learn generative AI by building it", 1)


def results_page(readme: str) -> str:
    part = readme_part(readme, "## What the trained models reach", "## Command line")
    return "# Results\n\n" + "\n".join(line[1:] if line.startswith("##") else line for line in part.splitlines()[1:]) + "\n"


def glossary_page(text: str, chosen: list[Lesson]) -> str:
    """docs/glossary.md with each lesson number linked to the lesson page (the rows of lessons not built stay unlinked)."""
    stems = {l.number: l.stem for l in chosen}

    def cell(m: re.Match) -> str:
        numbers = [n.strip() for n in m.group(1).split(",")]
        return "| " + ", ".join(f"[{n}](lessons/{stems[n]}.ipynb)" if n in stems else n for n in numbers) + " |"

    return re.sub(r"\| ((?:\d\d)(?:, \d\d)*) \|\s*$", cell, text, flags=re.M)


def lesson_box(lesson: Lesson) -> str:
    return (
        "```{admonition} This lesson\n:class: tip\n\n"
        f"**By the end you can** {lesson.objectives}.\n\n"
        f"**Run time**: {lesson.run_time} on 2 CPU cores, training everything (`make bench`'s median).\n\n"
        f"**Exercises**: {lesson.exercises}, in [exercise set {lesson.number}](../exercises/{lesson.stem}.ipynb).\n\n"
        f"**Run it yourself**: `make lab` (the [home page](../index.md) says more), then open "
        f"`notebooks/{lesson.stem}.ipynb`.\n```\n"
    )


def lesson_notebook(lesson: Lesson, links: Links) -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "notebooks" / f"{lesson.stem}.ipynb", as_version=4)
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = links(cell.source, f"lessons/{lesson.stem}.ipynb")
        else:  # nbval's markers are for the tests, not for readers
            cell.source = "\n".join(line for line in cell.source.splitlines() if line.strip() not in NBVAL_MARKERS)
        cells.append(cell)
        if i == 0:
            cells.append(nbformat.v4.new_markdown_cell(links(lesson_box(lesson), f"lessons/{lesson.stem}.ipynb")))
        if cell.cell_type == "code" and any(o.get("metadata", {}).get("widget_still") for o in cell.get("outputs", [])):
            cells.append(nbformat.v4.new_markdown_cell(STILL_LINE))
    nb.cells = cells
    return nb


def exercise_notebook(lesson: Lesson, links: Links) -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "exercises" / f"{lesson.stem}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = links(cell.source, f"exercises/{lesson.stem}.ipynb")
    note = (
        "```{note}\nThis is the learner's notebook: its checks answer when you run it. Download it "
        "(the download button at the top of the page) or, in the course's folder, run `make lab` and open "
        f"`exercises/{lesson.stem}.ipynb`. It follows [lesson {lesson.number}](../lessons/{lesson.stem}.ipynb).\n```\n"
    )
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(note))
    return nb


def sphinx_conf() -> str:
    """The Sphinx configuration: jupyter-book 1.x's stack (MyST-NB, the book theme, an external table of
    contents) without sphinx-thebe, whose script declared a global twice on every page (a page error)
    and names a CDN; MathJax from sphinx-mathjax-offline."""
    return '''project = "genai-course"
author = "the genai-course authors"
extensions = ["myst_nb", "sphinx_external_toc", "sphinx_copybutton", "sphinx_togglebutton", "sphinx-mathjax-offline"]
external_toc_path = "_toc.yml"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
nb_execution_mode = "off"  # the notebooks are committed executed; nothing runs here
nb_ipywidgets_js = {}  # no widget manager from a CDN: widgets are stills (scripts/execute_notebooks.py)
nb_merge_streams = True
myst_enable_extensions = ["amsmath", "colon_fence", "dollarmath"]
myst_heading_anchors = 4
suppress_warnings = ["mystnb.unknown_mime_type"]
html_theme = "sphinx_book_theme"
html_title = "genai-course"
html_show_copyright = False
html_show_sphinx = False
html_sourcelink_suffix = ""
html_context = {"default_mode": "light"}
html_theme_options = {
    "search_bar_text": "Search the course",
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
}
'''


def toc(chosen: list[Lesson]) -> str:
    lines = ["format: jb-book", "root: index", "parts:", "  - caption: Lessons", "    chapters:"]
    lines += [f"      - file: lessons/{l.stem}" for l in chosen]
    lines += ["  - caption: Exercises", "    chapters:"]
    lines += [f"      - file: exercises/{l.stem}" for l in chosen]
    lines += ["  - caption: For instructors and the curious", "    chapters:"]
    lines += [f"      - file: {name}" for name in GUIDES]
    return "\n".join(lines) + "\n"


def gather(src: Path, chosen: list[Lesson]) -> int:
    """Write every page and the Sphinx configuration into src; returns the number of pages besides lessons and exercises."""
    readme = (ROOT / "README.md").read_text()
    if src.exists():
        shutil.rmtree(src)
    (src / "lessons").mkdir(parents=True)
    (src / "exercises").mkdir()
    pages = {"index.md": home_page(readme, chosen), "results.md": results_page(readme)}
    for name in DOCS:
        text = (ROOT / "docs" / f"{name}.md").read_text()
        pages[f"{name}.md"] = glossary_page(text, chosen) if name == "glossary" else text
    page_anchors = {page: anchors(text) for page, text in pages.items()}
    links = Links(chosen, page_anchors)
    for page, text in pages.items():
        (src / page).write_text(links(text, page))
        for image in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):  # pictures the pages show, from the repository
            if not re.match(r"[a-z]+:", image):
                (src / image).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / image, src / image)
    for lesson in chosen:
        nbformat.write(lesson_notebook(lesson, links), src / "lessons" / f"{lesson.stem}.ipynb")
        nbformat.write(exercise_notebook(lesson, links), src / "exercises" / f"{lesson.stem}.ipynb")
    (src / "conf.py").write_text(sphinx_conf())
    (src / "_toc.yml").write_text(toc(chosen))
    return len(pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", nargs="+", metavar="NN", help="build only these lessons (two digits each), e.g. 05 06")
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="folder for _src and _build (default: site/)")
    args = parser.parse_args(argv)
    if args.lessons and not all(re.fullmatch(r"\d\d", n) for n in args.lessons):
        print(f"build_site: --lessons takes two-digit lesson numbers such as 05, got {' '.join(args.lessons)}", file=sys.stderr)
        return 2
    try:
        chosen = lessons(args.lessons)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    start = time.perf_counter()
    src = args.out / "_src"
    pages = gather(src, chosen)
    build = args.out / "_build"
    if build.exists():
        shutil.rmtree(build)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", str(src), str(build / "html")]
    done = subprocess.run(command)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"build_site: Sphinx reported warnings or errors (above); the site in {build / 'html'} is incomplete", file=sys.stderr)
        return 1
    print(f"build_site: {len(chosen)} lessons, {len(chosen)} exercise sets and {pages} pages in {build / 'html'} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
