"""genai_course.serve.engine: checkpoints loaded safely, and one forward pass for a whole batch of requests."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest

from genai_course import checkpoints
from genai_course.serve import signing
from genai_course.serve.engine import Job, load_servable

from serve_shared import tiny, tiny_checkpoint  # noqa: F401 (fixtures)

SECRET = bytes(32)


def count_samples(servable, monkeypatch) -> list[int]:
    calls: list[int] = []
    real = servable.model.sample

    def counted(n, **kw):
        calls.append(n)
        return real(n, **kw)

    monkeypatch.setattr(servable.model, "sample", counted)
    return calls


def test_a_batch_of_conditional_digit_jobs_is_one_forward_pass(tiny, monkeypatch):
    s = load_servable(tiny["cvae-digits"])
    assert (s.name, s.kind, s.labels, s.formats) == ("cvae-digits", "digits", [str(k) for k in range(10)], ("png", "npz"))
    calls = count_samples(s, monkeypatch)
    (x3, y3), (x5, y5), (xall, yall) = s.run([Job(2, "3"), Job(3, "5"), Job(4, None)])
    assert calls == [9]
    assert x3.shape == (2, 1, 8, 8) and x5.shape == (3, 1, 8, 8) and x3.dtype == np.float32
    assert np.asarray(y3).tolist() == [3, 3] and np.asarray(y5).tolist() == [5, 5, 5]
    assert np.asarray(yall).tolist() == [0, 1, 2, 3]  # no label: every class in turn
    assert 0 <= x3.min() and x5.max() <= 1


def test_names_jobs_return_lists_of_names(tiny, monkeypatch):
    s = load_servable(tiny["charlm-names"])
    assert s.kind == "names" and "de_DE" in s.labels and s.formats == ("json",)
    calls = count_samples(s, monkeypatch)
    (de, yde), (mixed, _) = s.run([Job(2, "de_DE"), Job(3, None)])
    assert calls == [5]
    assert isinstance(de, list) and len(de) == 2 and len(mixed) == 3 and all(isinstance(w, str) for w in de + mixed)
    assert [s.labels[int(i)] for i in yde] == ["de_DE", "de_DE"]


@pytest.mark.parametrize("name", ["gan-grid25", "ddpm-grid25", "flow-grid25"])
def test_points_models_take_no_labels(tmp_path_factory, name):
    s = load_servable(tiny_checkpoint(tmp_path_factory, name))
    assert (s.kind, s.labels, s.formats) == ("points", [], ("npz", "json"))
    (a, ya), (b, yb) = s.run([Job(2), Job(3)])
    assert a.shape == (2, 2) and b.shape == (3, 2) and ya is None and yb is None
    assert s.check_label("0") == f"model {name} is not conditional: it takes no label"


def test_labels_the_model_lacks_are_named(tiny):
    s = load_servable(tiny["cvae-digits"])
    assert s.check_label(None) is None and s.check_label("9") is None
    assert s.check_label("10") == "model cvae-digits has no label '10' (its labels: 0..9)"
    names = load_servable(tiny["charlm-names"])
    assert names.check_label("xx_XX").startswith("model charlm-names has no label 'xx_XX' (its labels: en_US, de_DE")


def test_the_same_seed_draws_the_same_samples(tiny):
    a = load_servable(tiny["cvae-digits"], seed=3).run([Job(4, "7")])[0][0]
    b = load_servable(tiny["cvae-digits"], seed=3).run([Job(4, "7")])[0][0]
    c = load_servable(tiny["cvae-digits"], seed=4).run([Job(4, "7")])[0][0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_encode_signs_every_format(tiny):
    digits, names, points = (load_servable(tiny[k]) for k in ("cvae-digits", "charlm-names", "gan-grid25"))
    job = Job(3, "4")
    (x, y), = digits.run([job])
    png = digits.encode(x, y, "png", SECRET, job)
    assert png.startswith(b"\x89PNG") and signing.verify(png, SECRET).ok
    npz = digits.encode(x, y, "npz", SECRET, job)
    assert signing.verify(npz, SECRET).ok
    arrays = np.load(io.BytesIO(npz))
    assert np.array_equal(arrays["x"], x) and arrays["y"].tolist() == [4, 4, 4]
    about = json.loads(str(arrays["about"]))
    assert about == {"model": "cvae-digits", "checkpoint_sha256": checkpoints.sha256(tiny["cvae-digits"]), "n": 3, "label": "4"}
    job = Job(2, "es_ES")
    (w, yw), = names.run([job])
    body = names.encode(w, yw, "json", SECRET, job)
    payload = json.loads(body)["payload"]
    assert signing.verify(body, SECRET).ok and payload["names"] == w and payload["languages"] == ["es_ES", "es_ES"]
    job = Job(2)
    (p, _), = points.run([job])
    payload = json.loads(points.encode(p, None, "json", SECRET, job))["payload"]
    assert np.allclose(payload["points"], p, atol=1e-6) and payload["model"] == "gan-grid25"
    arrays = np.load(io.BytesIO(points.encode(p, None, "npz", SECRET, job)))
    assert sorted(arrays.files) == ["about", "x"] and np.array_equal(arrays["x"], p)


def test_only_safe_complete_checkpoints_load(tiny, tmp_path):
    with pytest.raises(checkpoints.CheckpointError, match="does not exist"):
        load_servable(tmp_path / "none.pt")
    with pytest.raises(checkpoints.CheckpointError, match="is a folder, not a file"):
        load_servable(tmp_path)
    marker = tmp_path / "marker.txt"
    crafted = checkpoints.write_crafted_checkpoint(tmp_path / "crafted.pt", marker)
    with pytest.raises(checkpoints.CheckpointError, match="refused by the safe loader"):
        load_servable(crafted)
    assert not marker.exists()
    copy = tmp_path / "copy.pt"
    shutil.copy(tiny["cvae-digits"], copy)
    checkpoints.sidecar_path(copy).write_text(f"{'0' * 64}  copy.pt\n")
    with pytest.raises(checkpoints.CheckpointError) as e:
        load_servable(copy)
    assert "\n" not in str(e.value) and "sha256" in str(e.value).lower()
