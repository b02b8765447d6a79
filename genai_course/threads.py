"""How many CPU threads PyTorch uses: one rule for every process of the course.

The course's networks are small (a few hundred units, 8x8 images), so one training step is
a fraction of a millisecond of arithmetic, and several threads spend much of it waiting for
each other. A thread that waits spins on its core for a while before it sleeps: when another
program already keeps a core busy, two PyTorch threads on two cores slow each other down
many times over (the README's table, measured by ``make bench``).

The rule, ``recommended(role)``, from the cores this process may use and what it is:

* ``"lesson"`` (a lesson or exercise kernel) and ``"command"`` (``genai-course ...``): half
  the usable cores, at least 1 and at most 4 (2 cores: 1 thread; 4: 2; 8 or more: 4). The
  other half is left to JupyterLab, the browser and whatever else the machine runs.
* ``"test"`` (a test worker) and ``"rank"`` (one ``torchrun`` process): 1. The other workers
  or processes use the other cores, and one thread in every process adds up every sum in the
  same order, which is what makes results compared across processes equal bit for bit.

``$GENAI_COURSE_THREADS`` (a whole number >= 1) overrides the rule for every role; so does
PyTorch's own ``$OMP_NUM_THREADS`` when the course's variable is not set (``torchrun`` sets it
to 1 in each process). ``use(role)`` applies the number (``torch.set_num_threads``); nothing happens at import.
"""

from __future__ import annotations

import os
from typing import Mapping

__all__ = ["ENV", "ROLES", "MAX_THREADS", "usable_cores", "recommended", "use", "explain"]

ENV = "GENAI_COURSE_THREADS"
ROLES = ("lesson", "command", "test", "rank")
MAX_THREADS = 4  # beyond this the course's networks gain nothing measurable


def usable_cores() -> int:
    """The cores this process may run on (a container or ``taskset`` may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _from_env(env: Mapping[str, str]) -> tuple[int, str] | None:
    """(threads, variable) from $GENAI_COURSE_THREADS, else $OMP_NUM_THREADS; None when neither is set."""
    for name in (ENV, "OMP_NUM_THREADS"):
        text = env.get(name, "").strip()
        if not text:
            continue
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{name} must be a whole number of threads, at least 1 (got {text!r})")
        return value, name
    return None


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(map(repr, ROLES))} (got {role!r})")


def recommended(role: str = "lesson", cores: int | None = None, env: Mapping[str, str] | None = None) -> int:
    """Threads for a process of this ``role`` on ``cores`` usable cores (default: this machine's);
    ``env`` (default ``os.environ``) may override the rule. ValueError for an unknown role or a
    variable that is not a whole number >= 1."""
    _check_role(role)
    override = _from_env(os.environ if env is None else env)
    if override is not None:
        return override[0]
    if role in ("test", "rank"):
        return 1
    cores = usable_cores() if cores is None else cores
    return max(1, min(MAX_THREADS, cores // 2))


def use(role: str = "lesson") -> None:
    """Set PyTorch's thread count for this process by the rule (``recommended(role)`` says how many).

    Returns nothing, so that a lesson cell ending in it shows nothing (the number is the machine's)."""
    import torch  # here, not at import: the command line's argument errors come before torch loads

    threads = recommended(role)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def explain(role: str = "lesson", cores: int | None = None, env: Mapping[str, str] | None = None) -> str:
    """One line: the number for ``role`` and where it comes from (for the room check)."""
    _check_role(role)
    env = os.environ if env is None else env
    cores = usable_cores() if cores is None else cores
    threads = recommended(role, cores, env)
    unit = "thread" if threads == 1 else "threads"
    override = _from_env(env)
    if override is not None:
        return f"{threads} PyTorch {unit} for a {role} on {cores} cores, as ${override[1]} says"
    if role in ("test", "rank"):
        return f"1 PyTorch thread for a {role} on {cores} cores (one a process; ${ENV} overrides)"
    return f"{threads} PyTorch {unit} for a {role} on {cores} cores (half the cores, 1 to {MAX_THREADS}; ${ENV} overrides)"
