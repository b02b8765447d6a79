"""Build exercise notebooks from their solutions, and grade submitted notebooks apart from their code.

``build`` (``genai-course build``): each ``solutions/NN_name.py`` becomes ``exercises/NN_name.py``
and ``.ipynb``, every solution block a TODO. ``grade`` (``genai-course grade``): each submission is
graded apart: the course's own exercise notebook, holding only the learner's function bodies, runs
in a sandboxed process of its own that records what each check's probe saw; the checks' judges
decide in the grader's process, which never runs learner code. What a notebook prints never
decides a verdict; feedback is never a traceback and never quotes a solution. With ``--report``,
a class folder becomes one CSV row per learner and exercise.

The stages, one module each, from the ground up:

- ``results``: ExerciseResult, SubmissionResult and GradingError, what every stage speaks in;
- ``build``: exercises from solutions (the markers, ``--check``), and the lines a solution hides;
- ``notebook``: reading a submission, and which checks it calls;
- ``program``: the course's exercise notebook with only the learner's function bodies (``ast``);
- ``probe``: the learner's process: runs the program, writes each probe's observations;
- ``sandbox``: where that process runs (bubblewrap: no network, no files but its own), its limits;
- ``submission``: one submission: its processes, their observations read back, the judges' verdicts;
- ``workers``: submissions graded ``--jobs`` at once, in order, none left running when stopped;
- ``hide``: no line of a course solution in the feedback;
- ``report``: a class folder's submissions, the console report and the CSV;
- ``grade``: the command, from paths to the report and the exit code.

It imports ``genai_course.checks`` (the probes and judges) and nothing else of the course.
"""

from .build import (
    JUPYTEXT, KERNELSPEC, SOLUTION_ONLY, TODO_LINES, build_exercises, exercise_notebook, exercise_source, find_root, main_build,
    solution_only_lines,
)
from .grade import main_grade
from .hide import HIDDEN, hide_solutions
from .report import REPORT_COLUMNS, SYMBOLS, Submission, class_submissions, format_result, report_rows, write_report
from .results import ExerciseResult, GradingError, SubmissionResult
from .program import Program, build_program
from .sandbox import Limits, isolation
from .submission import grade_submission
from .workers import default_jobs

__all__ = [
    "GradingError", "ExerciseResult", "SubmissionResult", "Submission", "REPORT_COLUMNS", "exercise_source",
    "exercise_notebook", "find_root", "build_exercises", "grade_submission", "build_program", "Program", "Limits", "isolation", "class_submissions", "report_rows",
    "write_report", "solution_only_lines", "hide_solutions", "default_jobs", "format_result",
    "main_build", "main_grade", "HIDDEN", "SYMBOLS", "SOLUTION_ONLY", "TODO_LINES", "JUPYTEXT", "KERNELSPEC",
]
