"""genai_course.diffusion.denoisers: step features, the MLP and the U-Net, labels and the 'no label' branch."""

from __future__ import annotations

import pytest
import torch

from genai_course import diffusion as D


def test_timestep_embedding_tells_steps_apart() -> None:
    e = D.timestep_embedding(torch.arange(200), 64)
    assert e.shape == (200, 64)
    d = torch.cdist(e, e)
    assert float(d[~torch.eye(200, dtype=torch.bool)].min()) > 0.05  # every step distinct
    assert float(d[0, 1]) < float(d[0, 100])  # nearby steps closer than far ones


@pytest.mark.parametrize("fourier", [0, 4])
def test_mlp_denoiser_shapes_and_labels(fourier: int) -> None:
    net = D.MLPDenoiser(64, 3, num_classes=3, fourier=fourier)
    x, t = torch.randn(5, 2), torch.tensor([0, 1, 2, 3, 199])
    out_null = net(x, t)  # no labels: the unconditional branch
    assert out_null.shape == (5, 2)
    assert torch.allclose(out_null, net(x, t, torch.full((5,), 3)))
    assert not torch.allclose(out_null, net(x, t, torch.zeros(5, dtype=torch.long)))
    with pytest.raises(ValueError, match=r"labels must lie in 0..2, or 3"):
        net(x, t, torch.full((5,), 4))
    with pytest.raises(ValueError, match=r"takes x of shape \(B, 2\)"):
        net(torch.randn(5, 3), t)
    with pytest.raises(ValueError, match="whole step numbers"):
        net(x, t.float())
    with pytest.raises(ValueError, match="unconditional"):
        D.MLPDenoiser(16, 2)(x, t, torch.zeros(5, dtype=torch.long))


def test_conv_denoiser_shapes_and_gradients() -> None:
    net = D.ConvDenoiser(16, num_classes=10)
    x = torch.randn(3, 1, 8, 8, requires_grad=True)
    out = net(x, torch.tensor([0, 100, 199]), torch.tensor([1, 2, 10]))
    assert out.shape == (3, 1, 8, 8)
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in net.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        net(torch.randn(3, 64), torch.zeros(3, dtype=torch.long))
