"""genai_course.diffusion.sampling: the reverse steps, DDPM's loss, both samplers on an exact noise predictor, guidance."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genai_course import diffusion as D


@pytest.fixture(scope="module")
def cosine() -> D.NoiseSchedule:
    return D.make_schedule(200, "cosine")


def test_reverse_step_mean_is_the_posterior_mean(cosine: D.NoiseSchedule) -> None:
    """Given the true noise, the step's mean is the mean of q(x_{t-1} | x_t, x_0), by either formula."""
    g = torch.Generator().manual_seed(2)
    x0, eps = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
    for t in [1, 37, 120, 199]:
        xt = D.q_sample(x0, torch.full((5,), t), cosine, eps)
        ab, ab_prev, a, b = (float(v[t]) for v in (cosine.alpha_bars, cosine.alpha_bars_prev, cosine.alphas, cosine.betas))
        posterior_mean = (math.sqrt(ab_prev) * b * x0 + math.sqrt(a) * (1 - ab_prev) * xt) / (1 - ab)
        zero = torch.zeros_like(xt)
        assert torch.allclose(D.reverse_step(xt, t, eps, cosine, zero), posterior_mean, atol=1e-4)
        assert torch.allclose(D.reverse_step(xt, t, eps, cosine, zero, clip=100.0), posterior_mean, atol=1e-4)
        z = torch.randn(5, 2, generator=g)
        assert torch.allclose(D.reverse_step(xt, t, eps, cosine, z) - posterior_mean, cosine.posterior_variance[t].sqrt() * z, atol=1e-4)
        assert torch.allclose(D.reverse_step(xt, t, eps, cosine, z, variance="beta") - posterior_mean, cosine.betas[t].sqrt() * z, atol=1e-4)
    # the last step returns the mean (x_0's estimate): no noise, and none needed
    xt = D.q_sample(x0, torch.zeros(5, dtype=torch.long), cosine, eps)
    assert torch.allclose(D.reverse_step(xt, 0, eps, cosine), x0, atol=1e-4)


def test_reverse_step_errors(cosine: D.NoiseSchedule) -> None:
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="needs noise"):
        D.reverse_step(x, 5, x, cosine)
    with pytest.raises(ValueError, match="one step number"):
        D.reverse_step(x, 200, x, cosine, x)
    with pytest.raises(ValueError, match="eps must have the shape"):
        D.reverse_step(x, 5, torch.zeros(3, 1), cosine, x)
    with pytest.raises(ValueError, match="'posterior' or 'beta'"):
        D.reverse_step(x, 5, x, cosine, x, variance="large")


def test_ddim_step_with_the_true_noise_lands_on_the_forward_process(cosine: D.NoiseSchedule) -> None:
    g = torch.Generator().manual_seed(3)
    x0, eps = torch.randn(4, 1, 8, 8, generator=g), torch.randn(4, 1, 8, 8, generator=g)
    xt = D.q_sample(x0, torch.full((4,), 150), cosine, eps)
    x_prev = D.ddim_step(xt, 150, 40, eps, cosine)
    assert torch.allclose(x_prev, D.q_sample(x0, torch.full((4,), 40), cosine, eps), atol=1e-3)
    assert torch.allclose(D.ddim_step(xt, 150, -1, eps, cosine), x0, atol=1e-3)
    with pytest.raises(ValueError, match="earlier step"):
        D.ddim_step(xt, 40, 150, eps, cosine)


def test_loss_equals_the_formula_by_hand() -> None:
    model = D.DDPM(D.DDPMConfig("points", T=50, width=32, depth=2))
    x0 = torch.randn(16, 2)
    loss = model.loss(x0, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    t = torch.randint(50, (16,), generator=g)
    noise = torch.randn(16, 2, generator=g)
    ab = model.schedule.alpha_bars[t][:, None]
    by_hand = ((model(ab.sqrt() * x0 + (1 - ab).sqrt() * noise, t) - noise) ** 2).mean()
    assert torch.allclose(loss, by_hand)


def test_loss_falls_on_one_batch() -> None:
    torch.manual_seed(0)
    model = D.DDPM(D.DDPMConfig("points", T=50, width=64, depth=2))
    x0 = torch.randn(64, 2) * 0.3 + 1.0
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def fixed_loss() -> float:  # the same t and noise each time
        with torch.no_grad():
            return float(model.loss(x0, generator=torch.Generator().manual_seed(9)))

    before = fixed_loss()
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        loss = model.loss(x0, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < 0.7 * before


class _ExactGaussianEps(nn.Module):
    """The best possible noise predictor when the data is N(mu, s^2 I) (any shape):
    eps*(x_t) = sqrt(1 - abar) (x_t - sqrt(abar) mu) / (abar s^2 + 1 - abar)."""

    def __init__(self, schedule: D.NoiseSchedule, mu: float, s: float) -> None:
        super().__init__()
        self.schedule, self.mu, self.s = schedule, mu, s
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        ab = self.schedule.alpha_bars[t].reshape(-1, *([1] * (x.dim() - 1)))
        return (1 - ab).sqrt() * (x - ab.sqrt() * self.mu) / (ab * self.s**2 + 1 - ab)


@pytest.mark.parametrize("sampler, steps, variance", [("ancestral", None, "posterior"), ("ancestral", None, "beta"), ("ddim", 250, "posterior")])
def test_samplers_recover_the_data_from_the_exact_noise_predictor(sampler: str, steps: int | None, variance: str) -> None:
    """With the exact eps of a Gaussian, both samplers must return that Gaussian: a flipped
    sign, a wrong coefficient or a missing square root moves the mean or the spread.

    T = 1,000 steps, so that the discretisation is fine: with fewer steps the samples come out
    a little narrower (posterior variance: std 0.185 at T = 100; DDIM with 50 steps: 0.188)."""
    model = D.DDPM(D.DDPMConfig("points", T=1000))
    model.net = _ExactGaussianEps(model.schedule, mu=0.7, s=0.2)
    x = model.sample(20_000, sampler=sampler, steps=steps, generator=torch.Generator().manual_seed(0), variance=variance)
    assert abs(float(x.mean()) - 0.7) < 0.01
    assert abs(float(x.std()) - 0.2) < 0.005


def test_same_seed_same_samples_and_trajectory() -> None:
    torch.manual_seed(0)
    model = D.DDPM(D.DDPMConfig("digits", T=20, channels=8, num_classes=10, clip=1.0))
    a = model.sample(4, torch.tensor([1, 2, 3, 4]), guidance=1.0, generator=torch.Generator().manual_seed(3))
    traj = D.Trajectory()
    b = model.sample(4, torch.tensor([1, 2, 3, 4]), guidance=1.0, generator=torch.Generator().manual_seed(3), trajectory=traj)
    c = model.sample(4, torch.tensor([1, 2, 3, 4]), guidance=1.0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (4, 1, 8, 8) and float(a.abs().max()) <= 1.0
    assert traj.steps == [*range(19, -2, -1)] and len(traj.x) == 21  # noise levels 19 (x_T ~ N(0, I)) down to -1 (the sample)
    assert torch.equal(traj.x[-1].clamp(-1, 1), a)
    ddim = D.Trajectory()
    model.sample(4, sampler="ddim", steps=5, generator=torch.Generator().manual_seed(3), trajectory=ddim)
    assert ddim.steps[0] == 19 and ddim.steps[-1] == -1 and len(ddim.steps) == 6


def test_sampling_errors_in_the_learners_terms() -> None:
    cond = D.DDPM(D.DDPMConfig("points", T=10, width=16, depth=2, num_classes=2))
    with pytest.raises(ValueError, match="guidance needs labels"):
        cond.sample(3, guidance=2.0)
    with pytest.raises(ValueError, match=r"labels must lie in 0..1"):
        cond.sample(3, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="guidance must be a number >= 0"):
        cond.sample(3, torch.tensor([0, 1, 1]), guidance=-1)
    with pytest.raises(ValueError, match="use sampler='ddim'"):
        cond.sample(3, sampler="ancestral", steps=5)
    with pytest.raises(ValueError, match="'ancestral' or 'ddim'"):
        cond.sample(3, sampler="euler")
    with pytest.raises(ValueError, match="positive whole number"):
        cond.sample(0)
    uncond = D.DDPM(D.DDPMConfig("points", T=10, width=16, depth=2))
    with pytest.raises(ValueError, match="unconditional"):
        uncond.sample(3, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="class-conditional: give labels"):
        cond.loss(torch.zeros(3, 2))


def test_guided_eps_and_batched_guidance() -> None:
    c, u = torch.randn(3, 2), torch.randn(3, 2)
    assert torch.allclose(D.guided_eps(c, u, 0.0), c)
    assert torch.allclose(D.guided_eps(c, u, 2.0), 3 * c - 2 * u)
    torch.manual_seed(0)
    model = D.DDPM(D.DDPMConfig("points", T=10, width=16, depth=2, num_classes=2))
    x, y = torch.randn(3, 2), torch.tensor([0, 1, 1])
    t = torch.full((3,), 4)
    expected = D.guided_eps(model(x, t, y), model(x, t, torch.full((3,), 2)), 1.5)
    assert torch.allclose(model.eps(x, 4, y, 1.5), expected, atol=1e-6)
    assert torch.allclose(model.eps(x, 4, y, 0.0), model(x, t, y))


def _two_class_points(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0 around (-0.5, 0), class 1 around (+0.5, 0), overlapping (std 0.45)."""
    y = torch.randint(2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.45
    x[:, 0] += y.float() - 0.5
    return x, y


def test_more_guidance_puts_more_samples_on_their_class_side() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, y = _two_class_points(4096, g)
    model = D.DDPM(D.DDPMConfig("points", T=50, width=64, depth=3, num_classes=2))
    ema = D.ema_copy(model)
    D.train_ddpm(model, x, y, D.DDPMTrainConfig(steps=600, batch_size=128, lr=3e-3, ema=0.98, p_uncond=0.3), ema=ema, progress=False)
    labels = torch.arange(1000) % 2
    side = []
    for w in [0.0, 3.0]:
        s = ema.sample(1000, labels, guidance=w, sampler="ddim", steps=20, generator=torch.Generator().manual_seed(1))
        side.append(float(((s[:, 0] > 0).long() == labels).float().mean()))
    assert side[0] > 0.6  # conditional at all (0.5 if not; the data itself gives 0.87)
    assert side[1] > side[0] + 0.05  # guidance sharpens the classes
