"""Every notebook is a pair, and the two halves hold the same cells.

``NN_name.py`` (jupytext py:percent) is what authors edit and review; ``NN_name.ipynb``
is the executed copy that learners open and nbval re-runs. They must carry the same
cells: same kinds, same sources (outputs, metadata and timestamps are not compared).
``make notebooks`` (scripts/execute_notebooks.py) rewrites the .ipynb from the .py.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAIRED_DIRS = ("notebooks", "solutions")


def cells_of(path: Path) -> list[tuple[str, str]]:
    """(cell_type, stripped source) for every cell of a .py or .ipynb notebook."""
    nb = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]


def _excerpt(source: str, width: int = 70) -> str:
    first = source.splitlines()[0] if source else ""
    more = " ..." if len(first) > width or "\n" in source else ""
    return repr(first[:width]) + more


def first_difference(a: list[tuple[str, str]], b: list[tuple[str, str]], a_name: str, b_name: str) -> str | None:
    """A message naming the first cell where two cell lists differ, or None if they agree."""
    for i, (ca, cb) in enumerate(zip(a, b)):
        if ca != cb:
            if ca[0] != cb[0]:
                what = f"{a_name} has a {ca[0]} cell, {b_name} a {cb[0]} cell"
            else:
                what = "the sources differ"
            return (
                f"cell {i + 1} differs: {what}\n"
                f"  {a_name}: [{ca[0]}] {_excerpt(ca[1])}\n"
                f"  {b_name}: [{cb[0]}] {_excerpt(cb[1])}"
            )
    if len(a) != len(b):
        longer, name = (a, a_name) if len(a) > len(b) else (b, b_name)
        extra = longer[min(len(a), len(b))]
        return (
            f"{a_name} has {len(a)} cells, {b_name} has {len(b)}; "
            f"first extra cell (#{min(len(a), len(b)) + 1}, in {name}): [{extra[0]}] {_excerpt(extra[1])}"
        )
    return None


def compare_pair(py: Path, ipynb: Path) -> str | None:
    return first_difference(cells_of(py), cells_of(ipynb), py.name, ipynb.name)


def _pairs() -> list:
    stems: set[Path] = set()
    for folder in PAIRED_DIRS:
        for ext in ("*.py", "*.ipynb"):
            stems.update(p.with_suffix("") for p in (ROOT / folder).glob(ext))
    stems = {s for s in stems if not s.name.startswith(".")}
    if not stems:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks in notebooks/ or solutions/ yet"))]
    return [pytest.param(stem, id=str(stem.relative_to(ROOT))) for stem in sorted(stems)]


@pytest.mark.parametrize("stem", _pairs())
def test_pair_holds_the_same_cells(stem: Path):
    py, ipynb = stem.with_suffix(".py"), stem.with_suffix(".ipynb")
    rel = stem.relative_to(ROOT)
    assert py.exists(), f"{rel}.ipynb has no paired {rel}.py (the py:percent source)"
    assert ipynb.exists(), f"{rel}.py has no paired {rel}.ipynb: run `make notebooks`"
    difference = compare_pair(py, ipynb)
    assert difference is None, f"{rel}: .py and .ipynb are out of sync (run `make notebooks`): {difference}"


# --- the comparison itself, on files made here ----------------------------------------

PY_TEXT = """\
# %% [markdown]
# # A lesson

# %%
import math
x = math.pi

# %%
print(round(x, 2))
"""


def _write_pair(tmp_path: Path, nb: nbformat.NotebookNode) -> tuple[Path, Path]:
    py = tmp_path / "01_lesson.py"
    py.write_text(PY_TEXT, encoding="utf-8")
    ipynb = tmp_path / "01_lesson.ipynb"
    nbformat.write(nb, ipynb)
    return py, ipynb


def test_comparison_accepts_a_pair_that_differs_only_in_outputs_and_metadata(tmp_path):
    nb = jupytext.reads(PY_TEXT, fmt="py:percent")
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="3.14\n")]
    nb.cells[2].execution_count = 7
    nb.cells[2].metadata["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00Z"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    py, ipynb = _write_pair(tmp_path, nb)
    assert compare_pair(py, ipynb) is None


def test_comparison_names_the_first_differing_cell(tmp_path):
    nb = jupytext.reads(PY_TEXT, fmt="py:percent")
    nb.cells[2].source = "print(round(x, 3))"
    py, ipynb = _write_pair(tmp_path, nb)
    message = compare_pair(py, ipynb)
    assert message is not None
    assert message.startswith("cell 3 differs: the sources differ")
    assert "print(round(x, 2))" in message and "print(round(x, 3))" in message


def test_comparison_notices_a_changed_cell_type(tmp_path):
    nb = jupytext.reads(PY_TEXT, fmt="py:percent")
    nb.cells[0] = nbformat.v4.new_code_cell(nb.cells[0].source)
    py, ipynb = _write_pair(tmp_path, nb)
    message = compare_pair(py, ipynb)
    assert message is not None and message.startswith("cell 1 differs")
    assert "markdown" in message and "code" in message


def test_comparison_notices_a_missing_cell(tmp_path):
    nb = jupytext.reads(PY_TEXT, fmt="py:percent")
    del nb.cells[2]
    py, ipynb = _write_pair(tmp_path, nb)
    message = compare_pair(py, ipynb)
    assert message is not None
    assert "01_lesson.py has 3 cells, 01_lesson.ipynb has 2" in message
    assert "print(round(x, 2))" in message
