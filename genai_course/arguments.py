"""What a ``genai-course`` command line may say: argparse types with their limits.

Each type turns one argument's text into a value or refuses it with a line that names what is
wrong and what is allowed ("must be at most 1,000,000 (got 100,000,000)"), which argparse prints
as ``genai-course: error: argument -n: ...`` with exit code 2. The limits are set where a larger
value stops being a request and starts being a mistake: memory, time, or a number nobody means.
"""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = [
    "MAX_STEPS", "MAX_SAMPLES", "SAMPLE_CHUNK", "MAX_EVALUATE", "MAX_SEED", "MAX_SMOKE_S", "MAX_TIMEOUT_S", "MAX_JOBS",
    "MAX_TUNE_S", "MAX_TRIALS", "whole", "positive_int", "at_most", "seed", "number", "seconds", "study_seconds", "guidance",
]

MAX_STEPS = 1_000_000  # train --steps: the lessons' runs take 500-12,000
MAX_SAMPLES = 1_000_000  # sample -n (drawn SAMPLE_CHUNK at a time, so memory stays flat)
MAX_FLOW_STEPS = 1000  # sample --steps of a flow model: 100 already matches the ODE at 1,000
SAMPLE_CHUNK = 10_000
MAX_EVALUATE = 10_000  # evaluate -n: its tests keep every sample's distances to the training set
MAX_SEED = 2**32 - 1
MAX_SMOKE_S = 600.0  # check --seconds
MAX_TIMEOUT_S = 86_400  # grade --timeout and --limit: a day
MAX_TUNE_S = 7 * 86_400  # tune --seconds: a week
MAX_TRIALS = 10_000  # tune --trials
MAX_JOBS = 64  # grade --jobs: each job is a learner process at a time


def whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})") from None


def positive_int(text: str) -> int:
    value = whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number (got {value})")
    return value


def at_most(limit: int, advice: str = "") -> Callable[[str], int]:
    """An argparse type: a positive whole number up to ``limit``."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit:,} (got {value:,}){advice}")
        return value

    return parse


def seed(text: str) -> int:
    value = whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {MAX_SEED:,} (got {value:,})")
    return value


def number(text: str, expected: str) -> float:
    """A real number (``float``), or the refusal ``expected a {expected} (got ...)``."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected} (got {text!r})") from None


def seconds(text: str) -> float:
    value = number(text, "a number of seconds")
    if not 0 < value <= MAX_SMOKE_S:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_SMOKE_S:.0f} seconds (got {text})")
    return value


def study_seconds(text: str) -> float:
    """tune --seconds: more than 0, at most a week."""
    value = number(text, "a number of seconds")
    if not 0 < value <= MAX_TUNE_S:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_TUNE_S} seconds (a week) (got {text})")
    return value


def guidance(text: str) -> float:
    value = number(text, "a number >= 0")
    if not 0 <= value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number >= 0 (got {text}); 0 is the plain conditional model")
    return value


MAX_BATCH = 1024  # serve --max-batch: samples in one forward pass
MAX_WAIT_MS = 1000.0  # serve --max-wait-ms: a second is already far too long to make a request wait


def port(text: str) -> int:
    """serve --port: 1 to 65535."""
    value = whole(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port from 1 to 65535 (got {value})")
    return value


def wait_ms(text: str) -> float:
    """serve --max-wait-ms: from 0 (take only what is already waiting) to MAX_WAIT_MS."""
    value = number(text, "a number of milliseconds")
    if not 0 <= value <= MAX_WAIT_MS:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_WAIT_MS:.0f} milliseconds (got {text})")
    return value
