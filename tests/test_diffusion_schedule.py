"""genai_course.diffusion.schedule: the noise levels and the forward process in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import diffusion as D


@pytest.fixture(scope="module")
def cosine() -> D.NoiseSchedule:
    return D.make_schedule(200, "cosine")


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_schedule_goes_from_data_to_noise(kind: str) -> None:
    s = D.make_schedule(200, kind)
    assert s.T == 200 and s.betas.shape == (200,)
    assert (s.alpha_bars[1:] < s.alpha_bars[:-1]).all()  # noise only grows
    assert float(s.alpha_bars[0]) > 0.99 and float(s.alpha_bars[-1]) < 1e-3  # clean at the start, pure noise at the end
    assert float(s.betas.max()) <= 0.5  # no reverse step divides by sqrt(alpha) < 0.7
    assert torch.allclose(s.alpha_bars, torch.cumprod(1 - s.betas.double(), 0).float(), rtol=1e-5)
    assert float(s.posterior_variance[0]) == 0.0
    assert (s.posterior_variance[1:] <= s.betas[1:] + 1e-7).all()  # beta~ <= beta


def test_schedule_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="T must be a whole number"):
        D.make_schedule(1)
    with pytest.raises(ValueError, match="'cosine' or 'linear'"):
        D.make_schedule(10, "quadratic")
    with pytest.raises(ValueError, match="between 0 and 1"):
        D.NoiseSchedule(torch.tensor([0.1, 1.0]))
    s = D.make_schedule(10)
    with pytest.raises(ValueError, match=r"t must lie in 0..9"):
        s.check_t(torch.tensor([10]))
    with pytest.raises(ValueError, match="whole step numbers"):
        s.check_t(torch.tensor([0.5]))


def test_q_sample_is_the_closed_form(cosine: D.NoiseSchedule) -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(6, 1, 8, 8, generator=g)
    noise = torch.randn(6, 1, 8, 8, generator=g)
    t = torch.tensor([0, 1, 50, 100, 198, 199])
    xt = D.q_sample(x0, t, cosine, noise)
    for i, ti in enumerate(t.tolist()):
        ab = cosine.alpha_bars.double()[ti]
        assert torch.allclose(xt[i].double(), ab.sqrt() * x0[i].double() + (1 - ab).sqrt() * noise[i].double(), atol=1e-6)
    # and the noise can be read back exactly
    assert torch.allclose(D.predict_x0(xt, t, noise, cosine), x0, atol=1e-3)


def test_closed_form_matches_t_single_steps() -> None:
    """Noising step by step, x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z, has the law the closed form says."""
    s = D.make_schedule(50, "linear")
    g = torch.Generator().manual_seed(1)
    x0 = torch.full((200_000, 1), 1.5)
    x = x0.clone()
    for t in range(30):
        x = s.alphas[t].sqrt() * x + s.betas[t].sqrt() * torch.randn(x.shape, generator=g)
    ab = float(s.alpha_bars[29])
    assert abs(float(x.mean()) - math.sqrt(ab) * 1.5) < 0.01
    assert abs(float(x.std()) - math.sqrt(1 - ab)) < 0.01
    closed = D.q_sample(x0, torch.full((200_000,), 29), s, torch.randn(x0.shape, generator=g))
    assert abs(float(closed.mean()) - float(x.mean())) < 0.01 and abs(float(closed.std()) - float(x.std())) < 0.01


def test_q_sample_errors(cosine: D.NoiseSchedule) -> None:
    x0 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="noise must have the shape of x0"):
        D.q_sample(x0, torch.zeros(4, dtype=torch.long), cosine, torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"t must have shape \(4,\)"):
        D.q_sample(x0, torch.zeros(3, dtype=torch.long), cosine, torch.zeros(4, 2))
