"""pyproject.toml and environment.yml describe the same environment.

The pip install (``make setup``) and the conda/mamba/Binder install (``environment.yml``)
must ask for the same packages with the same version specifiers, and both must keep
PyTorch to the CPU build: torch's range admits the 2.13.0 CPU wheel and nothing newer.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"
MAKEFILE = ROOT / "Makefile"

# conda-forge package name -> Python distribution name, where they differ.
CONDA_TO_PIP = {"pytorch": "torch", "matplotlib-base": "matplotlib", "playwright-python": "playwright"}
# conda entries that are the environment's frame, not the project's dependencies.
CONDA_FRAME = {"python", "pip"}


def normalise(spec: str) -> str:
    """A version specifier in a canonical spelling: no spaces, clauses sorted."""
    return ",".join(sorted(str(s) for s in SpecifierSet(spec.replace(" ", ""))))


def pyproject_requirements() -> dict[str, str]:
    """Runtime requirements plus every extra: {distribution name: normalised specifier}."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    reqs: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in reqs, f"pyproject.toml lists {req.name} twice"
        reqs[name] = normalise(str(req.specifier))
    return reqs


def environment_entries(text: str) -> tuple[list[str], list[str]]:
    """The conda entries and the pip entries of an environment.yml's ``dependencies:``.

    A deliberately small parser for the file's plain layout: ``- item`` lines under
    ``dependencies:``, and a nested ``- pip:`` list. Comments and blank lines are skipped.
    """
    conda: list[str] = []
    pip: list[str] = []
    section = None  # None, "deps" or "pip"
    deps_indent = pip_indent = -1
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if section is None:
            if body == "dependencies:" and indent == 0:
                section = "deps"
            continue
        if indent == 0:  # the next top-level key ends the list
            break
        if not body.startswith("- "):
            raise ValueError(f"environment.yml: unexpected line in dependencies: {raw!r}")
        item = body[2:].strip()
        if section == "pip" and indent > pip_indent:
            pip.append(item)
            continue
        section = "deps"
        if deps_indent < 0:
            deps_indent = indent
        if item == "pip:":
            section, pip_indent = "pip", indent
        else:
            conda.append(item)
    if section is None:
        raise ValueError("environment.yml has no top-level 'dependencies:' list")
    return conda, pip


def parse_conda_spec(entry: str) -> tuple[str, str, str]:
    """``"pytorch >=2.2,<2.14 cpu_*"`` -> ``("pytorch", ">=2.2,<2.14", "cpu_*")``."""
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(?:([^\s]+)(?:\s+(\S+))?)?", entry)
    if not match:
        raise ValueError(f"environment.yml: cannot read the conda entry {entry!r}")
    name, version, build = match.group(1), match.group(2) or "", match.group(3) or ""
    return name, version, build


def environment_requirements() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """({distribution: normalised specifier}, {distribution: conda build}, local pip entries)."""
    conda, pip = environment_entries(ENVIRONMENT.read_text(encoding="utf-8"))
    reqs: dict[str, str] = {}
    builds: dict[str, str] = {}
    local: list[str] = []
    for entry in conda:
        name, version, build = parse_conda_spec(entry)
        if name in CONDA_FRAME:
            continue
        dist = canonicalize_name(CONDA_TO_PIP.get(name, name))
        assert dist not in reqs, f"environment.yml lists {name} twice"
        try:
            reqs[dist] = normalise(version)
        except InvalidSpecifier:
            pytest.fail(
                f"environment.yml: {name}: version {version!r} is not in the PEP 440 subset "
                "that conda and pip read alike (use >=, <, ==, != with commas)"
            )
        builds[dist] = build
    for entry in pip:
        if entry.startswith("-e ") or entry in {".", "./"}:
            local.append(entry)
            continue
        req = Requirement(entry)
        dist = canonicalize_name(req.name)
        assert dist not in reqs, f"environment.yml lists {req.name} twice"
        reqs[dist] = normalise(str(req.specifier))
    return reqs, builds, local


def describe(spec: str) -> str:
    return spec or "(any version)"


def test_environment_yml_matches_pyproject():
    wanted = pyproject_requirements()
    have, _, _ = environment_requirements()
    problems = []
    for name in sorted(set(wanted) | set(have)):
        if name not in have:
            problems.append(f"{name}: in pyproject.toml ({describe(wanted[name])}) but missing from environment.yml")
        elif name not in wanted:
            problems.append(f"{name}: in environment.yml ({describe(have[name])}) but missing from pyproject.toml")
        elif wanted[name] != have[name]:
            problems.append(
                f"{name}: pyproject.toml asks for {describe(wanted[name])}, "
                f"environment.yml for {describe(have[name])}"
            )
    assert not problems, "pyproject.toml and environment.yml disagree:\n  " + "\n  ".join(problems)


def test_environment_yml_installs_the_course_and_cpu_pytorch():
    _, builds, local = environment_requirements()
    assert local == ["-e ."], f"environment.yml should pip-install the course with '-e .' (found {local})"
    build = builds.get("torch", "")
    assert build.startswith("cpu"), (
        f"environment.yml must select conda-forge's CPU pytorch with a build string like "
        f"'cpu_*' (found {build or 'none'}): without it a GPU machine solves to a multi-GB CUDA build"
    )


def torch_requirement() -> Requirement:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    (line,) = [d for d in project["dependencies"] if canonicalize_name(Requirement(d).name) == "torch"]
    return Requirement(line)


@pytest.mark.parametrize("version", ["2.2.0", "2.13.0", "2.13.0+cpu"])
def test_torch_range_admits_the_cpu_wheel(version):
    spec = torch_requirement().specifier
    assert spec.contains(Version(version)), f"torch requirement {spec} rejects {version}"


@pytest.mark.parametrize("version", ["2.14.0", "2.14.0rc1", "2.14.1", "3.0.0"])
def test_torch_range_rejects_newer_releases(version):
    spec = torch_requirement().specifier
    assert not spec.contains(Version(version), prereleases=True), (
        f"torch requirement {spec} admits {version}: pip would fetch a newer (CUDA) build"
    )


def test_makefile_torch_pin_is_inside_the_range():
    match = re.search(r"^TORCH_PIN\s*\??=\s*(\S+)\s*$", MAKEFILE.read_text(encoding="utf-8"), re.M)
    assert match, "Makefile has no TORCH_PIN variable"
    pin = Requirement(match.group(1))
    assert canonicalize_name(pin.name) == "torch"
    (exact,) = [s.version for s in pin.specifier if s.operator == "=="]
    spec = torch_requirement().specifier
    assert spec.contains(exact), f"Makefile installs torch {exact}, which pyproject's {spec} rejects"


def test_installed_packages_satisfy_pyproject():
    """The environment the tests run in is one pyproject.toml allows (missing extras skip)."""
    problems, missing = [], []
    for name, spec in pyproject_requirements().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if not SpecifierSet(spec).contains(installed, prereleases=True):
            problems.append(f"{name} {installed} is installed, pyproject.toml asks for {spec}")
    assert not problems, "\n".join(problems)
    if missing:
        pytest.skip(f"not installed here: {', '.join(missing)}")


# --- the parser itself --------------------------------------------------------------


def test_parser_reads_nested_pip_list_and_stops_at_next_key():
    text = """\
name: x
channels:
  - conda-forge
dependencies:
  - python=3.11   # the interpreter
  # a comment line
  - pytorch >=2.2,<2.14 cpu_*
  - pip
  - pip:
      - -e .
      - rich>=13
prefix: /opt/env
"""
    conda, pip = environment_entries(text)
    assert conda == ["python=3.11", "pytorch >=2.2,<2.14 cpu_*", "pip"]
    assert pip == ["-e .", "rich>=13"]
    assert parse_conda_spec("pytorch >=2.2,<2.14 cpu_*") == ("pytorch", ">=2.2,<2.14", "cpu_*")
    assert parse_conda_spec("numpy") == ("numpy", "", "")


def test_normalise_ignores_order_and_spaces():
    assert normalise("<2.14, >=2.2") == normalise(">=2.2,<2.14")
    assert normalise(">=1.24") != normalise(">=1.25")
