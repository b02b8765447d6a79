"""genai-course adapt: a digits-0to8 checkpoint learns the 9s, the names model a new language, by each
method; what it writes takes every command (an adapter loads its base by sha256). Tiny runs: a
200-step base, 50-step adaptations."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from genai_course import adapt, checkpoints, cli, models
from genai_course.cli.parser import ADAPT_METHODS
from test_cli import run_main

TRAINABLE = {"finetune": 173_128, "replay": 173_128, "lora": 9_336, "embedding": 512}  # lesson 14's cVAE of 0-9


def _quiet(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """From a scratch folder: `train digits-0to8 --steps 200 --out base.pt`, then `adapt base.pt --new-class 9
    --examples 20 --method M --steps 50 --out M.pt` for each method, with relative paths as a learner types them."""
    root = tmp_path_factory.mktemp("cli-adapt")
    cwd, printed = os.getcwd(), {}
    os.chdir(root)
    try:
        assert _quiet(["train", "digits-0to8", "--steps", "200", "--out", "base.pt", "--quiet"])[0] == 0
        for method in adapt.METHODS:
            code, printed[method] = _quiet(["adapt", "base.pt", "--new-class", "9", "--examples", "20", "--method", method,
                                            "--steps", "50", "--out", f"{method}.pt", "--quiet"])
            assert code == 0
    finally:
        os.chdir(cwd)
    return SimpleNamespace(root=root, base=root / "base.pt", printed=printed, path=lambda m: root / f"{m}.pt")


def test_the_parser_knows_the_methods_and_the_base_model():
    assert ADAPT_METHODS == adapt.METHODS
    parser = cli.build_parser()
    assert "adapt" in parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert "digits-0to8" in parser._subparsers._group_actions[0].choices["train"].format_help()  # type: ignore[union-attr]


@pytest.mark.parametrize("method", adapt.METHODS)
def test_adapt_prints_one_summary_line(digits, method):
    line = digits.printed[method]
    size = digits.path(method).stat().st_size
    rank = " (rank 4)" if method == "lora" else ""
    kind = "whole model" if method in ("finetune", "replay") else "adapter of base.pt"
    pattern = (rf"adapted digits-0to8 to class 9 by {method}{re.escape(rank)}, 20 examples, 50 steps, seed 0 in \d+\.\d s: "
               rf"{TRAINABLE[method]:,} trainable parameters; new class 9: accuracy \d+\.\d%; old classes: accuracy \d+\.\d% "
               rf"\(base 100\.0%\); {size:,} bytes \({kind}\) written to {method}\.pt\n")
    assert re.fullmatch(pattern, line), line


@pytest.mark.parametrize("method", adapt.METHODS)
def test_every_method_samples_the_new_class(digits, method, tmp_path, capsys):
    code, out, err = run_main(["sample", str(digits.path(method)), "--label", "9", "-n", "16", "--out", str(tmp_path / "x.npz")], capsys)
    assert (code, err) == (0, ""), err
    assert out == f"wrote 16 samples of digits-0to8+9 to {tmp_path / 'x.npz'} (array x, shape (16, 1, 8, 8), array y, shape (16,))\n"
    a = np.load(tmp_path / "x.npz")
    assert a["x"].shape == (16, 1, 8, 8) and a["x"].dtype == np.float32 and a["y"].tolist() == [9] * 16
    assert 0 <= a["x"].min() and a["x"].max() <= 1
    code, _, err = run_main(["sample", str(digits.path(method)), "-n", "20", "--out", str(tmp_path / "all.npz")], capsys)
    assert code == 0 and np.load(tmp_path / "all.npz")["y"].tolist() == [k % 10 for k in range(20)]


@pytest.mark.parametrize("method", ["finetune", "replay"])
def test_finetune_and_replay_write_an_ordinary_checkpoint(digits, method):
    ckpt = checkpoints.load_run(digits.path(method))
    assert ckpt["model"] == "digits-0to8+9" and ckpt["extra"]["kind"] == "vae" and ckpt["config"]["vae"]["num_classes"] == 10
    assert ckpt["extra"]["adapted"]["base"]["sha256"] == checkpoints.sha256(digits.base)
    model = models.load_model(str(digits.path(method)))
    assert isinstance(model, models.TrainedVAE) and model.num_classes == 10
    assert sum(p.numel() for p in model.vae.parameters()) == TRAINABLE[method]


@pytest.mark.parametrize("method", ["lora", "embedding"])
def test_lora_and_embedding_write_a_small_adapter(digits, method):
    path = digits.path(method)
    ckpt = checkpoints.load(path)  # weights_only
    tensors = ckpt["weights"]["adapter"]
    assert set(ckpt["weights"]) == {"adapter"} and sum(t.numel() for t in tensors.values()) == TRAINABLE[method]
    assert all(name.endswith((".A", ".B", ".column")) for name in tensors)  # no base weight
    assert path.stat().st_size < adapt.state_bytes(tensors) + 16_384
    assert ckpt["extra"]["base"] == {"model": "digits-0to8", "kind": "vae", "sha256": checkpoints.sha256(digits.base),
                                     "path": "base.pt", "relative": "base.pt"}
    assert ckpt["config"]["method"] == method and ckpt["config"]["new_class"] == 9 and ckpt["config"]["examples"] == 20


def test_an_adapters_samples_record_the_adapter_and_its_base(digits, tmp_path, capsys):
    code, _, _ = run_main(["sample", str(digits.path("lora")), "-n", "4", "--label", "9", "--out", str(tmp_path / "x.npz")], capsys)
    assert code == 0
    record = json.loads(str(np.load(tmp_path / "x.npz")["provenance"]))
    assert record["checkpoint_sha256"] == checkpoints.sha256(digits.path("lora")) and record["model"] == "digits-0to8+9"
    assert record["adapted_from"] == {"checkpoint": str(digits.base), "method": "lora", "model": "digits-0to8",
                                      "sha256": checkpoints.sha256(digits.base)}


def test_every_command_takes_an_adapter(digits, capsys):
    code, out, err = run_main(["evaluate", str(digits.path("embedding")), "-n", "100", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["model"] == "digits-0to8+9"


def test_a_different_base_is_refused_and_the_right_one_accepted(digits, tmp_path, capsys):
    for f in ("lora.pt", "lora.pt.sha256"):
        shutil.copy(digits.root / f, tmp_path / f)
    adapter = tmp_path / "lora.pt"
    other = str(digits.path("finetune"))
    code, out, err = run_main(["sample", str(adapter), "-n", "4", "--base", other, "--out", str(tmp_path / "x.npz")], capsys)
    want, got = checkpoints.sha256(digits.base), checkpoints.sha256(other)
    assert (code, out) == (2, "")
    assert err == (f"genai-course sample: error: {adapter} was adapted from a base with sha256 {want[:12]}..., but {other} has "
                   f"{got[:12]}...: pass the checkpoint it was adapted from\n")
    code, out, err = run_main(["sample", str(adapter), "-n", "4", "--out", str(tmp_path / "x.npz")], capsys)  # base.pt is not here
    assert (code, out) == (2, "")
    assert err == (f"genai-course sample: error: {adapter} is an adapter of digits-0to8 (sha256 {want[:12]}...), whose checkpoint is "
                   f"missing: looked for {tmp_path / 'base.pt'} or base.pt; pass it with --base PATH\n")
    code, out, err = run_main(["sample", str(adapter), "-n", "4", "--base", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x.npz")], capsys)
    assert (code, out, err) == (2, "", f"genai-course sample: error: base checkpoint {tmp_path / 'nope.pt'} does not exist\n")
    code, _, err = run_main(["sample", str(adapter), "-n", "4", "--base", str(digits.base), "--out", str(tmp_path / "x.npz")], capsys)
    assert code == 0, err
    code, out, err = run_main(["evaluate", str(adapter), "-n", "100", "--base", str(digits.base), "--json"], capsys)
    assert code == 0 and json.loads(out)["model"] == "digits-0to8+9", err  # evaluate takes --base too
    code, out, err = run_main(["evaluate", str(adapter), "-n", "100", "--base", other], capsys)
    assert (code, out) == (2, "") and err.startswith("genai-course evaluate: error: ") and "pass the checkpoint it was adapted from" in err
    shutil.copy(digits.path("finetune"), tmp_path / "base.pt")  # another model under the base's name, beside the adapter
    code, out, err = run_main(["sample", str(adapter), "-n", "4", "--out", str(tmp_path / "y.npz")], capsys)
    assert (code, out, err.count("\n")) == (2, "", 1) and "pass the checkpoint it was adapted from" in err
    assert not (tmp_path / "y.npz").exists()


def test_the_names_model_learns_a_language(tmp_path, capsys):
    names, fi = tmp_path / "names.pt", tmp_path / "fi.pt"
    assert _quiet(["train", "charlm-names", "--steps", "20", "--out", str(names), "--quiet"])[0] == 0
    code, out, err = run_main(["adapt", str(names), "--new-language", "fi_FI", "--examples", "50", "--method", "lora", "--rank", "2",
                               "--steps", "10", "--out", str(fi), "--quiet"], capsys)
    assert code == 0, err
    assert re.fullmatch(rf"adapted charlm-names to language fi_FI by lora \(rank 2\), 50 examples, 10 steps, seed 0 in \d+\.\d s: "
                        rf"[\d,]+ trainable parameters; new language fi_FI: \d\.\d{{3}} nats/char; old languages: \d\.\d{{3}} "
                        rf"nats/char \(base \d\.\d{{3}}\); {fi.stat().st_size:,} bytes \(adapter of {re.escape(str(names))}\) "
                        rf"written to {re.escape(str(fi))}\n", out), out
    code, out, err = run_main(["sample", str(fi), "--label", "fi_FI", "-n", "5", "--out", str(tmp_path / "fi.txt")], capsys)
    assert code == 0, err
    assert out.startswith("wrote 5 names of charlm-names+fi_FI to ")
    drawn = (tmp_path / "fi.txt").read_text(encoding="utf-8").splitlines()
    assert len(drawn) == 5 and all(isinstance(n, str) for n in drawn)
    record = json.loads((tmp_path / "fi.txt.provenance.json").read_text(encoding="utf-8"))
    assert record["adapted_from"]["sha256"] == checkpoints.sha256(names) and record["options"]["label"] == "fi_FI"
    model = models.load_model(str(fi))
    assert model.data.locales == (*models.get_recipe("charlm-names").locales, "fi_FI")
    code, _, err = run_main(["adapt", str(fi), "--new-language", "id_ID", "--examples", "30", "--method", "embedding", "--steps", "5",
                             "--out", str(tmp_path / "id.pt"), "--quiet"], capsys)  # an adapter of an adapter: a chain of bases
    assert code == 0, err
    chained = models.load_model(str(tmp_path / "id.pt"))
    assert chained.data.locales[-2:] == ("fi_FI", "id_ID") and chained.name == "charlm-names+fi_FI+id_ID"
    assert chained.sample(4, labels="fi_FI", generator=torch.Generator().manual_seed(0)) == model.sample(
        4, labels="fi_FI", generator=torch.Generator().manual_seed(0))  # an embedding row moved nothing the first adapter made
    code, _, err = run_main(["adapt", str(names), "--new-language", "fi_FI", "--examples", "50", "--method", "finetune",
                             "--steps", "5", "--out", str(tmp_path / "whole.pt"), "--quiet"], capsys)
    assert code == 0, err
    whole = models.load_model(str(tmp_path / "whole.pt"))
    assert isinstance(whole, models.TrainedCharLM) and whole.recipe.locales[-1] == "fi_FI"
    base = models.load_model(str(names))
    for m in (model, whole):  # the base's held-out names stay held out; the 50 examples are its only new training names
        assert m.data.heldout.names[: len(base.data.heldout)] == base.data.heldout.names
        assert m.data.train.names[: len(base.data.train)] == base.data.train.names and len(m.data.train) == len(base.data.train) + 50
    assert len(whole.sample(3, labels="fi_FI")) == 3
