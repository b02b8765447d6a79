"""genai_course.evaluate and the `evaluate` / `report` commands: every course model gets the tests
that apply to its data, on one protocol, and the report tabulates them."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genai_course import evaluate, models
from test_cli import run_main

DIGIT_KEYS = {"confident", "class_entropy", "frechet", "precision", "recall", "two_sample", "nn_ratio", "copies", "samples_per_s", "train_steps_per_s", "train_seconds"}
CONDITIONAL_KEYS = {"label_accuracy", "tstr", "tstr_reference"}
POINT_KEYS = {"modes", "high_quality", "reverse_kl", "precision", "recall", "two_sample", "samples_per_s", "train_steps_per_s", "train_seconds"}
NAME_KEYS = {"heldout_nll", "judge_accuracy", "judge_accuracy_new", "judge_real", "novelty", "samples_per_s", "train_steps_per_s", "train_seconds"}


def _present(e: evaluate.Evaluation) -> set[str]:
    return {k for k, v in e.scores.items() if v is not None}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Briefly trained models of every kind, saved and loaded back as the CLI would see them."""
    folder = tmp_path_factory.mktemp("runs")
    out = {}
    for name, steps in [("dcgan-digits", 40), ("cgan-digits", 40), ("vae-digits", 200), ("ddpm-digits", 20), ("gan-ring8", 100), ("charlm-names", 30)]:
        model = models.train_model(name, steps=steps, progress=False)
        path = folder / f"{name}-seed0.pt"
        model.save(str(path))
        out[name] = path
    return folder, out


def test_a_digits_gan_gets_every_digits_test(trained):
    e = evaluate.evaluate_checkpoint(trained[1]["dcgan-digits"], n=200)
    assert (e.model, e.seed, e.kind) == ("dcgan-digits", 0, "digits")
    assert _present(e) == DIGIT_KEYS
    for key in ("confident", "class_entropy", "precision", "recall", "two_sample", "copies"):
        assert 0.0 <= e.scores[key] <= 1.0, (key, e.scores[key])
    assert e.scores["train_steps_per_s"] == pytest.approx(40 / e.scores["train_seconds"])
    assert e.protocol == "200 samples" and e.seconds > 0


def test_conditional_models_are_also_trained_on_and_judged_by_label(trained):
    e = evaluate.evaluate_checkpoint(trained[1]["cgan-digits"], n=200)
    assert _present(e) == DIGIT_KEYS | CONDITIONAL_KEYS
    assert "every class in turn" in e.protocol
    assert 0.8 < e.scores["tstr_reference"] <= 1.0  # a classifier trained on 200 real digits (measured: 0.87)


def test_a_diffusion_model_samples_with_ddim_and_guidance(trained):
    e = evaluate.evaluate_checkpoint(trained[1]["ddpm-digits"], n=40)
    assert _present(e) == DIGIT_KEYS | CONDITIONAL_KEYS
    assert e.protocol == "40 samples, every class in turn, DDIM with 50 steps, guidance 2"


def test_an_untrained_looking_vae_is_far_from_real(trained):
    e = evaluate.evaluate_checkpoint(trained[1]["vae-digits"], n=200)
    assert _present(e) == DIGIT_KEYS
    assert e.scores["two_sample"] > 0.8  # 200 steps of training: easy to tell from real digits


def test_points_get_the_mode_metrics_and_the_distribution_tests(trained):
    e = evaluate.evaluate_checkpoint(trained[1]["gan-ring8"], n=500)
    assert e.kind == "points" and _present(e) == POINT_KEYS
    assert e.protocol == "500 samples against 500 fresh draws of ring8"
    assert 0 <= e.scores["modes"] <= 8


def test_names_get_the_text_tests(trained):
    e = evaluate.evaluate_checkpoint(trained[1]["charlm-names"], n=20)
    assert e.kind == "names" and _present(e) == NAME_KEYS
    assert e.protocol == "20 names at temperature 1, in the languages of 20 evenly spaced held-out names"
    # The model's own protocol (TrainedCharLM.evaluate): the same samples, the same judge and reference.
    report = models.load_model(str(trained[1]["charlm-names"])).evaluate(n=20, seed=0)
    for key in ("heldout_nll", "judge_accuracy", "judge_real", "novelty"):
        assert e.scores[key] == getattr(report, key), key
    assert e.scores["judge_real"] == pytest.approx(0.752, abs=0.002)  # the judge on the real held-out names


def test_names_are_drawn_once_per_heldout_name_by_default(trained):
    e = evaluate.evaluate_checkpoint(trained[1]["charlm-names"])
    assert e.protocol == "1097 names at temperature 1, one per held-out name"


def test_evaluate_refuses_too_few_samples(trained):
    with pytest.raises(ValueError, match="at least 20 samples"):
        evaluate.evaluate_checkpoint(trained[1]["dcgan-digits"], n=10)


def _evaluation(model: str, kind: str, **scores: float) -> evaluate.Evaluation:
    return evaluate.Evaluation(model, 0, kind, dict(scores), "test")


def test_markdown_table_has_the_columns_any_model_has_and_dashes_elsewhere():
    table = evaluate.markdown_table([
        _evaluation("gan-ring8", "points", modes=8.0, high_quality=0.9871, samples_per_s=123456.0),
        _evaluation("dcgan-digits", "digits", confident=0.91, precision=0.903, tstr=None, samples_per_s=58.2),
    ])
    lines = table.splitlines()
    assert lines[0] == "| model | seed | modes | high-quality | confident | precision | samples/s |"
    assert lines[2] == "| gan-ring8 | 0 | 8 | 98.7% | - | - | 123,456 |"
    assert lines[3] == "| dcgan-digits | 0 | - | - | 91.0% | 90.3% | 58 |"
    with pytest.raises(ValueError, match="no evaluations"):
        evaluate.markdown_table([])


def test_report_markdown_explains_the_columns_it_uses():
    text = evaluate.report_markdown([_evaluation("vae-digits", "digits", recall=0.16, nn_ratio=0.9)], "report.png")
    assert "| vae-digits | 0 | 16.0% | 0.90 |" in text
    assert "![precision against recall; two-sample accuracy against speed](report.png)" in text
    assert "- **recall**: k-NN recall" in text and "- **NN ratio**:" in text and "**precision**" not in text
    assert "- vae-digits (seed 0): test" in text


def test_plot_report_draws_both_panels(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    fig = evaluate.plot_report([
        _evaluation("a", "digits", precision=0.9, recall=0.8, two_sample=0.7, samples_per_s=1e4),
        _evaluation("b", "points", precision=0.5, recall=0.6, two_sample=0.55, samples_per_s=10.0),
    ], tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 10_000
    ax1, ax2 = fig.axes
    assert len(ax1.collections) == 2 and len(ax2.collections) == 2
    assert ax2.get_xscale() == "log"


# ------------------------------------------------------------------------------ the CLI


def test_cli_evaluate_prints_scores_or_json(trained, capsys):
    path = str(trained[1]["gan-ring8"])
    code, out, _ = run_main(["evaluate", path, "-n", "300"], capsys)
    assert code == 0 and out.startswith("gan-ring8 (seed 0; 300 samples against 300 fresh draws of ring8)")
    assert "high-quality" in out and "evaluated in" in out
    code, out, _ = run_main(["evaluate", path, "-n", "300", "--json"], capsys)
    result = json.loads(out)
    assert code == 0 and result["model"] == "gan-ring8" and set(result["scores"]) >= POINT_KEYS
    assert all(v is None or math.isfinite(v) for v in result["scores"].values())


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["evaluate", "missing.pt"], "missing.pt"),
        (["evaluate", "CKPT", "-n", "10"], "at least 20 samples"),
        (["evaluate", "CKPT", "-n", "0"], "positive whole number"),
    ],
)
def test_cli_evaluate_explains_bad_input_in_one_line(trained, capsys, argv, fragment):
    argv = [str(trained[1]["gan-ring8"]) if a == "CKPT" else a for a in argv]
    code, _, err = run_main(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and fragment in err and "Traceback" not in err


def test_cli_report_writes_one_table_and_a_figure(trained, tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("vae-digits", "gan-ring8", "charlm-names"):  # written out of the course's order
        (runs / f"{name}.pt").write_bytes(trained[1][name].read_bytes())
    (runs / "notes.pt").write_text("not a checkpoint")
    code, out, err = run_main(["report", "--runs", str(runs)], capsys)
    assert code == 0, err
    assert "skipped" in err and "notes.pt" in err
    text = (runs / "report.md").read_text()
    scores = text.split("\n## ")[0]  # the scores' table (a provenance table of the checkpoints comes last)
    rows = [line.split(" | ")[0] for line in scores.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows == ["| gan-ring8", "| vae-digits", "| charlm-names"]  # the course's order
    assert (runs / "report.png").stat().st_size > 10_000
    assert "wrote" in out and "(3 models)" in out


def test_cli_report_explains_a_missing_or_empty_folder(tmp_path, capsys):
    code, _, err = run_main(["report", "--runs", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "no folder" in err and "genai-course train" in err
    code, _, err = run_main(["report", "--runs", str(tmp_path)], capsys)
    assert code == 2 and "no checkpoints" in err
    (tmp_path / "x.pt").write_text("x")
    code, _, err = run_main(["report", "--runs", str(tmp_path), "--figure", str(tmp_path / "f.jpg")], capsys)
    assert code == 2 and "should end in .png" in err


def test_loading_restores_how_long_training_took(trained):
    model = models.load_model(str(trained[1]["dcgan-digits"]))
    saved = torch.load(trained[1]["dcgan-digits"], weights_only=True)["extra"]["seconds"]
    assert model.history.seconds == saved > 0


class _Stub:
    """A 'model' whose samples we choose: training copies, noise, or one digit repeated."""

    num_classes, conditional, seed, step = 0, False, 0, 100

    def __init__(self, name, make):
        self.name, self.make = name, make
        self.history = models.History(seconds=2.0)

    def sample(self, n, generator=None):
        return self.make(n, generator)


@pytest.fixture(scope="module")
def stubs():
    from genai_course import data

    d = data.load_digits()
    return {
        "copies": _Stub("copier", lambda n, g: d.x_train[torch.randint(len(d.x_train), (n,), generator=g)]),
        "noise": _Stub("noise", lambda n, g: torch.rand(n, 1, 8, 8, generator=g)),
        "collapsed": _Stub("collapsed", lambda n, g: d.x_train[[7] * n]),
        # without replacement: repeated samples are themselves a tell the two-sample test finds
        "real": _Stub("held-out", lambda n, g: d.x_test[torch.randperm(len(d.x_test), generator=g)[:n]]),
    }


def test_evaluate_flags_a_model_that_copies_its_training_digits(stubs):
    s = evaluate.evaluate_model(stubs["copies"], n=300).scores
    assert s["copies"] == 1.0 and s["nn_ratio"] == 0.0
    assert s["precision"] > 0.85 and s["recall"] > 0.8  # copies look real and cover everything: only the audit sees them
    assert s["train_steps_per_s"] == 50.0


def test_evaluate_scores_noise_worst(stubs):
    s = evaluate.evaluate_model(stubs["noise"], n=300).scores
    assert s["precision"] < 0.05 and s["recall"] < 0.05 and s["two_sample"] > 0.95 and s["copies"] == 0.0


def test_evaluate_sees_a_collapsed_generator_in_recall_and_entropy(stubs):
    s = evaluate.evaluate_model(stubs["collapsed"], n=300).scores
    assert s["recall"] < 0.02 and s["class_entropy"] == 0.0 and s["two_sample"] > 0.95


def test_evaluate_scores_real_held_out_digits_near_ideal(stubs):
    s = evaluate.evaluate_model(stubs["real"], n=300).scores
    assert s["confident"] > 0.9 and s["class_entropy"] > 0.98 and s["precision"] > 0.85
    assert abs(s["two_sample"] - 0.5) < 0.08 and s["copies"] < 0.05
