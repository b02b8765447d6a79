"""The widgets package as a whole: what it exports, and that importing it runs nothing.

Each family has its own test file (test_widgets_points.py, _digits, _vae, _text, _diffusion,
_guidance, _diagrams, _adapt, _serving; the shared drawing kit in test_widgets_draw.py).
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from genai_course import widgets

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("points", "digits", "vae", "text", "diffusion", "guidance", "diagrams", "adapt", "serving", "flow")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_widget_is_exported_as_itself(family):
    module = importlib.import_module(f"genai_course.widgets.{family}")
    assert module.__all__, family
    for name in module.__all__:
        assert name in widgets.__all__ and getattr(widgets, name) is getattr(module, name), name


def test_the_package_exports_exactly_the_families_widgets():
    names = [n for family in FAMILIES for n in importlib.import_module(f"genai_course.widgets.{family}").__all__]
    assert sorted(widgets.__all__) == sorted(names) and len(set(names)) == len(names)
    assert all(callable(getattr(widgets, name)) for name in widgets.__all__)


def test_every_widget_the_lessons_call_is_exported():
    sources = [p for folder in ("notebooks", "solutions", "exercises") for p in sorted((ROOT / folder).glob("*.py"))]
    called = {name for p in sources for name in re.findall(r"\bwidgets\.(\w+)", p.read_text(encoding="utf-8"))}
    assert {"show_digits", "plot_points", "plot_decision", "reverse_scrubber"} <= called  # the scan finds them
    assert called <= set(widgets.__all__), called - set(widgets.__all__)


def test_import_runs_nothing_and_never_touches_pyplot():
    code = (
        "import sys, genai_course.widgets; "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported at import time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
