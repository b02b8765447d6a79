"""genai_course.diffusion.training: the EMA update and a DDPM that learns a Gaussian blob."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_course import diffusion as D


def test_ema_update() -> None:
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    before = [p.clone() for p in a.parameters()]
    D.update_ema(a, b, 0.9)
    for pa, p0, pb in zip(a.parameters(), before, b.parameters()):
        assert torch.allclose(pa, 0.9 * p0 + 0.1 * pb)


def test_train_ddpm_learns_and_checks_its_data() -> None:
    torch.manual_seed(0)
    model = D.DDPM(D.DDPMConfig("points", T=50, width=64, depth=2))
    ema = D.ema_copy(model)
    x = torch.randn(2048, 2) * 0.1 + torch.tensor([0.5, -0.5])
    h = D.train_ddpm(model, x, None, D.DDPMTrainConfig(steps=300, batch_size=128, lr=3e-3, ema=0.95), ema=ema, progress=False)
    assert len(h.loss) == 300 and sum(h.loss[-50:]) < 0.5 * sum(h.loss[:50])
    s = ema.sample(2000, sampler="ddim", steps=20, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(s.mean(0), torch.tensor([0.5, -0.5]), atol=0.05)
    assert not any(p.requires_grad for p in ema.parameters())
    with pytest.raises(ValueError, match=r"training data must have shape \(N, 2\)"):
        D.train_ddpm(model, torch.zeros(10, 3), None, D.DDPMTrainConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match="labels y are needed"):
        D.train_ddpm(model, x, torch.zeros(2048, dtype=torch.long), D.DDPMTrainConfig(steps=1), progress=False)
