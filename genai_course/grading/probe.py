"""The learner's process: runs a submission's program (``grading.program``) and writes what each check's probe saw.

Started by ``grading.sandbox`` (``python -m genai_course.grading.probe``), in a folder of its
own, inside the sandbox where there is one. It reads one task, a JSON object, from stdin:

    {"steps": [["code", source], ["check", {"index": k, "name": ..., "arg": ...}], ...],
     "names": [a random name for each check], "start": <the first check to probe>, "cpu": <s>, "wall": <s>}

runs the code steps in one namespace, and for every check from ``start`` on evaluates its
argument there, runs the check's probe on it (``Exercise.probe``) and writes the observations
under that check's name in the current folder (``checks.observations.save``). Then it says
``k`` on its own stdout and waits until the grader answers ``k`` on its stdin: by then the grader
has read the files and removed them, so no later learner code can change them. It judges
nothing. Each probe may use ``cpu`` seconds of CPU time and ``wall`` seconds in all; past either,
the learner's code is interrupted and the observations say so. The learner's code sees neither
pipe (fds 0, 1 and 2 point to /dev/null) and what it prints goes nowhere.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
from typing import Any

__all__ = ["main"]


def main() -> None:
    answers, says = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    task = json.loads(answers.readline())
    null = os.open(os.devnull, os.O_RDWR)
    if not os.environ.get("GENAI_COURSE_GRADING_DEBUG"):
        os.dup2(null, 2)
    os.dup2(null, 1)
    os.dup2(null, 0)
    os.environ.setdefault("MPLBACKEND", "Agg")

    import torch

    torch.set_num_threads(1)  # CPU seconds measure the work, and two learners share two cores fairly

    from genai_course.checks import REGISTRY, OutOfTime
    from genai_course.checks.observations import save

    # what this process needs, held before any learner code runs (rebinding a module's names cannot reach these)
    registry = {name: copy.copy(exercise) for name, exercise in REGISTRY.items()}  # a learner's edit of REGISTRY misses these
    names, start = [str(n) for n in task["names"]], int(task["start"])
    cpu, wall = float(task["cpu"]), float(task["wall"])
    timers = hasattr(signal, "setitimer")  # POSIX; elsewhere only the grader's deadline stops a check

    def arm(cpu_s: float, wall_s: float) -> None:
        if timers:
            signal.setitimer(signal.ITIMER_PROF, cpu_s, 1.0 if cpu_s else 0)  # then every CPU second, for code that swallowed the first
            signal.setitimer(signal.ITIMER_REAL, wall_s, 1.0 if wall_s else 0)

    def out_of_cpu(signum: int, frame: Any) -> None:
        raise OutOfTime(f"your code used more than {cpu:g} s of CPU time (an endless loop?)")

    def out_of_wall(signum: int, frame: Any) -> None:
        raise OutOfTime(f"your code was still running after {wall:g} s (an endless loop, or waiting for something?)")

    namespace: dict[str, Any] = {"__name__": "__main__"}
    setup_error = None
    for kind, step in task["steps"]:
        if kind == "code":
            if setup_error is None:
                try:
                    exec(compile(step, "<exercise notebook>", "exec"), namespace)
                except BaseException as e:  # the course's own cells: a broken course or a broken sandbox
                    setup_error = f"the exercise notebook's own code failed before this check ({type(e).__name__}: {str(e)[:200]})"
            continue
        k, name = int(step["index"]), str(step["name"])
        if k < start:
            continue
        exercise = registry.get(name)
        if exercise is None:
            seen: dict[str, Any] = {"$stopped": f"this course has no check named {name}"}
        elif setup_error is not None:
            seen = {"$stopped": setup_error}
        else:
            if timers:
                signal.signal(signal.SIGPROF, out_of_cpu)
                signal.signal(signal.SIGALRM, out_of_wall)
            try:
                arm(cpu, wall)
                try:
                    fn = eval(compile(step["arg"], "<check cell>", "eval"), namespace)  # the template's own argument
                    seen = exercise.probe(fn)
                finally:
                    arm(0, 0)
            except OutOfTime as e:
                seen = {"$timed_out": str(e)}
            except BaseException as e:  # e.g. a NameError: the template's function is missing
                seen = {"$stopped": f"{type(e).__name__}: {str(e)[:200]}"}
        try:
            save(seen, ".", names[k])
        except Exception as e:  # observations that cannot be written: say so in their place
            save({"$stopped": f"the check's observations could not be written ({type(e).__name__})"}, ".", names[k])
        says.write(f"{k}\n".encode("ascii"))
        says.flush()
        while True:  # until the grader has taken them
            line = answers.readline()
            if not line:  # the grader is gone
                os._exit(1)
            if line.strip() == str(k).encode("ascii"):
                break
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
