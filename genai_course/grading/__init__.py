"""Build exercise notebooks from their solutions, and grade submitted notebooks.

``build`` (``genai-course build``): each ``solutions/NN_name.py`` becomes ``exercises/NN_name.py``
and ``.ipynb``, every solution block a TODO. ``grade`` (``genai-course grade``): each submission
runs in a fresh kernel, in a worker process under a hard time limit, and every check cell is
judged by what it printed or raised; feedback is never a traceback and never quotes a solution.
With ``--report``, a class folder becomes one CSV row per learner and exercise.

The stages, one module each, from the ground up:

- ``results``: ExerciseResult, SubmissionResult and GradingError, what every stage speaks in;
- ``build``: exercises from solutions (the markers, ``--check``), and the lines a solution hides;
- ``judge``: which checks a notebook calls, and each one's verdict from a run;
- ``run``: one notebook run cell by cell in a fresh kernel, within the cell timeout;
- ``workers``: submissions graded in worker processes, ``--jobs`` at once, each under ``--limit``;
- ``hide``: no line of a course solution in the feedback;
- ``report``: a class folder's submissions, the console report and the CSV;
- ``grade``: the command, from paths to the report and the exit code.

A ground-floor package: it imports nothing from ``genai_course`` outside itself.
"""

from .build import (
    JUPYTEXT, KERNELSPEC, SOLUTION_ONLY, TODO_LINES, build_exercises, exercise_notebook, exercise_source, find_root, main_build,
    solution_only_lines,
)
from .grade import main_grade
from .hide import HIDDEN, hide_solutions
from .report import REPORT_COLUMNS, SYMBOLS, Submission, class_submissions, format_result, report_rows, write_report
from .results import ExerciseResult, GradingError, SubmissionResult
from .run import GRACE, grade_notebook
from .workers import default_jobs, default_limit

__all__ = [
    "GradingError", "ExerciseResult", "SubmissionResult", "Submission", "REPORT_COLUMNS", "exercise_source",
    "exercise_notebook", "find_root", "build_exercises", "grade_notebook", "class_submissions", "report_rows",
    "write_report", "solution_only_lines", "hide_solutions", "default_jobs", "default_limit", "format_result",
    "main_build", "main_grade", "HIDDEN", "GRACE", "SYMBOLS", "SOLUTION_ONLY", "TODO_LINES", "JUPYTEXT", "KERNELSPEC",
]
