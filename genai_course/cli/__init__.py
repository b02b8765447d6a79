"""The ``genai-course`` command line (also ``python -m genai_course``).

Every bad argument or unusable file ends in one clear line on stderr and exit code 2,
never a traceback.

``main`` parses (``parser``), sets the thread rule and runs the subcommand, whose function lives
with its kind: ``training`` (train, pretrain), ``adapting`` (adapt), ``sampling`` (sample), ``evaluation``
(evaluate, report) and ``workshop`` (check, build, grade). A command says what went wrong by raising
``UsageError`` (``files``); the argument types and their limits are ``genai_course.arguments``.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from .files import UsageError
from .parser import build_parser

__all__ = ["main", "UsageError", "build_parser"]


def main(argv: Sequence[str] | None = None) -> int:
    from .. import threads

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command != "build":  # build runs no PyTorch (grade's judges do; its learner processes use one thread each)
            try:
                threads.use("command")
            except ValueError as e:
                raise UsageError(str(e)) from None
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"genai-course {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genai-course: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `genai-course pretrain --list | head`: the reader stopped, not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so Python's final flush of stdout does not fail again
        return 0
    except OSError as e:  # the machine refused a file after the checks above: a full disk, a file that vanished
        where = f" ({e.filename})" if e.filename else ""
        print(f"genai-course {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        if isinstance(e, RuntimeError) and "can't allocate memory" not in str(e):  # torch's allocator; anything else is a bug
            raise
        print(f"genai-course {args.command}: error: out of memory: ask for less at once (a smaller -n)", file=sys.stderr)
        return 2
