"""Provenance: every file the command line writes says which model, checkpoint (by sha256) and seed made it."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genai_course import __version__, checkpoints, cli, models
from test_cli import run_main as run

MADE_BY = f"genai-course {__version__}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny checkpoints written by `genai-course train`: points, conditional digits, names."""
    root = tmp_path_factory.mktemp("runs")
    paths = {}
    for name, steps in (("gan-ring8", 5), ("cgan-digits", 2), ("charlm-names", 3)):
        paths[name] = root / f"{name}-seed0.pt"
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["train", name, "--steps", str(steps), "--out", str(paths[name]), "--quiet"]) == 0
    return root, paths


def assert_record(record: dict, checkpoint: Path, model: str, seed: int, command: str, options: dict) -> None:
    assert record["made_by"] == MADE_BY and record["command"] == command
    assert record["model"] == model and record["seed"] == seed
    assert record["checkpoint"] == str(checkpoint)
    assert record["checkpoint_sha256"] == checkpoints.sha256(checkpoint)  # the very file that made it
    assert record["checkpoint_sha256"] == checkpoint.with_name(checkpoint.name + ".sha256").read_text().split()[0]
    assert record["options"] == options


def test_sample_npz_holds_its_provenance(runs, tmp_path, capsys):
    _, paths = runs
    out = tmp_path / "s.npz"
    code, stdout, err = run(["sample", str(paths["cgan-digits"]), "-n", "4", "--label", "3", "--seed", "7", "--out", str(out)], capsys)
    assert code == 0 and err == ""
    with np.load(out) as npz:  # no allow_pickle needed: a 0-d unicode array
        assert npz["provenance"].shape == () and npz["provenance"].dtype.kind == "U"
        record = json.loads(npz["provenance"][()])
        assert npz["y"].tolist() == [3] * 4
    assert_record(record, paths["cgan-digits"], "cgan-digits", 7, "sample", {"n": 4, "label": 3})
    assert sorted(os.listdir(tmp_path)) == ["s.npz"]


def test_sample_diffusion_options_are_recorded(tmp_path, capsys):
    path = tmp_path / "d.pt"
    models.build("ddpm-ring8").save(str(path))
    out = tmp_path / "d.npz"
    assert run(["sample", str(path), "-n", "3", "--sampler", "ddim", "--steps", "4", "--out", str(out)], capsys)[0] == 0
    with np.load(out) as npz:
        record = json.loads(str(npz["provenance"]))
    assert_record(record, path, "ddpm-ring8", 0, "sample", {"n": 3, "label": None, "guidance": None, "sampler": "ddim", "steps": 4})


def test_sample_text_keeps_one_name_a_line_and_writes_a_sidecar(runs, tmp_path, capsys):
    _, paths = runs
    out = tmp_path / "names.txt"
    code, stdout, _ = run(["sample", str(paths["charlm-names"]), "-n", "5", "--label", "de_DE", "--temperature", "0.5", "--seed", "2", "--out", str(out)], capsys)
    assert code == 0 and stdout.rstrip().endswith("(UTF-8, one a line; provenance in names.txt.provenance.json)")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5  # the file itself: names only
    record = json.loads((tmp_path / "names.txt.provenance.json").read_text(encoding="utf-8"))
    assert_record(record, paths["charlm-names"], "charlm-names", 2, "sample", {"n": 5, "label": "de_DE", "temperature": 0.5, "top_k": None})
    assert sorted(os.listdir(tmp_path)) == ["names.txt", "names.txt.provenance.json"]  # no temporary files


def test_evaluate_json_names_its_checkpoint(runs, capsys):
    _, paths = runs
    code, out, _ = run(["evaluate", str(paths["gan-ring8"]), "-n", "100", "--json"], capsys)
    assert code == 0
    assert_record(json.loads(out)["provenance"], paths["gan-ring8"], "gan-ring8", 0, "evaluate", {"n": 100})


def test_report_lists_every_checkpoint_with_its_hash_in_markdown_and_png(runs, tmp_path, capsys):
    root, paths = tmp_path, {}
    for name in ("gan-ring8", "charlm-names"):  # quick to evaluate; the digit models' provenance is the same code
        paths[name] = root / runs[1][name].name
        for suffix in ("", ".sha256"):
            (root / (paths[name].name + suffix)).write_bytes((runs[0] / (paths[name].name + suffix)).read_bytes())
    code, out, err = run(["report", "--runs", str(root)], capsys)
    assert code == 0, err
    text = (root / "report.md").read_text(encoding="utf-8")
    section = text.split("\n## Provenance\n", 1)[1]
    assert f"Made by {MADE_BY}" in section and "`genai-course report --seed 0`" in section
    for name, path in paths.items():
        model = models.load_model(str(path))
        assert f"| {path} | {name} | 0 | {model.step} | `{checkpoints.sha256(path)}` |" in section
    png = Image.open(root / "report.png")
    assert png.text["Software"] == MADE_BY
    records = json.loads(png.text["Provenance"])
    assert sorted(r["model"] for r in records) == sorted(paths)
    for r in records:
        assert_record(r, Path(r["checkpoint"]), r["model"], 0, "report", {})


def test_report_refuses_a_folder_whose_manifest_fails(tmp_path, capsys):
    good, bad = tmp_path / "a.pt", tmp_path / "b.pt"
    for p in (good, bad):
        models.build("gan-ring8").save(str(p))
    checkpoints.write_manifest([good, bad], tmp_path / checkpoints.MANIFEST)
    content = bytearray(bad.read_bytes())
    content[-100] ^= 0xFF
    bad.write_bytes(bytes(content))
    checkpoints.sidecar_path(bad).unlink()  # even without its sidecar, the manifest catches it
    code, out, err = run(["report", "--runs", str(tmp_path)], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"genai-course report: error: manifest {tmp_path / checkpoints.MANIFEST}: 1 of 2 files fail: b.pt changed (expected sha256 ")
    assert not (tmp_path / "report.md").exists()


def test_a_changed_checkpoint_is_refused_by_every_command_in_one_line(runs, tmp_path, capsys):
    _, paths = runs
    path = tmp_path / "x.pt"
    path.write_bytes(paths["gan-ring8"].read_bytes())
    checkpoints.sidecar_path(path).write_text(checkpoints.sidecar_path(paths["gan-ring8"]).read_text().replace(paths["gan-ring8"].name, "x.pt"))
    models.load_model(str(path))  # a faithful copy with its hash loads
    content = bytearray(path.read_bytes())
    content[-100] ^= 0xFF
    path.write_bytes(bytes(content))
    for argv in (["sample", str(path), "-n", "2", "--out", str(tmp_path / "s.npz")], ["evaluate", str(path)]):
        code, out, err = run(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert f"error: {path} does not match its hash file x.pt.sha256: expected sha256 " in err
    assert not (tmp_path / "s.npz").exists()
