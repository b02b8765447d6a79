#!/usr/bin/env python3
"""Train the course's digit judge once and store it in the package.

    python scripts/freeze_judge.py [--check]

Trains ``metrics.train_digit_classifier()`` (the recipe in ``metrics.JUDGE_RECIPE``) on one
thread, writes ``genai_course/digit_judge.pt`` and its sha256 sidecar, and prints the sha256 to
put in ``metrics.JUDGE_SHA256``. ``--check`` writes nothing: it trains afresh and says whether
the result equals the stored judge (tests/test_metrics_judge.py does the same).
"""

from __future__ import annotations

import argparse
import sys

import torch

from genai_course import checkpoints, metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="train afresh and compare with the stored judge; write nothing")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the stored judge's thread count: sums in one order
    fresh = metrics.train_digit_classifier(**metrics.JUDGE_RECIPE)
    if args.check:
        stored, extra = metrics.load_digit_judge()
        same = all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), stored.state_dict().values()))
        print(f"fresh training {'equals' if same else 'differs from'} the stored judge (stored on {extra.get('cpu_capability')}, "
              f"{extra.get('threads')} thread; this machine: {torch.backends.cpu.get_cpu_capability()})")
        return 0 if same else 1
    path = metrics.save_digit_judge(fresh)
    print(f"wrote {path}; set metrics.JUDGE_SHA256 = \"{checkpoints.sha256(path)}\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
