"""The ``genai-course`` argument parser: every subcommand, its arguments and their help.

argparse's own errors (a missing or malformed argument, refused by the types of
``genai_course.arguments``) are one line, ``genai-course: error: ...``, and exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import arguments as arg
from .adapting import cmd_adapt
from .evaluation import cmd_evaluate, cmd_report
from .sampling import cmd_sample
from .serving import DEFAULT_KEYS, cmd_encrypt, cmd_keys, cmd_serve, cmd_verify
from .training import cmd_pretrain, cmd_train
from .tuning import cmd_tune
from .workshop import cmd_build, cmd_check, cmd_grade

__all__ = ["build_parser", "ADAPT_METHODS"]

ADAPT_METHODS = ("finetune", "replay", "lora", "embedding")  # adapt.METHODS, spelled here so that parsing imports no torch


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        self.exit(2, f"genai-course: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genai-course", description="Learn generative AI by building it.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a course model with its lesson defaults")
    p.add_argument("model", help="one of: gan-ring8, gan-grid25, dcgan-digits, cgan-digits, vae-digits, cvae-digits, digits-0to8 (a cVAE of 0-8, lesson 14), charlm-names, ddpm-ring8, ddpm-grid25, ddpm-digits, flow-grid25, rectified-grid25, latent-flow-digits (lesson 16)")
    p.add_argument("--steps", type=arg.at_most(arg.MAX_STEPS), default=None, help=f"training steps (default: the lesson's; at most {arg.MAX_STEPS:,})")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=None, help="checkpoint file (default runs/MODEL-seedS.pt)")
    p.add_argument("--accumulate", type=arg.positive_int, default=1, help="micro-batches a step, gradients accumulated (default 1); the batch must divide evenly")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: mixed precision with autocast (default fp32)")
    p.add_argument("--device", default=None, help="cpu (default), auto, cuda or mps")
    p.add_argument("--checkpoint-every", type=arg.positive_int, default=None, metavar="K", help="also write the checkpoint every K steps, so a killed run can --resume")
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists (same model, seed and --accumulate); the result equals an uninterrupted run")
    p.add_argument("--from", dest="source", default=None, metavar="CKPT", help="lesson 16's models that learn from another: a flow-grid25 checkpoint for rectified-grid25 to reflow, a vae-digits checkpoint for latent-flow-digits (default: train that model here first)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a checkpoint into an .npz file (points, images) or a .txt file (text)")
    p.add_argument("checkpoint", help="a checkpoint written by 'genai-course train'")
    p.add_argument("-n", type=arg.at_most(arg.MAX_SAMPLES, ": write several files with different --seed"), required=True,
                   help=f"number of samples (at most {arg.MAX_SAMPLES:,})")
    p.add_argument(
        "--label", default=None,
        help="conditional models only: a class 0-9 for digits, a locale such as de_DE for names (default: every one in turn)",
    )
    p.add_argument("--temperature", type=float, default=None, help="text models: > 0 (default: the model's, 0.8 for charlm-names; lower is safer, higher wilder)")
    p.add_argument("--top-k", type=arg.positive_int, default=None, help="text models: draw only from the k most probable characters (k >= 1)")
    p.add_argument("--guidance", type=arg.guidance, default=None, help="conditional diffusion and flow models with --label: the classifier-free guidance scale w >= 0 (default: the model's, 2 for ddpm-digits and latent-flow-digits; 0 is plain conditional)")
    p.add_argument("--sampler", choices=["ancestral", "ddim", "euler", "midpoint"], default=None, help="diffusion models: 'ancestral' (every step, fresh noise; the default) or 'ddim' (fewer deterministic steps); flow models: 'euler' (1 network call a step) or 'midpoint' (2; the default)")
    p.add_argument("--steps", type=arg.positive_int, default=None, help=f"diffusion models: DDIM steps (default 50; alone, it selects DDIM); flow models: ODE steps, at most {arg.MAX_FLOW_STEPS} (default: the model's: 50 midpoint steps for flow-grid25, 2 for rectified-grid25, 10 Euler steps for latent-flow-digits)")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed (default 0)")
    p.add_argument("--base", default=None, metavar="PATH", help="adapter checkpoints (genai-course adapt with lora or embedding): the base checkpoint, if not where the adapter says (its sha256 must match)")
    p.add_argument("--out", required=True, help="output file: .npz for points and images (array x; y when labels were given; provenance, a JSON string), .txt for text (with FILE.provenance.json)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="run every test that applies to a trained model: quality, diversity, two-sample test, memorization, speed")
    p.add_argument("checkpoint", help="a checkpoint written by 'genai-course train'")
    p.add_argument("-n", type=arg.at_most(arg.MAX_EVALUATE), default=None,
                   help=f"samples to draw (default 1000 digits, 2500 points, one name per held-out name (1,097) in its language; N names: in the held-out mix of languages; at most {arg.MAX_EVALUATE:,})")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed of the samples and tests (default 0)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.add_argument("--base", default=None, metavar="PATH", help="adapter checkpoints (genai-course adapt with lora or embedding): the base checkpoint, if not where the adapter says (its sha256 must match)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("report", help="evaluate every checkpoint in a folder: one Markdown table and a figure")
    p.add_argument("--runs", default="runs", help="folder of checkpoints (default runs/, where 'train' writes them)")
    p.add_argument("--out", default=None, help="Markdown file (default RUNS/report.md)")
    p.add_argument("--figure", default=None, help="PNG figure (default: the report's name with .png)")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed of the samples and tests (default 0)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("check", help="check this machine is ready for the workshop")
    p.add_argument("--seconds", type=arg.seconds, default=5.0, help=f"length of the smoke training (default 5, at most {arg.MAX_SMOKE_S:.0f})")
    p.add_argument("--pretrained", default=None, metavar="DIR", help="pretrained runs to check (default: where the lessons look, runs/pretrained)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("pretrain", help="train every model the lessons train, so that slow laptops can load them (PRETRAINED = True)")
    p.add_argument("names", nargs="*", help="lessons (05 or 05_training_loop), models (every lesson run of it) or runs (see --list)")
    p.add_argument("--all", action="store_true", help="every lesson's 21 runs (about 6 minutes on a quiet 2-core machine)")
    p.add_argument("--out", default=str(Path("runs") / "pretrained"), help="folder for the checkpoints and SHA256SUMS (default runs/pretrained, where lessons look)")
    p.add_argument("--force", action="store_true", help="retrain runs already in the folder (by default an intact, current checkpoint is kept)")
    p.add_argument("--list", action="store_true", help="list every lesson run and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser(
        "tune", help="search a model's recipe: an Optuna study with pruning, resumable, and the best settings as changes to the recipe",
        description="Search the lesson recipe of MODEL for better settings: an Optuna study (TPE sampler; median pruning on "
        "the model's validation score, reported after each quarter of a trial's training; trials whose training would take "
        "longer than --budget seconds are stopped too). Every trial trains on the training split less a validation part and "
        "is scored on that part, never on the held-out data the course judges models on. The study is one SQLite file: run "
        "the same command again to continue it. Its first trial is the lesson's recipe. Prints a table of every trial, the "
        "best settings as changes to the lesson's recipe, and what mattered.",
    )
    p.add_argument("model", help="one of: vae-digits, charlm-names, dcgan-digits, cgan-digits, ddpm-digits")
    p.add_argument("--trials", type=arg.at_most(arg.MAX_TRIALS), required=True, help="stop when the study holds this many finished trials (earlier runs' included)")
    p.add_argument("--seconds", type=arg.study_seconds, required=True, help="and stop starting trials after this many seconds (a trial under way finishes)")
    p.add_argument("--steps", type=arg.at_most(arg.MAX_STEPS), default=None, help="train every trial this many steps instead of searching the length (a quick study)")
    p.add_argument("--budget", type=arg.study_seconds, default=90.0, help="training seconds a trial may take (default 90, the course's rule)")
    p.add_argument("--seed", type=arg.seed, default=0, help="the sampler's seed and every trial's model seed (default 0)")
    p.add_argument("--study", default=None, metavar="FILE", help="the study's SQLite file (default runs/tune/MODEL.db)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser(
        "adapt", help="teach a trained model a new class or language from a few examples, without starting over (lesson 14)",
        description="Teach a conditional digits VAE the next class (--new-class K, from K's training digits) or the names model "
        "a new language (--new-language LOCALE, from faker's names) from --examples examples, by one of four methods: finetune "
        "(every weight, new examples only), replay (every weight, with the model's own samples of what it knew), lora (low-rank "
        "adapters on the linear layers and the new class's column, the rest frozen) or embedding (the new class's column or "
        "language's row only). Prints one line: what trained, the judged result beside the base's, and the bytes written.",
        epilog="finetune and replay write a whole course checkpoint, which every command takes. lora and embedding write an "
        "adapter checkpoint: the trained tensors only, with the base's sha256 and path (as given, and relative to the adapter's "
        "folder); sample, evaluate and the rest load the base from there (sample and evaluate: or --base PATH) and refuse a base whose sha256 "
        "differs.",
    )
    p.add_argument("checkpoint", help="the model to adapt: a conditional digits VAE (genai-course train digits-0to8) or charlm-names")
    p.add_argument("--new-class", type=arg.whole, default=None, metavar="K", help="digits: the class to teach, the one after the model's (9 for digits-0to8)")
    p.add_argument("--new-language", default=None, metavar="LOCALE", help="names: a faker locale the model has not seen (fi_FI in lesson 14)")
    p.add_argument("--examples", type=arg.positive_int, required=True, metavar="N", help="how many examples to learn from (lesson 14: 20 digits, 50 names)")
    p.add_argument("--method", choices=ADAPT_METHODS, required=True, help="what trains: finetune, replay, lora or embedding")
    p.add_argument("--rank", type=arg.positive_int, default=None, metavar="R", help="lora only: the adapters' rank (default 4; at most the smallest layer's side)")
    p.add_argument("--steps", type=arg.at_most(arg.MAX_STEPS), default=None, help="Adam steps (default: the lesson's, 600 for digits, 300 for names)")
    p.add_argument("--seed", type=arg.seed, default=0, help="which examples, the adapters' start and the batches (default 0)")
    p.add_argument("--out", required=True, help="the checkpoint to write (a whole model, or an adapter: see below)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_adapt)

    p = sub.add_parser(
        "serve", help="serve checkpoints over HTTP behind keys, scopes and quotas, with batching and an audit log (lesson 15)",
        description="Serve course checkpoints (digits as PNG or .npz, points as .npz or JSON, names as JSON), every output "
        "signed (genai-course verify). Each POST /v1/generate needs 'Authorization: Bearer KEY' (genai-course keys); the key "
        "file is read on every request. Refusals: 401 no or bad key, 429 over quota (Retry-After), 400 unreadable request, "
        "403 outside the key's scopes, 404 no such model, 413 too many samples, 503 queue full. One JSON line per request in "
        "the audit log. The web page is at /.",
    )
    p.add_argument("checkpoints", nargs="+", metavar="CKPT", help="checkpoints of 'genai-course train' (or encrypted ones: 'genai-course encrypt')")
    p.add_argument("--keys", default=str(DEFAULT_KEYS), metavar="FILE", help=f"the key file of 'genai-course keys' (default {DEFAULT_KEYS})")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=arg.port, default=8000, help="TCP port (default 8000)")
    p.add_argument("--max-batch", type=arg.at_most(arg.MAX_BATCH), default=64, metavar="B", help="samples gathered into one forward pass (default 64; 1 turns batching off)")
    p.add_argument("--max-wait-ms", type=arg.wait_ms, default=10.0, metavar="W", help="how long the first request of a batch waits for others (default 10 ms)")
    p.add_argument("--max-queue", type=arg.at_most(100_000), default=256, metavar="Q", help="requests that may wait; one more gets 503 (default 256)")
    p.add_argument("--audit", default=None, metavar="FILE", help="the audit log, one JSON line per request (default: audit.jsonl beside the key file)")
    p.add_argument("--signing-key", default=None, metavar="FILE", help="the secret that signs outputs (default: signing.key beside the key file; made on first start)")
    p.add_argument("--seed", type=arg.seed, default=0, help="seed of the server's random stream (default 0)")
    p.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("keys", help="add, list or revoke the keys of 'genai-course serve' (stored as salted hashes)")
    keys = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    k = keys.add_parser("add", help="make a key; it is printed once, alone on stdout")
    k.add_argument("name", help="the key's name, written in the audit log (1-40 letters, digits, . _ -)")
    k.add_argument("--scopes", required=True, help="e.g. 'model:cvae-digits label:0-4 max:16'; words: model:NAME or model:*, label:SPEC (3, 0-4, de_DE, *), max:N, admin")
    k.add_argument("--quota", default="60/min", help="requests a minute, as N/min (default 60/min)")
    k = keys.add_parser("list", help="every key: name, live or revoked, quota, when made, scopes (never the key)")
    k = keys.add_parser("revoke", help="revoke a key: from the next request on it lets no one in")
    k.add_argument("name", help="the key's name")
    for k in keys.choices.values():
        k.add_argument("--keys", default=str(DEFAULT_KEYS), metavar="FILE", help=f"the key file (default {DEFAULT_KEYS})")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("verify", help="check the signature of a file 'genai-course serve' returned (exit 0 valid, 1 not)")
    p.add_argument("file", help="a .png, .npz or .json file from the server")
    p.add_argument("--signing-key", default=str(DEFAULT_KEYS.parent / "signing.key"), metavar="FILE", help=f"the server's secret (default {DEFAULT_KEYS.parent / 'signing.key'})")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("encrypt", help="encrypt a checkpoint at rest (Fernet; key in $GENAI_COURSE_CHECKPOINT_KEY) for 'genai-course serve'")
    p.add_argument("checkpoint", nargs="?", help="the checkpoint to encrypt")
    p.add_argument("--out", default=None, help="the encrypted file (default CKPT.enc)")
    p.add_argument("--new-key", action="store_true", help="print a new key for $GENAI_COURSE_CHECKPOINT_KEY and exit")
    p.set_defaults(func=cmd_encrypt)

    p = sub.add_parser("build", help="regenerate exercises/ from solutions/")
    p.add_argument("--check", action="store_true", help="only check that exercises/ is up to date (exit 1 if not)")
    p.add_argument("--root", default=None, help="course folder holding solutions/ and exercises/ (default: found from here)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "grade", help="grade exercise notebooks and report each exercise; with --report, a class folder into a CSV",
        description="Grade exercise notebooks, each apart: the course's own exercise notebook, holding only the learner's "
        "function bodies, runs in a sandboxed process of its own (bubblewrap: no network, no files but its own folder), and "
        "every check's verdict is computed in this process from what the check saw; what a notebook prints decides nothing. "
        "Exit code 0: all passed; 1: some did not pass; 2: unusable input.",
        epilog="A class folder (--report): a learner is a subfolder, DIR/<learner>/NN_name.ipynb, or the start of a flat "
        "file's name up to '__', DIR/<learner>__NN_name.ipynb; a flat file without '__' is that learner's one notebook, "
        "DIR/<learner>.ipynb (.ipynb or py:percent .py; of a jupytext pair, the .ipynb). The CSV has one row per learner "
        "and exercise: learner, notebook, exercise, status (passed, failed, not_attempted, timed_out, not_run, unusable), "
        "feedback, seconds, path; sorted by learner and notebook, then the notebook's order. A check past its CPU time "
        "(--timeout) or three times that of wall clock is interrupted; a process that dies fails its check and a fresh one "
        "goes on; a submission past --limit has its process and everything it started killed: the others go on.",
    )
    p.add_argument("paths", nargs="+", help="notebooks (.ipynb or py:percent .py) or folders of them; with --report, one class folder DIR")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--timeout", type=arg.at_most(arg.MAX_TIMEOUT_S), default=120, help="CPU seconds one check of a submission may use (default 120; wall clock: 3 times that, plus 10)")
    p.add_argument("--report", default=None, metavar="CSV", help="grade the class folder DIR and write one CSV row per learner and exercise (see below)")
    p.add_argument("--jobs", type=arg.at_most(arg.MAX_JOBS), default=None, metavar="N", help="submissions graded at once, each in its own process (default: the CPU cores, at most 4)")
    p.add_argument("--limit", type=arg.at_most(arg.MAX_TIMEOUT_S), default=None, metavar="S", help="hard wall-clock seconds for one submission; past it, its process and everything it started are killed (default: the wall clock of each check and one more, plus 60)")
    p.set_defaults(func=cmd_grade)
    return parser
