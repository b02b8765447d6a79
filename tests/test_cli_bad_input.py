"""Every bad command line gives one line on stderr and exit code 2: one table over every subcommand.

Each row is an argument list and the exact message (after ``genai-course CMD: error: ``, or
argparse's own ``genai-course: error: ``) that must come back: zero, negative and huge counts,
missing, empty, corrupt and foreign files, unwritable outputs, unknown labels, languages and
model names. No row may print a traceback, write anything into the scratch folder, or write to
stdout. (``grade`` reports a missing or unreadable notebook as an unusable submission, in its
report, by design: tests/test_grading_run.py.)
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genai_course import arguments, cli
from test_cli import run_main

ROOT = Path(__file__).resolve().parents[1]
CORRUPT = random.Random(0).randbytes(2048)  # neither a zip nor a pickle
MODELS = {"gan": "gan-ring8", "cgan": "cgan-digits", "names": "charlm-names", "ddpm": "ddpm-digits", "ddpm2d": "ddpm-grid25",
          "vae": "vae-digits", "cvae": "cvae-digits", "base09": "digits-0to8", "flow": "flow-grid25"}
NINES = 154  # digits of class 9 in the training split: adapt may learn from at most NINES - 10 of them


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Tiny checkpoints of each kind (a few steps through the command line) and bad files of every kind."""
    root = tmp_path_factory.mktemp("bad-input-files")
    made = {}
    for key, model in MODELS.items():
        made[key] = root / f"{model}.pt"
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["train", model, "--steps", "3", "--out", str(made[key]), "--quiet"]) == 0
    made["empty"] = root / "empty.pt"
    made["empty"].write_bytes(b"")
    made["corrupt"] = root / "corrupt.pt"
    made["corrupt"].write_bytes(CORRUPT)
    made["foreign"] = root / "foreign.pt"  # a plain state_dict, not a course checkpoint
    torch.save({"weight": torch.zeros(2)}, made["foreign"])
    made["npz"] = root / "arrays.npz"
    np.savez(made["npz"], x=np.zeros(3))
    made["text"] = root / "notes.txt"
    made["text"].write_text("not a checkpoint\n")
    made["truncated"] = root / "truncated.pt"
    made["truncated"].write_bytes(made["gan"].read_bytes()[:-200])
    made["nopt"] = root / "no-checkpoints"
    made["nopt"].mkdir()
    made["junk"] = root / "only-junk"
    made["junk"].mkdir()
    (made["junk"] / "junk.pt").write_bytes(b"junk")
    return made


def rows(f: dict[str, Path], tmp: Path) -> list[tuple[str, list[str], str]]:
    """(id, argv, the message after 'error: ') for every bad command line."""
    gan, cgan, names, ddpm = (str(f[k]) for k in ("gan", "cgan", "names", "ddpm"))
    out, txt, pt = str(tmp / "out.npz"), str(tmp / "out.txt"), str(tmp / "m.pt")
    base09 = str(f["base09"])
    teach9 = ["adapt", base09, "--new-class", "9", "--examples", "5"]
    teach_names = ["adapt", names, "--examples", "5", "--new-language"]
    nope = tmp / "nope"
    proc = "/proc/genai-course-test"  # refuses every write, root's included
    return [
        # ---- train
        ("train: unknown model", ["train", "gan-ring9", "--out", pt],
         "unknown model 'gan-ring9': choose one of gan-ring8, gan-grid25, dcgan-digits, cgan-digits, vae-digits, cvae-digits, "
         "digits-0to8, charlm-names, ddpm-ring8, ddpm-grid25, ddpm-digits, flow-grid25, rectified-grid25, latent-flow-digits"),
        ("train: zero steps", ["train", "gan-ring8", "--steps", "0"], "argument --steps: must be a positive whole number (got 0)"),
        ("train: negative steps", ["train", "gan-ring8", "--steps", "-3"], "argument --steps: must be a positive whole number (got -3)"),
        ("train: huge steps", ["train", "gan-ring8", "--steps", "1000000000000"], "argument --steps: must be at most 1,000,000 (got 1,000,000,000,000)"),
        ("train: text steps", ["train", "gan-ring8", "--steps", "ten"], "argument --steps: expected a whole number (got 'ten')"),
        ("train: negative seed", ["train", "gan-ring8", "--seed", "-1"], "argument --seed: must be a whole number from 0 to 4,294,967,295 (got -1)"),
        ("train: huge seed", ["train", "gan-ring8", "--seed", "99999999999999999999999"],
         "argument --seed: must be a whole number from 0 to 4,294,967,295 (got 99,999,999,999,999,999,999,999)"),
        ("train: zero accumulate", ["train", "gan-ring8", "--accumulate", "0"], "argument --accumulate: must be a positive whole number (got 0)"),
        ("train: huge accumulate", ["train", "gan-ring8", "--steps", "1", "--accumulate", "1000000", "--out", pt],
         "batch_size 256 cannot be cut into 1 process(es) x 1000000 micro-batch(es): it must be a multiple of 1000000"),
        ("train: unknown precision", ["train", "gan-ring8", "--precision", "fp16"],
         "argument --precision: invalid choice: 'fp16' (choose from fp32, bf16)"),
        ("train: unknown device", ["train", "gan-ring8", "--device", "tpu", "--out", pt],
         "device must be None, 'cpu', 'auto', 'cuda' (or 'cuda:N') or 'mps' (got 'tpu')"),
        ("train: zero checkpoint-every", ["train", "gan-ring8", "--checkpoint-every", "0"],
         "argument --checkpoint-every: must be a positive whole number (got 0)"),
        ("train: out in a missing folder", ["train", "gan-ring8", "--out", str(nope / "m.pt")],
         f"cannot write checkpoint {nope / 'm.pt'}: folder {nope} does not exist"),
        ("train: out is a folder", ["train", "gan-ring8", "--out", str(tmp)], f"checkpoint {tmp} is a folder; give a file name"),
        ("train: out unwritable", ["train", "gan-ring8", "--out", f"{proc}.pt"],
         f"cannot write checkpoint {proc}.pt: folder /proc is not writable (No such file or directory)"),
        ("train: resume a corrupt file", ["train", "gan-ring8", "--resume", "--out", str(f["corrupt"])],
         f"cannot resume: {f['corrupt']} is not a readable course checkpoint (neither a zip archive nor a pickle: it starts with the bytes "
         f"{CORRUPT[:8].hex(' ')})"),
        ("train: resume another model", ["train", "gan-grid25", "--resume", "--out", gan],
         f"cannot resume: {gan} holds gan-ring8 seed 0, not gan-grid25 seed 0"),
        ("train: resume a one-go model", ["train", "charlm-names", "--resume", "--out", pt],
         "charlm-names trains in one go: its checkpoint holds the weights only, so --checkpoint-every and --resume do not apply"),
        ("train: --from for a model of data", ["train", "gan-ring8", "--from", gan, "--out", pt],
         "--from is for the models that learn from another (rectified-grid25, latent-flow-digits); gan-ring8 learns from data"),
        ("train: reflow a GAN", ["train", "rectified-grid25", "--from", gan, "--out", pt],
         f"--from {gan}: rectified-grid25 reflows a trained flow-grid25 (the same network, on grid25); got gan-ring8"),
        ("train: latents of a cVAE", ["train", "latent-flow-digits", "--from", str(f["cvae"]), "--out", pt],
         f"--from {f['cvae']}: latent-flow-digits learns in the latents of a trained vae-digits (4 latents, unconditional); got cvae-digits"),
        ("train: --from a missing file", ["train", "rectified-grid25", "--from", str(tmp / "missing.pt"), "--out", pt],
         f"checkpoint {tmp / 'missing.pt'} does not exist"),
        # ---- sample: counts, seeds and files
        ("sample: zero samples", ["sample", gan, "-n", "0", "--out", out], "argument -n: must be a positive whole number (got 0)"),
        ("sample: negative samples", ["sample", gan, "-n", "-5", "--out", out], "argument -n: must be a positive whole number (got -5)"),
        ("sample: fractional samples", ["sample", gan, "-n", "2.5", "--out", out], "argument -n: expected a whole number (got '2.5')"),
        ("sample: huge samples", ["sample", gan, "-n", "100000000", "--out", out],
         "argument -n: must be at most 1,000,000 (got 100,000,000): write several files with different --seed"),
        ("sample: no -n", ["sample", gan, "--out", out], "the following arguments are required: -n"),
        ("sample: no --out", ["sample", gan, "-n", "5"], "the following arguments are required: --out"),
        ("sample: huge seed", ["sample", gan, "-n", "5", "--seed", str(2**64), "--out", out],
         f"argument --seed: must be a whole number from 0 to 4,294,967,295 (got {2**64:,})"),
        ("sample: missing checkpoint", ["sample", str(tmp / "missing.pt"), "-n", "5", "--out", out], f"checkpoint {tmp / 'missing.pt'} does not exist"),
        ("sample: checkpoint is a folder", ["sample", str(tmp), "-n", "5", "--out", out], f"checkpoint {tmp} is a folder, not a file"),
        ("sample: empty checkpoint", ["sample", str(f["empty"]), "-n", "5", "--out", out],
         f"{f['empty']} is not a readable course checkpoint (the file is empty)"),
        ("sample: corrupt checkpoint", ["sample", str(f["corrupt"]), "-n", "5", "--out", out],
         f"{f['corrupt']} is not a readable course checkpoint (neither a zip archive nor a pickle: it starts with the bytes "
         f"{CORRUPT[:8].hex(' ')})"),
        ("sample: foreign checkpoint", ["sample", str(f["foreign"]), "-n", "5", "--out", out],
         f"{f['foreign']} is not a genai-course checkpoint (no 'genai-course-checkpoint' marker)"),
        ("sample: an npz as checkpoint", ["sample", str(f["npz"]), "-n", "5", "--out", out],
         f"{f['npz']} is not a readable course checkpoint (a zip archive of NumPy arrays (an .npz file?), not one torch.save wrote: it holds x.npy)"),
        ("sample: a text file as checkpoint", ["sample", str(f["text"]), "-n", "5", "--out", out],
         f"{f['text']} is not a readable course checkpoint (a text file, not a torch.save file: it starts 'not a checkpoint\\n')"),
        ("sample: truncated checkpoint", ["sample", str(f["truncated"]), "-n", "5", "--out", out],
         f"{f['truncated']} is not a readable course checkpoint (a damaged or cut-short zip archive: the end of the file, where a zip "
         "lists its contents, is missing)"),
        ("sample: out in a missing folder", ["sample", gan, "-n", "5", "--out", str(nope / "out.npz")],
         f"cannot write output file {nope / 'out.npz'}: folder {nope} does not exist"),
        ("sample: out under a file", ["sample", gan, "-n", "5", "--out", str(f["text"]) + "/out.npz"],
         f"cannot write output file {f['text']}/out.npz: {f['text']} is a file, not a folder"),
        ("sample: out is a folder", ["sample", gan, "-n", "5", "--out", str(tmp)], f"output file {tmp} is a folder; give a file name"),
        ("sample: out unwritable", ["sample", gan, "-n", "5", "--out", f"{proc}.npz"],
         f"cannot write output file {proc}.npz: folder /proc is not writable (No such file or directory)"),
        ("sample: images into a .txt", ["sample", gan, "-n", "5", "--out", txt], f"output file {txt} should end in .npz"),
        # ---- sample: labels, languages and options for the wrong model
        ("sample: label on an unconditional model", ["sample", gan, "-n", "5", "--label", "3", "--out", out],
         "model gan-ring8 is not conditional: it takes no --label"),
        ("sample: label on an unconditional VAE", ["sample", str(f["vae"]), "-n", "5", "--label", "3", "--out", out],
         "model vae-digits is not conditional: it takes no --label"),
        ("sample: label on an unconditional DDPM", ["sample", str(f["ddpm2d"]), "-n", "5", "--label", "3", "--out", out],
         "model ddpm-grid25 is not conditional: it takes no --label"),
        ("sample: DDPM label too big", ["sample", ddpm, "-n", "5", "--label", "12", "--out", out],
         "--label must be a class from 0 to 9 for ddpm-digits (got 12)"),
        ("sample: digit label too big", ["sample", cgan, "-n", "5", "--label", "10", "--out", out],
         "--label must be a class from 0 to 9 for cgan-digits (got 10)"),
        ("sample: negative digit label", ["sample", cgan, "-n", "5", "--label", "-1", "--out", out],
         "--label must be a class from 0 to 9 for cgan-digits (got -1)"),
        ("sample: digit label in words", ["sample", cgan, "-n", "5", "--label", "seven", "--out", out],
         "--label must be a whole number for cgan-digits (got 'seven')"),
        ("sample: unknown language", ["sample", names, "-n", "5", "--label", "fr_FR", "--out", txt],
         "unknown language 'fr_FR': choose one of en_US, de_DE, es_ES, it_IT, nl_NL, sv_SE, tr_TR, el_GR (or an index 0-7)"),
        ("sample: names into an .npz", ["sample", names, "-n", "5", "--out", out], f"output file {out} should end in .txt (one name a line) for charlm-names"),
        ("sample: zero temperature", ["sample", names, "-n", "5", "--temperature", "0", "--out", txt],
         "temperature must be a number > 0 (got 0.0); 1.0 samples the model as trained"),
        ("sample: infinite temperature", ["sample", names, "-n", "5", "--temperature", "inf", "--out", txt],
         "temperature must be a number > 0 (got inf); 1.0 samples the model as trained"),
        ("sample: zero top-k", ["sample", names, "-n", "5", "--top-k", "0", "--out", txt], "argument --top-k: must be a positive whole number (got 0)"),
        ("sample: temperature for images", ["sample", gan, "-n", "5", "--temperature", "0.5", "--out", out],
         "--temperature and --top-k are for text models; gan-ring8 draws points"),
        ("sample: temperature for a DDPM", ["sample", ddpm, "-n", "5", "--temperature", "0.5", "--out", out],
         "--temperature and --top-k are for text models; ddpm-digits draws images"),
        ("sample: DDIM steps for names", ["sample", names, "-n", "5", "--steps", "3", "--out", txt],
         "--steps: for diffusion and flow models only; charlm-names is neither"),
        ("sample: guidance for a GAN", ["sample", gan, "-n", "5", "--guidance", "1", "--out", out],
         "--guidance: for diffusion and flow models only; gan-ring8 is neither"),
        ("sample: guidance without a label", ["sample", ddpm, "-n", "5", "--guidance", "2", "--out", out],
         "--guidance needs --label (a class to guide towards) and a conditional model; ddpm-digits was given no --label"),
        ("sample: negative guidance", ["sample", ddpm, "-n", "5", "--label", "3", "--guidance", "-1", "--out", out],
         "argument --guidance: must be a number >= 0 (got -1); 0 is the plain conditional model"),
        ("sample: guidance on an unconditional DDPM", ["sample", str(f["ddpm2d"]), "-n", "5", "--guidance", "2", "--out", out],
         "--guidance needs --label (a class to guide towards) and a conditional model; ddpm-grid25 is not conditional"),
        ("sample: zero DDIM steps", ["sample", ddpm, "-n", "5", "--steps", "0", "--out", out], "argument --steps: must be a positive whole number (got 0)"),
        ("sample: more DDIM steps than the model has", ["sample", ddpm, "-n", "5", "--steps", "1000000", "--out", out],
         "--steps must be at most the model's 200 diffusion steps (got 1000000)"),
        ("sample: ancestral with fewer steps", ["sample", ddpm, "-n", "5", "--sampler", "ancestral", "--steps", "20", "--out", out],
         "the ancestral sampler takes all 200 steps; use --sampler ddim for fewer"),
        ("sample: unknown sampler", ["sample", ddpm, "-n", "5", "--sampler", "heun", "--out", out],
         "argument --sampler: invalid choice: 'heun' (choose from ancestral, ddim, euler, midpoint)"),
        ("sample: a flow's sampler for a DDPM", ["sample", ddpm, "-n", "5", "--sampler", "euler", "--out", out],
         "--sampler euler is a flow model's; ddpm-digits is a diffusion model: 'ancestral' or 'ddim'"),
        ("sample: a DDPM's sampler for a flow", ["sample", str(f["flow"]), "-n", "5", "--sampler", "ddim", "--out", out],
         "--sampler ddim is a diffusion model's; flow-grid25 is a flow model: 'euler' or 'midpoint'"),
        ("sample: too many flow steps", ["sample", str(f["flow"]), "-n", "5", "--steps", "1001", "--out", out],
         "--steps must be at most 1000 ODE steps for a flow model (got 1001)"),
        ("sample: zero flow steps", ["sample", str(f["flow"]), "-n", "5", "--steps", "0", "--out", out],
         "argument --steps: must be a positive whole number (got 0)"),
        ("sample: guidance on an unconditional flow", ["sample", str(f["flow"]), "-n", "5", "--guidance", "1", "--out", out],
         "--guidance needs --label (a class to guide towards) and a conditional model; flow-grid25 is not conditional"),
        ("sample: a label for the grid's flow", ["sample", str(f["flow"]), "-n", "5", "--label", "1", "--out", out],
         "model flow-grid25 is not conditional: it takes no --label"),
        ("sample: a base for a whole model", ["sample", gan, "-n", "5", "--base", gan, "--out", out],
         f"{gan} holds a whole model (gan-ring8), not an adapter: it takes no base checkpoint"),
        # ---- evaluate
        ("evaluate: missing checkpoint", ["evaluate", str(tmp / "missing.pt")], f"checkpoint {tmp / 'missing.pt'} does not exist"),
        ("evaluate: empty checkpoint", ["evaluate", str(f["empty"])], f"{f['empty']} is not a readable course checkpoint (the file is empty)"),
        ("evaluate: foreign checkpoint", ["evaluate", str(f["foreign"])], f"{f['foreign']} is not a genai-course checkpoint (no 'genai-course-checkpoint' marker)"),
        ("evaluate: too few samples", ["evaluate", gan, "-n", "1"], "n must be a whole number of at least 20 samples (got 1)"),
        ("evaluate: zero samples", ["evaluate", gan, "-n", "0"], "argument -n: must be a positive whole number (got 0)"),
        ("evaluate: huge samples", ["evaluate", gan, "-n", "1000000000"], "argument -n: must be at most 10,000 (got 1,000,000,000)"),
        ("evaluate: negative seed", ["evaluate", gan, "--seed", "-2"], "argument --seed: must be a whole number from 0 to 4,294,967,295 (got -2)"),
        # ---- report
        ("report: missing folder", ["report", "--runs", str(nope)],
         f"no folder {nope}: train models first (genai-course train MODEL writes runs/MODEL-seedS.pt)"),
        ("report: runs is a file", ["report", "--runs", str(f["text"])], f"--runs {f['text']} is a file, not a folder of checkpoints"),
        ("report: no checkpoints", ["report", "--runs", str(f["nopt"])],
         f"no checkpoints (*.pt) in {f['nopt']}: train models first with 'genai-course train MODEL'"),
        ("report: only unreadable checkpoints", ["report", "--runs", str(f["junk"]), "--out", str(tmp / "r.md")],
         f"none of the checkpoints in {f['junk']} could be read ({f['junk'] / 'junk.pt'}: {f['junk'] / 'junk.pt'} is not a readable "
         "course checkpoint (a text file, not a torch.save file: it starts 'junk'))"),
        ("report: figure not a png", ["report", "--runs", str(f["junk"]), "--out", str(tmp / "r.md"), "--figure", str(tmp / "r.jpg")],
         f"figure {tmp / 'r.jpg'} should end in .png"),
        ("report: out unwritable", ["report", "--runs", str(f["junk"]), "--out", f"{proc}.md"],
         f"cannot write report {proc}.md: folder /proc is not writable (No such file or directory)"),
        # ---- check
        ("check: negative seconds", ["check", "--seconds", "-3"], "argument --seconds: must be more than 0 and at most 600 seconds (got -3)"),
        ("check: zero seconds", ["check", "--seconds", "0"], "argument --seconds: must be more than 0 and at most 600 seconds (got 0)"),
        ("check: not a number of seconds", ["check", "--seconds", "nan"], "argument --seconds: must be more than 0 and at most 600 seconds (got nan)"),
        ("check: huge seconds", ["check", "--seconds", "1e9"], "argument --seconds: must be more than 0 and at most 600 seconds (got 1e9)"),
        ("check: seconds in words", ["check", "--seconds", "five"], "argument --seconds: expected a number of seconds (got 'five')"),
        ("check: pretrained is a file", ["check", "--pretrained", str(f["text"])],
         f"--pretrained {f['text']} is a file, not a folder: give the folder `genai-course pretrain` wrote (default runs/pretrained)"),
        ("check: missing pretrained folder", ["check", "--pretrained", str(nope)],
         f"--pretrained {nope} is no folder: give the folder `genai-course pretrain` wrote (default runs/pretrained)"),
        # ---- pretrain
        ("pretrain: unknown run", ["pretrain", "05x", "--out", str(nope)],
         "no lesson run is called '05x': give a lesson (05, 06, 07, 08, 09, 10, 11, 13, 14, 15, 16), a model (vanilla, gan-grid25, no-decay, packed, "
         "dcgan-digits, dcgan-gaussian-z, cgan-digits, vae-digits, vae-2d, cvae-digits, charlm-names, ddpm-grid25, ddpm-digits, digits-0to8, "
         "flow-grid25, rectified-grid25, latent-flow-digits) or --all; --list shows every run"),
        ("pretrain: nothing named", ["pretrain", "--out", str(nope)],
         "say what to train: --all, or lessons (05), models (dcgan-digits) or runs; --list shows them"),
        ("pretrain: out is a file", ["pretrain", "05", "--out", str(f["text"])], f"--out {f['text']} is a file, not a folder"),
        ("pretrain: out unwritable", ["pretrain", "05", "--out", proc], f"cannot make the folder {proc} (No such file or directory)"),
        # ---- tune
        ("tune: unknown model", ["tune", "gan-ring9", "--trials", "1", "--seconds", "1"],
         "cannot tune 'gan-ring9': choose one of vae-digits, charlm-names, dcgan-digits, cgan-digits, ddpm-digits"),
        ("tune: a model it does not search", ["tune", "gan-ring8", "--trials", "1", "--seconds", "1"],
         "cannot tune 'gan-ring8' (the other models are not searched): choose one of vae-digits, charlm-names, dcgan-digits, "
         "cgan-digits, ddpm-digits"),
        ("tune: zero trials", ["tune", "vae-digits", "--trials", "0", "--seconds", "1"], "argument --trials: must be a positive whole number (got 0)"),
        ("tune: huge trials", ["tune", "vae-digits", "--trials", "100000", "--seconds", "1"], "argument --trials: must be at most 10,000 (got 100,000)"),
        ("tune: no trials", ["tune", "vae-digits", "--seconds", "1"], "the following arguments are required: --trials"),
        ("tune: zero seconds", ["tune", "vae-digits", "--trials", "1", "--seconds", "0"],
         "argument --seconds: must be more than 0 and at most 604800 seconds (a week) (got 0)"),
        ("tune: not a number of seconds", ["tune", "vae-digits", "--trials", "1", "--seconds", "nan"],
         "argument --seconds: must be more than 0 and at most 604800 seconds (a week) (got nan)"),
        ("tune: zero budget", ["tune", "vae-digits", "--trials", "1", "--seconds", "1", "--budget", "0"],
         "argument --budget: must be more than 0 and at most 604800 seconds (a week) (got 0)"),
        ("tune: zero steps", ["tune", "vae-digits", "--trials", "1", "--seconds", "1", "--steps", "0"],
         "argument --steps: must be a positive whole number (got 0)"),
        ("tune: study is a folder", ["tune", "vae-digits", "--trials", "1", "--seconds", "1", "--study", str(tmp)],
         f"study file {tmp} is a folder; give a file name"),
        ("tune: study in a missing folder", ["tune", "vae-digits", "--trials", "1", "--seconds", "1", "--study", str(nope / "s.db")],
         f"cannot write study file {nope / 's.db'}: folder {nope} does not exist"),
        ("tune: study is not a study", ["tune", "vae-digits", "--trials", "1", "--seconds", "1", "--study", str(f["text"])],
         f"--study {f['text']} is not a study file (SQLite): give a new file name"),
        # ---- adapt (a different or missing base of an adapter: tests/test_cli_adapt.py)
        ("adapt: unknown method", [*teach9, "--method", "prune", "--out", pt],
         "argument --method: invalid choice: 'prune' (choose from finetune, replay, lora, embedding)"),
        ("adapt: no method", [*teach9, "--out", pt], "the following arguments are required: --method"),
        ("adapt: no --out", [*teach9, "--method", "lora"], "the following arguments are required: --out"),
        ("adapt: no --examples", ["adapt", base09, "--new-class", "9", "--method", "lora", "--out", pt],
         "the following arguments are required: --examples"),
        ("adapt: zero examples", ["adapt", base09, "--new-class", "9", "--examples", "0", "--method", "lora", "--out", pt],
         "argument --examples: must be a positive whole number (got 0)"),
        ("adapt: more examples than there are", ["adapt", base09, "--new-class", "9", "--examples", "1000", "--method", "lora", "--out", pt],
         f"examples must be a whole number from 1 to {NINES - 10} (the training split has {NINES} digits of class 9, and some must "
         "stay unseen to judge by; got 1000)"),
        ("adapt: neither class nor language", ["adapt", base09, "--examples", "5", "--method", "lora", "--out", pt],
         "say what to teach: --new-class K (a conditional digits VAE) or --new-language LOCALE (the names model)"),
        ("adapt: both class and language", [*teach9, "--new-language", "fi_FI", "--method", "lora", "--out", pt],
         "say what to teach: --new-class K (a conditional digits VAE) or --new-language LOCALE (the names model)"),
        ("adapt: a class it cannot learn next", ["adapt", base09, "--new-class", "7", "--examples", "5", "--method", "lora", "--out", pt],
         "digits-0to8 knows the digits 0-8: the class it can learn next is 9 (got 7)"),
        ("adapt: a class in words", ["adapt", base09, "--new-class", "nine", "--examples", "5", "--method", "lora", "--out", pt],
         "argument --new-class: expected a whole number (got 'nine')"),
        ("adapt: a model that knows every digit", ["adapt", str(f["cvae"]), "--new-class", "10", "--examples", "5", "--method", "lora",
                                                   "--out", pt], "cvae-digits already knows every digit 0-9: there is no new class to teach it"),
        ("adapt: a class for an unconditional VAE", ["adapt", str(f["vae"]), "--new-class", "0", "--examples", "5", "--method", "lora",
                                                     "--out", pt],
         f"--new-class takes a conditional digits VAE (a cVAE such as digits-0to8); {f['vae']} holds vae-digits, an unconditional VAE"),
        ("adapt: a class for a GAN", ["adapt", cgan, "--new-class", "10", "--examples", "5", "--method", "lora", "--out", pt],
         f"--new-class takes a conditional digits VAE (a cVAE such as digits-0to8); {cgan} holds cgan-digits, not a VAE"),
        ("adapt: a class for the names model", ["adapt", names, "--new-class", "8", "--examples", "5", "--method", "lora", "--out", pt],
         f"--new-class takes a conditional digits VAE (a cVAE such as digits-0to8); {names} holds charlm-names, not a VAE "
         "(a new language is --new-language LOCALE)"),
        ("adapt: a language for a digits model", ["adapt", base09, "--new-language", "fi_FI", "--examples", "5", "--method", "lora",
                                                  "--out", pt],
         f"--new-language takes the names model (charlm-names); {base09} holds digits-0to8, not a names model"),
        ("adapt: a known language", [*teach_names, "de_DE", "--method", "lora", "--out", pt],
         "charlm-names already knows de_DE (its languages: en_US, de_DE, es_ES, it_IT, nl_NL, sv_SE, tr_TR, el_GR): choose one it has not seen"),
        ("adapt: not a locale", [*teach_names, "finnish", "--method", "lora", "--out", pt],
         "unknown locale 'finnish': give a faker locale such as fi_FI"),
        ("adapt: a language in another alphabet", [*teach_names, "da_DK", "--method", "lora", "--out", pt],
         "da_DK's names use letters charlm-names has never seen (Øæø): its character embeddings fit only its own alphabet; "
         "choose a language written in it, such as fi_FI"),
        ("adapt: a locale faker lacks", [*teach_names, "zz_ZZ", "--method", "lora", "--out", pt],
         "faker has no person provider for locale 'zz_ZZ'"),
        ("adapt: rank without lora", [*teach9, "--method", "embedding", "--rank", "2", "--out", pt],
         "--rank is the LoRA adapters' rank: for --method lora only (got --method embedding)"),
        ("adapt: zero rank", [*teach9, "--method", "lora", "--rank", "0", "--out", pt], "argument --rank: must be a positive whole number (got 0)"),
        ("adapt: rank above a layer's side", [*teach9, "--method", "lora", "--rank", "9", "--out", pt],
         "rank 9 is more than this layer's smaller side (8): a low-rank update must be smaller than the layer"),
        ("adapt: zero steps", [*teach9, "--method", "lora", "--steps", "0", "--out", pt], "argument --steps: must be a positive whole number (got 0)"),
        ("adapt: missing checkpoint", ["adapt", str(tmp / "missing.pt"), "--new-class", "9", "--examples", "5", "--method", "lora", "--out", pt],
         f"checkpoint {tmp / 'missing.pt'} does not exist"),
        ("adapt: corrupt checkpoint", ["adapt", str(f["corrupt"]), "--new-class", "9", "--examples", "5", "--method", "lora", "--out", pt],
         f"{f['corrupt']} is not a readable course checkpoint (neither a zip archive nor a pickle: it starts with the bytes "
         f"{CORRUPT[:8].hex(' ')})"),
        ("adapt: foreign checkpoint", ["adapt", str(f["foreign"]), "--new-class", "9", "--examples", "5", "--method", "lora", "--out", pt],
         f"{f['foreign']} is not a genai-course checkpoint (no 'genai-course-checkpoint' marker)"),
        ("adapt: out over the checkpoint", [*teach9, "--method", "finetune", "--out", base09],
         f"--out {base09} is the checkpoint being adapted: write the adaptation to another file"),
        ("adapt: out in a missing folder", [*teach9, "--method", "lora", "--out", str(nope / "m.pt")],
         f"cannot write checkpoint {nope / 'm.pt'}: folder {nope} does not exist"),
        # ---- build
        ("build: missing root", ["build", "--root", str(nope)], f"no solutions/ folder in {nope} (is --root the course folder?)"),
        ("build: root is a file", ["build", "--root", str(f["text"])], f"no solutions/ folder in {f['text']} (is --root the course folder?)"),
        # ---- grade
        ("grade: zero timeout", ["grade", str(tmp), "--timeout", "0"], "argument --timeout: must be a positive whole number (got 0)"),
        ("grade: huge timeout", ["grade", str(tmp), "--timeout", "10000000"], "argument --timeout: must be at most 86,400 (got 10,000,000)"),
        ("grade: zero jobs", ["grade", str(tmp), "--jobs", "0"], "argument --jobs: must be a positive whole number (got 0)"),
        ("grade: huge jobs", ["grade", str(tmp), "--jobs", "100000"], "argument --jobs: must be at most 64 (got 100,000)"),
        ("grade: negative limit", ["grade", str(tmp), "--limit", "-1"], "argument --limit: must be a positive whole number (got -1)"),
        ("grade: no paths", ["grade"], "the following arguments are required: paths"),
        ("grade: report of a missing class", ["grade", str(nope), "--report", str(tmp / "c.csv")],
         f"no folder {nope}: expected {nope}/<learner>/NN_name.ipynb or {nope}/<learner>__NN_name.ipynb"),
        ("grade: report of several folders", ["grade", str(tmp), str(nope), "--report", str(tmp / "c.csv")],
         "--report grades one folder of submissions (DIR/<learner>/NN_name.ipynb or DIR/<learner>__NN_name.ipynb), got 2 paths"),
        # ---- serve, keys, verify, encrypt (lesson 15)
        ("serve: missing checkpoint", ["serve", str(nope / "m.pt"), "--keys", str(tmp / "k.json")], f"checkpoint {nope / 'm.pt'} does not exist"),
        ("serve: folder for a checkpoint", ["serve", str(tmp), "--keys", str(tmp / "k.json")], f"checkpoint {tmp} is a folder, not a file"),
        ("serve: corrupt checkpoint", ["serve", str(f["corrupt"]), "--keys", str(tmp / "k.json")],
         f"{f['corrupt']} is not a readable course checkpoint (neither a zip archive nor a pickle: it starts with the bytes "
         f"{CORRUPT[:8].hex(' ')})"),
        ("serve: foreign checkpoint", ["serve", str(f["foreign"]), "--keys", str(tmp / "k.json")],
         f"{f['foreign']} is not a genai-course checkpoint (no 'genai-course-checkpoint' marker)"),
        ("serve: damaged key file", ["serve", str(f["cvae"]), "--keys", str(f["text"])],
         f"key file {f['text']} is damaged: not the JSON that 'genai-course keys' writes"),
        ("serve: zero port", ["serve", str(f["cvae"]), "--port", "0"], "argument --port: must be a TCP port from 1 to 65535 (got 0)"),
        ("serve: huge batch", ["serve", str(f["cvae"]), "--max-batch", "5000"], "argument --max-batch: must be at most 1,024 (got 5,000)"),
        ("serve: negative wait", ["serve", str(f["cvae"]), "--max-wait-ms", "-1"],
         "argument --max-wait-ms: must be from 0 to 1000 milliseconds (got -1)"),
        ("serve: no checkpoint", ["serve"], "the following arguments are required: CKPT"),
        ("keys: unknown scope", ["keys", "add", "a", "--scopes", "foo:bar", "--keys", str(tmp / "k.json")],
         "scope 'foo:bar' is not one of model:NAME, label:SPEC, max:N or admin"),
        ("keys: max of zero", ["keys", "add", "a", "--scopes", "model:* max:0", "--keys", str(tmp / "k.json")],
         "scope 'max:0': max takes a whole number of samples from 1 to 10000"),
        ("keys: backwards range", ["keys", "add", "a", "--scopes", "model:* label:5-2", "--keys", str(tmp / "k.json")],
         "scope 'label:5-2': a range runs from low to high (e.g. label:0-4)"),
        ("keys: quota per hour", ["keys", "add", "a", "--scopes", "model:*", "--quota", "10/hour", "--keys", str(tmp / "k.json")],
         "quota '10/hour' should read N/min with N from 1 to 1,000,000 (e.g. 60/min)"),
        ("keys: bad name", ["keys", "add", "a b", "--scopes", "model:*", "--keys", str(tmp / "k.json")],
         "key name 'a b' should be 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit"),
        ("keys: revoke an unknown key", ["keys", "revoke", "bob", "--keys", str(tmp / "k.json")],
         f"no live key called bob in {tmp / 'k.json'} (live keys: none)"),
        ("keys: damaged key file", ["keys", "list", "--keys", str(f["text"])],
         f"key file {f['text']} is damaged: not the JSON that 'genai-course keys' writes"),
        ("keys: no action", ["keys"], "the following arguments are required: action"),
        ("verify: missing signing key", ["verify", str(f["npz"]), "--signing-key", str(nope / "s.key")],
         f"signing key {nope / 's.key'} does not exist (the server makes one on its first start)"),
        ("verify: not a signing key", ["verify", str(f["npz"]), "--signing-key", str(f["text"])],
         f"signing key {f['text']} should hold 64 hex digits (32 bytes)"),
        ("encrypt: nothing to encrypt", ["encrypt"], "give the checkpoint to encrypt (or --new-key to make a key)"),
        ("encrypt: a key and a checkpoint", ["encrypt", str(f["cvae"]), "--new-key"],
         "--new-key makes a key and encrypts nothing: give no checkpoint with it"),
        # ---- no command, unknown command
        ("no command", [], "the following arguments are required: command"),
        ("unknown command", ["serv"], "argument command: invalid choice: 'serv' (choose from train, sample, evaluate, report, check, "
         "pretrain, tune, adapt, serve, keys, verify, encrypt, build, grade)"),
    ]


def _ids() -> list[str]:
    return [row[0] for row in rows({k: Path(k) for k in [*MODELS, "empty", "corrupt", "foreign", "npz", "text", "truncated",
                                                         "nopt", "junk"]}, Path("tmp"))]


@pytest.mark.parametrize("case", _ids())
def test_a_bad_command_line_is_one_line_and_exit_code_2(case, files, tmp_path, capsys):
    (argv, message), = [(argv, message) for name, argv, message in rows(files, tmp_path) if name == case]
    code, out, err = run_main(argv, capsys)
    command = argv[0] if argv and argv[0] in cli.build_parser()._subparsers._group_actions[0].choices else None  # type: ignore[union-attr]
    argparse_error = message.startswith(("argument ", "the following arguments"))
    prefix = f"genai-course {command}: error: " if command and not argparse_error else "genai-course: error: "
    if "invalid choice" in message:  # argparse quotes the choices in some Python versions, not in others
        err = err.replace("'", "").replace("invalid choice: ", "invalid choice: '").replace(" (choose", "' (choose")
    assert (code, out, err) == (2, "", f"{prefix}{message}\n")
    assert os.listdir(tmp_path) == []  # nothing written, not even a temporary file


def test_every_subcommand_has_rows():
    commands = cli.build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    covered = {name.split(":")[0] for name in _ids() if ":" in name}
    assert covered == set(commands), set(commands) - covered


@pytest.mark.parametrize(
    "args, message",
    [
        (["sample", "corrupt.pt", "-n", "5", "--out", "out.npz"], "genai-course sample: error: corrupt.pt is not a readable course checkpoint ("),
        (["sample", "corrupt.pt", "-n", "100000000", "--out", "out.npz"], "genai-course: error: argument -n: must be at most 1,000,000"),
        (["check", "--seconds", "-3"], "genai-course: error: argument --seconds: must be more than 0 and at most 600 seconds (got -3)"),
    ],
    ids=["corrupt-checkpoint", "huge-n", "negative-seconds"],
)
def test_python_dash_m_exits_2_with_one_line(args, message, tmp_path):
    """The same through `python -m genai_course`, a fresh process: the exit code the shell sees."""
    (tmp_path / "corrupt.pt").write_bytes(random.Random(1).randbytes(2048))
    done = subprocess.run([sys.executable, "-m", "genai_course", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def test_samples_beyond_one_chunk_are_drawn_in_chunks(files, tmp_path, capsys, monkeypatch):
    """-n above arguments.SAMPLE_CHUNK is drawn a chunk at a time (memory stays flat): labels keep their
    turn across chunks, and the first chunk is the same draw as a run of that size."""
    monkeypatch.setattr(arguments, "SAMPLE_CHUNK", 7)
    code, _, err = run_main(["sample", str(files["cgan"]), "-n", "25", "--out", str(tmp_path / "a.npz")], capsys)
    assert code == 0, err
    a = np.load(tmp_path / "a.npz")
    assert a["x"].shape == (25, 1, 8, 8) and a["y"].tolist() == [k % 10 for k in range(25)]
    code, _, err = run_main(["sample", str(files["cgan"]), "-n", "7", "--out", str(tmp_path / "b.npz")], capsys)
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "b.npz")["x"], a["x"][:7])
    code, _, err = run_main(["sample", str(files["names"]), "-n", "17", "--out", str(tmp_path / "n.txt")], capsys)
    assert code == 0, err
    assert len((tmp_path / "n.txt").read_text(encoding="utf-8").splitlines()) == 17
