"""genai_course.flow.reflow and training: pairs that record the model they came from, straightness,
and the training loop on fresh noise or on fixed pairs."""

from __future__ import annotations

import copy

import pytest
import torch

from genai_course import flow
from genai_course.loop import ema_copy
from genai_course.utils import same, weights_sha256


def small_model(seed: int = 0, **config) -> flow.FlowModel:
    torch.manual_seed(seed)
    return flow.FlowModel(flow.FlowConfig(width=32, depth=2, **config))


def test_reflow_pairs_come_from_the_model_they_name():
    model, other = small_model(0), small_model(1)
    pairs = flow.make_pairs(model, 300, steps=3, method="midpoint", name="teacher", generator=torch.Generator().manual_seed(0), chunk=128)
    assert len(pairs) == 300 and pairs.x0.shape == pairs.x1.shape == (300, 2) and pairs.y is None
    assert pairs.source == {"model": "teacher", "weights_sha256": weights_sha256(model), "steps": 3, "method": "midpoint", "guidance": 0.0}
    assert pairs.source["weights_sha256"] != weights_sha256(other)
    # each x1 is what the named model draws from its x0 with the recorded sampler (drawn in chunks or not)
    assert same(model.sample(300, steps=3, method="midpoint", noise=pairs.x0), pairs.x1)
    assert not same(other.sample(300, steps=3, method="midpoint", noise=pairs.x0), pairs.x1)
    again = flow.make_pairs(model, 300, steps=3, method="midpoint", name="teacher", generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.x0, pairs.x0) and same(again.x1, pairs.x1)


def test_the_weights_fingerprint_changes_with_any_weight_and_not_with_a_copy():
    model = small_model(0)
    fp = weights_sha256(model)
    assert fp == weights_sha256(copy.deepcopy(model))
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-6
    assert weights_sha256(model) != fp


def test_straightness_is_zero_on_a_line_and_grows_with_the_bend():
    x0, x1 = torch.randn(10, 2), torch.randn(10, 2)
    line = flow.FlowTrajectory([0.0, 0.25, 0.5, 1.0], [flow.interpolate(x0, x1, t) for t in (0.0, 0.25, 0.5, 1.0)])
    assert flow.straightness(line) == pytest.approx(0.0, abs=1e-10)
    bend = torch.tensor([1.0, 0.0])
    def bent(k: float) -> flow.FlowTrajectory:
        ts = [i / 10 for i in range(11)]
        return flow.FlowTrajectory(ts, [flow.interpolate(x0, x1, t) + k * 4 * t * (1 - t) * bend for t in ts])
    assert 0 < flow.straightness(bent(0.1)) < flow.straightness(bent(1.0))
    with pytest.raises(ValueError, match="a trajectory needs at least two states"):
        flow.straightness(flow.FlowTrajectory([0.0], [x0]))


def test_training_lowers_the_loss_and_the_ema_follows():
    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0)) * 0.3 + 1.0
    model = small_model(0)
    ema = ema_copy(model)
    hist = flow.train_flow(model, x, None, flow.FlowTrainConfig(steps=300, batch_size=128, lr=3e-3, ema=0.9), ema=ema, progress=False)
    assert hist.step == list(range(1, 301)) and len(hist.loss) == 300
    assert sum(hist.loss[-30:]) / 30 < 0.6 * sum(hist.loss[:30]) / 30
    assert weights_sha256(ema) != weights_sha256(model)


def test_training_on_pairs_uses_each_pairs_own_noise():
    """On reflow pairs the loss sees x0 from the pair: pairs whose x1 = x0 + c teach the constant velocity c."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4000, 2, generator=g)
    c = torch.tensor([2.0, -1.0])
    pairs = flow.ReflowPairs(x0, x0 + c, None, {"model": "shift"})
    model = small_model(0, fourier=0)
    flow.train_flow(model, pairs, None, flow.FlowTrainConfig(steps=400, batch_size=256, lr=3e-3, ema=0.0), progress=False)
    with torch.no_grad():
        v = model(torch.randn(500, 2, generator=g), torch.rand(500, generator=g))
    assert same(v.mean(0), c, tol=0.05) and float(v.std(0).max()) < 0.1  # fresh noise would have taught x1 - x0 with spread
    one_step = model.sample(500, steps=1, method="euler", generator=g, noise=x0[:500])
    assert float((one_step - x0[:500] - c).abs().mean()) < 0.05  # one Euler step already lands


def test_training_refuses_what_does_not_fit():
    model = small_model(0)
    pairs = flow.ReflowPairs(torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="reflow pairs carry their own labels: pass y=None"):
        flow.train_flow(model, pairs, torch.zeros(4, dtype=torch.long), flow.FlowTrainConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match=r"training data must have shape \(N, 2\) \(got \(4, 3\)\)"):
        flow.train_flow(model, torch.zeros(4, 3), None, flow.FlowTrainConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match="labels y are needed for a conditional flow model"):
        flow.train_flow(small_model(0, num_classes=2), torch.zeros(4, 2), None, flow.FlowTrainConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match=r"n must be a positive whole number of pairs \(got 0\)"):
        flow.make_pairs(model, 0, steps=2)
