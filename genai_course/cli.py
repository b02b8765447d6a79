"""The ``genai-course`` command line (also ``python -m genai_course``).

Every bad argument or unusable file ends in one clear line on stderr and exit code 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        self.exit(2, f"genai-course: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number (got {value})")
    return value


def _cmd_build(args: argparse.Namespace) -> int:
    from . import grading

    return grading.main_build(check=args.check, root=args.root)


def _cmd_grade(args: argparse.Namespace) -> int:
    from . import grading

    return grading.main_grade(args.paths, as_json=args.json, timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genai-course", description="Learn generative AI by building it.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("build", help="regenerate exercises/ from solutions/")
    p.add_argument("--check", action="store_true", help="only check that exercises/ is up to date (exit 1 if not)")
    p.add_argument("--root", default=None, help="course folder holding solutions/ and exercises/ (default: found from here)")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("grade", help="run exercise notebooks and report each exercise")
    p.add_argument("paths", nargs="+", help="notebooks (.ipynb or py:percent .py) or folders of them")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--timeout", type=_positive_int, default=120, help="seconds one cell may run (default 120)")
    p.set_defaults(func=_cmd_grade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"genai-course {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genai-course: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
