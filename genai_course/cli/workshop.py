"""The instructor's commands: ``genai-course check`` (is this room ready?), ``build`` (exercises from
solutions) and ``grade`` (submitted notebooks, or a class folder into a CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .files import UsageError, writable

__all__ = ["cmd_check", "cmd_build", "cmd_grade"]


def cmd_check(args: argparse.Namespace) -> int:
    from .. import roomcheck

    folder = Path(args.pretrained) if args.pretrained else None
    if folder is not None and not folder.is_dir():
        raise UsageError(f"--pretrained {folder} is {'a file, not a folder' if folder.exists() else 'no folder'}: "
                         "give the folder `genai-course pretrain` wrote (default runs/pretrained)")
    return roomcheck.main(smoke_seconds=args.seconds, pretrained_folder=folder)


def cmd_build(args: argparse.Namespace) -> int:
    from .. import grading

    return grading.main_build(check=args.check, root=args.root)


def cmd_grade(args: argparse.Namespace) -> int:
    from .. import grading

    report = None
    if args.report is not None:  # everything a user can get wrong is said before any grading starts
        if len(args.paths) != 1:
            raise UsageError(f"--report grades one folder of submissions (DIR/<learner>/NN_name.ipynb or DIR/<learner>__NN_name.ipynb), got {len(args.paths)} paths")
        try:
            grading.class_submissions(args.paths[0])
        except grading.GradingError as e:
            raise UsageError(str(e)) from None
        report = writable(args.report, "report")
    return grading.main_grade(args.paths, as_json=args.json, timeout=args.timeout, report=report, jobs=args.jobs, limit=args.limit)
