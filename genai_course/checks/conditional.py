"""Exercise checks for lesson 07 (a class-conditional GAN: "draw me a 7").

7.1 appending the label to z ``append_label``, 7.2 a conditional generator
``make_conditional_generator``, 7.3 the projection discriminator's logit ``projection_logits``.
Lessons call them through ``genai_course.checks``: ``checks.append_label(fn)``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..utils import same
from ._protocol import CheckFailed, _call, _exercise, _tensor

__all__ = ["append_label", "make_conditional_generator", "projection_logits"]


def _one_hot_block(out: torch.Tensor, latent_dim: int, num_classes: int) -> torch.Tensor:
    """The last num_classes columns of append_label's output."""
    return out[:, latent_dim : latent_dim + num_classes]


@_exercise("7.1", "appending the label to z")
def append_label(fn: Callable[..., torch.Tensor]) -> str:
    """fn(z (B, latent_dim), y (B,) int64, num_classes) -> (B, latent_dim + num_classes): [z, one_hot(y)]."""
    g = torch.Generator().manual_seed(7)
    for latent_dim, num_classes, y in ((5, 10, [7, 0, 3, 9, 1, 7]), (3, 4, [2, 0, 3, 1])):
        y = torch.tensor(y)
        z = torch.randn(len(y), latent_dim, generator=g)
        what = f"append_label(z of shape {tuple(z.shape)}, y, num_classes={num_classes})"
        out = _call(what, fn, z, y, num_classes)
        if not isinstance(out, torch.Tensor):
            raise CheckFailed(f"{what} should return a torch.Tensor, but returned {type(out).__name__}")
        expected = (len(y), latent_dim + num_classes)
        if out.dim() == 2 and out.shape == (len(y), latent_dim + 1):
            raise CheckFailed(f"{what} has shape {tuple(out.shape)}: you appended the label as one number; append its one-hot vector of num_classes={num_classes} entries (F.one_hot(y, num_classes))")
        if out.dim() == 2 and out.shape[0] == len(y) and out.shape[1] == latent_dim + 10 and num_classes != 10:
            raise CheckFailed(f"{what} has shape {tuple(out.shape)}, expected {expected}: use num_classes, not a fixed 10")
        _tensor(what, out, expected, dtype=None)
        if out.dtype != torch.float32:
            raise CheckFailed(f"{what} should have dtype torch.float32 like z, but has dtype {out.dtype}: convert the one-hot labels with .float() (or .to(z.dtype))")
        one_hot = nn.functional.one_hot(y, num_classes).float()  # (B, K)
        if torch.equal(out, torch.cat([one_hot, z], dim=1)):
            raise CheckFailed("the one-hot label comes first: put it after z, torch.cat([z, one_hot], dim=1), the order the library's generator uses")
        if not torch.equal(out[:, :latent_dim], z):
            raise CheckFailed(f"the first {latent_dim} columns should be z itself, unchanged (then the one-hot label)")
        block = _one_hot_block(out, latent_dim, num_classes)
        if not torch.equal(block, one_hot):
            is_one_hot = bool(((block == 0) | (block == 1)).all() and (block.sum(1) == 1).all())
            if not is_one_hot:
                raise CheckFailed(f"the last {num_classes} columns should be one-hot: all 0 except a single 1 (got the row {[round(v, 3) for v in block[0].tolist()]} for label {int(y[0])})")
            raise CheckFailed(f"the 1 is in the wrong column: for label {int(y[0])} it should be column {int(y[0])} of the one-hot part (got column {int(block[0].argmax())})")
    return "z, then one_hot(y), for 10 and for 4 classes"


def _images(what: str, out: Any, batch: int) -> torch.Tensor:
    """A generator's output: (batch, 1, 8, 8) float32 in [0, 1], or a learner-terms failure."""
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch, 64):
        raise CheckFailed(f"{what} has shape {tuple(out.shape)}: reshape it to images, (B, 1, 8, 8): batch, channel, height, width")
    out = _tensor(what, out, (batch, 1, 8, 8))
    lo, hi = float(out.detach().min()), float(out.detach().max())
    if lo < 0 or hi > 1:
        raise CheckFailed(f"pixels must lie in [0, 1] like the data, but range from {lo:.2f} to {hi:.2f}: end with a sigmoid")
    return out


@_exercise("7.2", "a conditional generator")
def make_conditional_generator(fn: Callable[..., nn.Module]) -> str:
    """fn(latent_dim, num_classes) -> nn.Module with forward(z (B, latent_dim), y (B,)) -> (B, 1, 8, 8) in [0, 1]."""
    torch.manual_seed(0)
    for latent_dim, num_classes in ((16, 10), (8, 3)):
        G = _call(f"make_conditional_generator({latent_dim}, {num_classes})", fn, latent_dim, num_classes)
        if not isinstance(G, nn.Module):
            raise CheckFailed(f"make_conditional_generator should return a torch.nn.Module, got {type(G).__name__}")
        g = torch.Generator().manual_seed(1)
        # batch of 2K: every label twice, each time with different noise
        z = torch.randn(2 * num_classes, latent_dim, generator=g)
        y = torch.arange(num_classes).repeat(2)  # (2K,)
        what = f"your generator on z of shape {tuple(z.shape)} and labels of shape {tuple(y.shape)}"
        x = _images(f"the output of {what}", _call(what, G, z, y), 2 * num_classes)
        # the same noise for every label: the images may differ only through y
        same_z = z[:1].repeat(num_classes, 1)  # (K, latent_dim)
        x_labels = _images("the output", _call(what, G, same_z, torch.arange(num_classes)), num_classes)
        if x_labels.std(0).max() < 1e-6:
            raise CheckFailed("the same z with labels 0, 1, 2, ... gives identical images: the generator ignores its label y; append one_hot(y) to z before the first layer")
        # the same label for every noise vector: the images must still differ through z
        x_noise = _images("the output", _call(what, G, z[:num_classes], torch.zeros(num_classes, dtype=torch.long)), num_classes)
        if x_noise.std(0).max() < 1e-6:
            raise CheckFailed("different z with the same label give identical images: the output must depend on z too")
        x.pow(2).sum().backward()
        stuck = [name for name, p in G.named_parameters() if name.endswith("weight") and (p.grad is None or not p.grad.abs().sum() > 0)]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
    return "(B, 1, 8, 8) in [0, 1], depends on both z and y"


@_exercise("7.3", "the projection discriminator's logit")
def projection_logits(fn: Callable[..., torch.Tensor]) -> str:
    """fn(h (B, F), y (B,), embed nn.Embedding(K, F), head nn.Linear(F, 1)) -> logits (B,):
    head(h) + <embed(y), h>."""
    torch.manual_seed(0)
    B, F, K = 12, 6, 10
    h = torch.randn(B, F, generator=torch.Generator().manual_seed(3))
    y = torch.tensor([7, 0, 3, 9, 1, 7, 2, 2, 5, 4, 8, 6])
    embed, head = nn.Embedding(K, F), nn.Linear(F, 1)
    what = "projection_logits(h, y, embed, head)"
    out = _call(what, fn, h, y, embed, head)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, 1):
        raise CheckFailed(f"the output has shape ({B}, 1): return one logit per example, shape ({B},) (use .squeeze(1))")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, F):
        raise CheckFailed(f"the output has shape ({B}, {F}), one number per feature: sum embed(y) * h over the features (dim=1) to get the inner product")
    out = _tensor(f"the output of {what} for a batch of {B}", out, (B,))
    with torch.no_grad():
        unconditional = head(h).squeeze(1)  # (B,)
        projection = (embed(y) * h).sum(dim=1)  # (B,) <embed(y), h>
    ref = unconditional + projection
    if not same(out, ref):
        if same(out, unconditional):
            raise CheckFailed("the logit ignores the label: add the projection term <embed(y), h>, that is (embed(y) * h).sum(dim=1)")
        if same(out, projection):
            raise CheckFailed("the unconditional term is missing: the logit is head(h) (squeezed to (B,)) plus <embed(y), h>")
        if same(out, torch.sigmoid(ref)):
            raise CheckFailed("the outputs look like probabilities: return logits (remove the sigmoid)")
        wrong_rows = int((~torch.isclose(out, ref, atol=1e-5, rtol=1e-5)).sum())
        raise CheckFailed(f"{wrong_rows} of {B} logits differ from head(h) + <embed(y), h> (first example: got {out[0].item():.4f}, expected {ref[0].item():.4f})")
    out.sum().backward()
    if head.weight.grad is None or embed.weight.grad is None or not embed.weight.grad.abs().sum() > 0:
        raise CheckFailed("the gradient does not reach both head and embed: compute the logit from head(h) and embed(y) without .detach() or torch.no_grad()")
    return "head(h) + <embed(y), h>, with gradients to both"
