"""What runs in a learner's process: the course's exercise notebook, with only the learner's function bodies.

A submission is matched to the course's own exercise notebook (``exercises/NN_name.py``, the
*template*) by the checks it calls. The program the grader runs for it (``build_program``) is the
template's code cells, from the course and not from the submission:

- the setup cells (every code cell before the first exercise): the imports, the data, the helpers;
- each exercise cell, with the body of every function that the template leaves as a TODO (its
  ``raise NotImplementedError("exercise not attempted yet")``) replaced by the body of the
  learner's function of the same name, taken from the submission with ``ast``: nothing else the
  learner wrote (no cell of theirs, no top-level line, no decorator, no default value) is taken;
- each check cell, ``checks.name(arg)``, as a ``Check`` that the process probes.

The cells between exercises (pictures, demos) are not run: they decide nothing. Parsing a
submission runs none of it.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from .notebook import check_names, read_submission
from .results import GradingError

__all__ = ["Check", "Program", "templates", "template_for", "build_program"]

_TODO_MESSAGE = "exercise not attempted yet"  # the message of TODO_LINES' raise
_MAGIC = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class Check:
    """One check cell of the template: ``checks.<name>(<arg>)``; ``index`` numbers the checks from 0."""

    index: int
    name: str
    arg: str


@dataclass
class Program:
    """The code a learner's process runs, in order: ("code", source) and ("check", Check) steps.

    ``regions``: qualified name of each exercise function -> where its body came from ("learner",
    "template" when the submission has no such function, or a one-line reason it could not be read).
    """

    template: Path
    steps: list[tuple[str, object]] = field(default_factory=list)
    regions: dict[str, str] = field(default_factory=dict)

    @property
    def checks(self) -> list[Check]:
        return [c for kind, c in self.steps if kind == "check"]  # type: ignore[misc]


def _code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


@functools.lru_cache(maxsize=8)
def _templates(folder: str) -> dict[str, Path]:
    import jupytext

    found: dict[str, Path] = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.py")):
        for source in _code_cells(jupytext.read(path, fmt="py:percent")):
            for name in check_names(source):
                found.setdefault(name, path)
    return found


def templates(root: Path) -> dict[str, Path]:
    """Check name -> the course's exercise notebook (``root/exercises/NN_name.py``) that calls it."""
    folder = root / "exercises"
    if not folder.is_dir():
        raise GradingError(f"no exercises/ folder in {root}: the grader needs the course's exercise notebooks")
    return _templates(str(folder.resolve()))


def template_for(names: list[str], root: Path) -> Path:
    """The course exercise notebook whose checks most of ``names`` (a submission's check calls) are."""
    known = templates(root)
    votes: dict[Path, int] = {}
    for name in names:
        if name in known:
            votes[known[name]] = votes.get(known[name], 0) + 1
    if not votes:
        shown = ", ".join(sorted(set(names))[:3])
        raise GradingError(f"its checks ({shown}) are not the course's: is this one of the course's exercise notebooks?")
    return max(votes, key=lambda p: (votes[p], -sorted(known.values()).index(p)))


def _parse(source: str) -> ast.Module | None:
    """A cell's code as a module; IPython magics (%, !) are blanked. None if it does not parse."""
    text = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _functions(body: list[ast.stmt], prefix: str = "") -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions defined at the top of ``body`` and in its top-level classes, by qualified name (the last wins)."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[prefix + node.name] = node
        elif isinstance(node, ast.ClassDef) and not prefix:
            found.update(_functions(node.body, node.name + "."))
    return found


def _is_todo(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``fn`` holds the TODO's ``raise NotImplementedError("exercise not attempted yet")``."""
    for n in ast.walk(fn):
        if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call) and isinstance(n.exc.func, ast.Name):
            args = n.exc.args
            if (n.exc.func.id == "NotImplementedError" and len(args) == 1 and isinstance(args[0], ast.Constant)
                    and args[0].value == _TODO_MESSAGE):
                return True
    return False


def _learner_functions(nb) -> tuple[dict[str, ast.FunctionDef | ast.AsyncFunctionDef], dict[str, str]]:
    """The submission's functions by qualified name (later cells win), and the names of functions in cells that do not parse."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    broken: dict[str, str] = {}
    for k, source in enumerate(_code_cells(nb), 1):
        tree = _parse(source)
        if tree is None:
            for name in re.findall(r"^(?:async\s+)?def\s+(\w+)|^class\s+(\w+)", source, re.M):
                broken[name[0] or name[1]] = f"your code cell {k} that defines it has a syntax error"
            continue
        found.update(_functions(tree.body))
    return found, broken


def build_program(path: Path, root: Path) -> Program:
    """The program for the submission at ``path`` (see the module's docstring); GradingError if it cannot be graded."""
    import jupytext

    nb = read_submission(path)
    names = [n for source in _code_cells(nb) for n in check_names(source)]
    if not names:
        raise GradingError("no check cells (`checks.<exercise>(...)`): is this an exercise notebook?")
    template = template_for(names, root)
    cells = _code_cells(jupytext.read(template, fmt="py:percent"))
    learner, broken = _learner_functions(nb)
    program = Program(template)
    started = False
    for source in cells:
        calls = check_names(source)
        tree = ast.parse(source)
        if calls:
            for node in tree.body:
                call = node.value if isinstance(node, ast.Expr) else None
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
                        and call.func.value.id == "checks" and len(call.args) == 1):
                    program.steps.append(("check", Check(len(program.checks), call.func.attr, ast.unparse(call.args[0]))))
            started = True
            continue
        todo = {name: fn for name, fn in _functions(tree.body).items() if _is_todo(fn)}
        if todo:
            started = True
            for name, fn in todo.items():
                mine = learner.get(name)
                if mine is None:
                    program.regions[name] = broken.get(name.split(".")[-1], "template")
                    continue
                docstring = fn.body[:1] if ast.get_docstring(fn) is not None else []
                fn.body = docstring + [copy.deepcopy(stmt) for stmt in mine.body]
                program.regions[name] = "learner"
            program.steps.append(("code", ast.unparse(ast.fix_missing_locations(tree))))
        elif not started:
            program.steps.append(("code", source))
    if not program.checks:
        raise GradingError(f"the course's {template.name} has no check cells")
    return program
