"""Reading a submission: a notebook file (.ipynb or py:percent .py) and the checks its cells call.

Reading runs nothing: the grader parses submissions, it never executes them in its own process.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from .results import GradingError

__all__ = ["check_names", "read_submission"]

_CHECK_CALL = re.compile(r"\bchecks\.(\w+)\(")


def check_names(source: str) -> list[str]:
    """The checks a cell's code calls (``checks.<name>(``), in order; commented-out lines do not count."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    return _CHECK_CALL.findall(code)


def read_submission(path: Path):  # -> nbformat.NotebookNode
    """A submitted .ipynb or py:percent .py, read; GradingError (its one-line reason) if it is not a readable notebook."""
    import jupytext
    import nbformat

    if not path.is_file():
        raise GradingError("no such file" if not path.exists() else "not a file")
    suffix = path.suffix.lower()
    if suffix not in (".ipynb", ".py"):
        raise GradingError(f"not a notebook: expected a .ipynb or a py:percent .py file (got {suffix or 'no extension'})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. nbformat's MissingIDFieldWarning
            nb = nbformat.read(path, as_version=4) if suffix == ".ipynb" else jupytext.read(path, fmt="py:percent")
        cells = nb["cells"]
        if not isinstance(cells, list) or not all(isinstance(c.get("source"), str) for c in cells):
            raise ValueError("its cells are malformed")
    except Exception as e:
        detail = (str(e).strip().splitlines() or [""])[0][:200]
        raise GradingError(f"not a readable notebook ({type(e).__name__}: {detail})") from None
    return nb
