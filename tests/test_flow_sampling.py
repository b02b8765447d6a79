"""genai_course.flow.sampling: the flow model's loss, its sampler (exactly the steps asked), and a
trained network against the exact velocity field of Gaussian data."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from genai_course import flow
from genai_course.loop import ema_copy
from genai_course.utils import same


class ExactGaussian(flow.FlowModel):
    """A flow model whose 'network' is the exact field of N(m, s^2 I) data, recording every call."""

    def __init__(self, m: torch.Tensor, s: float) -> None:
        super().__init__(flow.FlowConfig(dim=2, width=8, depth=1, fourier=0))
        self.m, self.s, self.times = m, s, []

    def forward(self, x, t, y=None):
        self.times.append(float(t[0]))
        return flow.gaussian_velocity(x, t, self.m, self.s)


@pytest.mark.parametrize("method,per_step", [("euler", 1), ("midpoint", 2)])
@pytest.mark.parametrize("steps", [1, 2, 3, 7])
def test_the_sampler_takes_exactly_the_steps_it_is_asked_for(method, per_step, steps):
    """flow_matching's issue #67: a sampler that ignored its step setting. Here every step is a call
    (two for midpoint) at the times the method says, and the trajectory holds steps + 1 states."""
    model = ExactGaussian(torch.zeros(2), 1.0)
    traj = flow.FlowTrajectory()
    model.sample(5, steps=steps, method=method, generator=torch.Generator().manual_seed(0), trajectory=traj)
    assert model.calls == steps * per_step == flow.check_steps(steps, method) == len(model.times)
    dt = 1 / steps
    want = [i * dt + j * dt / 2 for i in range(steps) for j in range(per_step)]
    assert model.times == pytest.approx(want)
    assert traj.t == pytest.approx([i * dt for i in range(steps + 1)]) and len(traj.x) == steps + 1


def test_euler_and_midpoint_converge_to_the_exact_map_midpoint_faster():
    m, s = torch.tensor([2.0, -1.0]), 0.5
    model = ExactGaussian(m, s)
    z = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    exact = m + s * z  # where the exact flow takes each noise
    err = {(meth, k): float((model.sample(200, steps=k, method=meth, noise=z) - exact).abs().max()) for meth in ("euler", "midpoint") for k in (4, 8, 16)}
    assert err[("euler", 16)] < err[("euler", 8)] < err[("euler", 4)]
    assert err[("euler", 8)] / err[("euler", 16)] == pytest.approx(2, rel=0.25)  # first order: half the error for twice the steps
    assert err[("midpoint", 4)] / err[("midpoint", 8)] > 3  # second order: about a quarter (Euler: 2)
    assert err[("midpoint", 8)] < err[("euler", 16)]  # the same 16 calls, a far better answer
    assert err[("midpoint", 16)] < 1e-3


def test_same_seed_same_samples_and_another_seed_others():
    torch.manual_seed(0)
    model = flow.FlowModel(flow.FlowConfig(width=32, depth=2))
    a = model.sample(50, steps=4, generator=torch.Generator().manual_seed(3))
    b = model.sample(50, steps=4, generator=torch.Generator().manual_seed(3))
    c = model.sample(50, steps=4, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    noise = torch.randn(50, 2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(model.sample(50, steps=4, noise=noise), a)  # the generator draws the starting noise, nothing else


def test_the_loss_is_the_mean_squared_error_to_data_minus_noise_on_the_straight_line():
    torch.manual_seed(0)
    model = flow.FlowModel(flow.FlowConfig(width=32, depth=2))
    x1, x0 = torch.randn(64, 2), torch.randn(64, 2)
    g = torch.Generator().manual_seed(5)
    loss = model.loss(x1, x0=x0, generator=g)
    t = torch.rand(64, generator=torch.Generator().manual_seed(5))
    want = F.mse_loss(model(flow.interpolate(x0, x1, t), t), x1 - x0)
    assert same(loss, want)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.net.parameters() if p.requires_grad and p.dim() > 1)


def test_dropped_labels_become_the_no_label_class_and_guidance_is_one_call():
    torch.manual_seed(0)
    model = flow.FlowModel(flow.FlowConfig(dim=4, width=32, depth=2, fourier=0, num_classes=3))
    seen = []
    model.net.register_forward_pre_hook(lambda mod, args: seen.append(args[2].clone()))
    model.loss(torch.randn(16, 4), torch.zeros(16, dtype=torch.long), p_uncond=1.0)
    assert seen[-1].tolist() == [3] * 16
    model.loss(torch.randn(16, 4), torch.ones(16, dtype=torch.long), p_uncond=0.0)
    assert seen[-1].tolist() == [1] * 16
    model.calls = 0
    x = model.sample(6, torch.tensor([0, 1, 2, 0, 1, 2]), steps=3, method="euler", guidance=2.0)
    assert x.shape == (6, 4) and model.calls == 3  # the labelled and label-free halves share each call
    assert seen[-1].tolist() == [0, 1, 2, 0, 1, 2, 3, 3, 3, 3, 3, 3]


def test_bad_requests_say_what_is_wrong():
    model = flow.FlowModel(flow.FlowConfig(width=16, depth=1))
    cases = [
        (lambda: model.sample(4, steps=0), r"steps must be a whole number >= 1 \(got 0\)"),
        (lambda: model.sample(4, steps=2.5), r"steps must be a whole number >= 1 \(got 2.5\)"),
        (lambda: model.sample(4, method="rk4"), r"method must be 'euler' or 'midpoint' \(got 'rk4'\)"),
        (lambda: model.sample(0), r"n must be a positive whole number of samples \(got 0\)"),
        (lambda: model.sample(4, noise=torch.zeros(3, 2)), r"noise must have shape \(4, 2\) \(got \(3, 2\)\)"),
        (lambda: model.sample(4, torch.zeros(4, dtype=torch.long)), r"this flow model is unconditional \(num_classes=0\): it takes no labels"),
        (lambda: model.loss(torch.zeros(4, 3)), r"x1 must have shape \(B, 2\) \(got \(4, 3\)\)"),
        (lambda: model(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), r"takes t as \(4,\) times in \[0, 1\]"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    cond = flow.FlowModel(flow.FlowConfig(width=16, depth=1, num_classes=2))
    with pytest.raises(ValueError, match="guidance needs labels"):
        cond.sample(4, guidance=1.0)
    with pytest.raises(ValueError, match=r"labels must lie in 0..1 \(got 0..2\)"):
        cond.sample(3, torch.tensor([0, 1, 2]))


def test_a_trained_network_learns_the_exact_velocity_of_gaussian_data_on_average():
    """Flow matching on N(m, s^2 I) data: the network's field matches gaussian_velocity where x_t lives,
    within a small fraction of the field's own spread; a network trained on x0 - x1 would not."""
    m, s = torch.tensor([1.5, -0.5]), 0.5
    x = m + s * torch.randn(20_000, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = flow.FlowModel(flow.FlowConfig(width=64, depth=2, fourier=0))
    ema = ema_copy(model)
    flow.train_flow(model, x, None, flow.FlowTrainConfig(steps=1500, batch_size=256, lr=3e-3, ema=0.99), ema=ema, progress=False)
    g = torch.Generator().manual_seed(1)
    errors, spreads = [], []
    for t in (0.1, 0.3, 0.5, 0.7, 0.9):
        z = torch.randn(2000, 2, generator=g)
        xt = t * m + ((1 - t) ** 2 + t**2 * s**2) ** 0.5 * z  # where x_t lives
        exact = flow.gaussian_velocity(xt, t, m, s)
        with torch.no_grad():
            learned = ema(xt, torch.full((2000,), t))
        errors.append(float((learned - exact).pow(2).sum(1).mean()))
        spreads.append(float((exact - exact.mean(0)).pow(2).sum(1).mean() + exact.mean(0).pow(2).sum()))
    relative = sum(errors) / sum(spreads)
    print(f"relative squared error of the learned field: {relative:.4f}")
    assert relative < 0.01
    samples = ema.sample(4000, steps=20, method="midpoint", generator=torch.Generator().manual_seed(2))
    assert same(samples.mean(0), m, tol=0.05) and same(samples.std(0), torch.full((2,), s), tol=0.05)
