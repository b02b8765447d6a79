"""Exercise checks for lesson 06 (a convolutional GAN on 8x8 digits).

6.1 the transposed convolution's output size ``transposed_conv_size``, 6.2 a convolutional
generator ``make_conv_generator``, 6.3 a convolutional discriminator ``make_conv_discriminator``.
Lessons call them through ``genai_course.checks``: ``checks.make_conv_generator(fn)``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .. import data
from ..utils import same
from ._protocol import CheckFailed, _call, _exercise, _tensor

__all__ = ["transposed_conv_size", "make_conv_generator", "make_conv_discriminator"]


def _conv_transpose_cases() -> list[tuple[int, int, int, int]]:
    """(size, kernel, stride, padding) combinations whose output is at least 1 pixel."""
    return [
        (size, kernel, stride, padding)
        for size in (1, 2, 3, 4, 7)
        for kernel in (1, 2, 3, 4, 5)
        for stride in (1, 2, 3)
        for padding in (0, 1, 2)
        if (size - 1) * stride - 2 * padding + kernel >= 1
    ]


# Sizes a learner's formula typically gives instead, and what to say about each.
_TRANSPOSED_SIZE_SLIPS: list[tuple[Callable[[int, int, int, int], int], str]] = [
    (lambda n, k, s, p: (n - 1) * s + k, "the padding is not cropped: subtract 2 * padding"),
    (lambda n, k, s, p: (n - 1) * s - p + k, "padding is cropped from both sides: subtract 2 * padding, not padding"),
    (lambda n, k, s, p: n * s - 2 * p + k, "the stamps are stride apart, so the last one starts at (size - 1) * stride, not size * stride"),
    (lambda n, k, s, p: (n + 2 * p - k) // s + 1, "that is an ordinary convolution's size (it shrinks the image); the transposed one runs it backwards"),
]


@_exercise("6.1", "the transposed convolution's output size")
def transposed_conv_size(fn: Callable[..., Any]) -> str:
    """fn(size, kernel, stride, padding) -> int: height (= width) of nn.ConvTranspose2d's output."""
    cases = _conv_transpose_cases()
    got: list[Any] = []
    for size, kernel, stride, padding in cases:
        case = f"size={size}, kernel={kernel}, stride={stride}, padding={padding}"
        out = _call(f"transposed_conv_size({case})", fn, size, kernel, stride, padding)
        if isinstance(out, torch.Tensor) and out.numel() == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, (int, float)):
            raise CheckFailed(f"transposed_conv_size({case}) should return an int, got {type(out).__name__}")
        got.append(out)
    # the truth from PyTorch itself: a zero image through a zero kernel (only the shape matters)
    expected = [
        nn.functional.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
        for n, k, s, p in cases
    ]
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    if not wrong:
        floats = [i for i, a in enumerate(got) if not isinstance(a, int)]
        if floats:
            n, k, s, p = cases[floats[0]]
            raise CheckFailed(
                f"for size={n}, kernel={k}, stride={s}, padding={p} you returned {got[floats[0]]!r}, a float: "
                "a size is a whole number, return an int"
            )
        return f"matches nn.ConvTranspose2d on {len(cases)} combinations"
    n, k, s, p = cases[wrong[0]]
    hint = "out = (size - 1) * stride - 2 * padding + kernel"
    for formula, advice in _TRANSPOSED_SIZE_SLIPS:
        if all(g == formula(*case) for g, case in zip(got, cases)):
            hint = advice
            break
    raise CheckFailed(
        f"for size={n}, kernel={k}, stride={s}, padding={p}, nn.ConvTranspose2d gives {expected[wrong[0]]}, "
        f"your function returned {got[wrong[0]]!r} ({len(wrong)} of {len(cases)} cases wrong): {hint}"
    )


def _stuck_parameters(net: nn.Module) -> list[str]:
    """Parameters the backward pass never reached (a bias right before batch norm gets ~0, but not None)."""
    return [name for name, p in net.named_parameters() if p.grad is None]


def _image_shape_advice(shape: tuple[int, ...], batch: int) -> str:
    """Why a generator's output is not (batch, 1, 8, 8), in the learner's terms."""
    if len(shape) != 4:
        return "reshape the output into images of shape (batch, 1, 8, 8)"
    if shape[0] != batch:
        return f"one image per noise vector: the .view / .reshape after the linear layer must keep the batch dimension ({batch})"
    if shape[1] != 1:
        return "the last layer should make 1 channel (grey levels), not " + str(shape[1])
    return (
        "each ConvTranspose2d(kernel_size=4, stride=2, padding=1) doubles height and width "
        "(out = (in - 1) * stride - 2 * padding + kernel): start from 2x2 and use two of them"
    )


@_exercise("6.2", "a convolutional generator")
def make_conv_generator(fn: Callable[..., nn.Module]) -> str:
    """fn(latent_dim) -> nn.Module mapping noise (B, latent_dim) to images (B, 1, 8, 8) in [0, 1]."""
    torch.manual_seed(0)
    for latent_dim in (32, 8):
        G = _call(f"make_conv_generator({latent_dim})", fn, latent_dim)
        if not isinstance(G, nn.Module):
            raise CheckFailed(f"make_conv_generator should return a torch.nn.Module, got {type(G).__name__}")
        for batch in (16, 3):
            z = torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(batch))
            what = f"make_conv_generator({latent_dim}) on noise of shape ({batch}, {latent_dim})"
            try:
                out = _call(what, G, z)
            except CheckFailed as failure:
                raise CheckFailed(f"{failure}{_input_advice(G, z, latent_dim, batch)}") from None
            if not isinstance(out, torch.Tensor):
                raise CheckFailed(f"{what} should return a torch.Tensor, but returned {type(out).__name__}")
            if tuple(out.shape) != (batch, 1, 8, 8):
                raise CheckFailed(
                    f"{what} should give images of shape {(batch, 1, 8, 8)}, but gave shape {tuple(out.shape)}: "
                    + _image_shape_advice(tuple(out.shape), batch)
                )
            _tensor(f"the images from {what}", out)
            lo, hi = out.min().item(), out.max().item()
            if lo < 0 or hi > 1:
                raise CheckFailed(
                    f"pixel values range from {lo:.2f} to {hi:.2f}, but images must lie in [0, 1] like the data: "
                    "end with a sigmoid (nn.Sigmoid())"
                )
        if out.std(0).max() < 1e-6:
            raise CheckFailed("every noise vector gives the same image: the output must depend on z")
        out.pow(2).sum().backward()
        stuck = _stuck_parameters(G)
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
    return "images of shape (B, 1, 8, 8) in [0, 1] for latent_dim 32 and 8, gradients reach every layer"


def _input_advice(G: nn.Module, z: torch.Tensor, latent_dim: int, batch: int) -> str:
    """A hint for a generator that fails on noise (batch, latent_dim): what it seems to expect instead."""
    try:
        G(z[:, :, None, None])  # the classic DCGAN input (B, latent_dim, 1, 1)?
        return f" (it works on noise of shape ({batch}, {latent_dim}, 1, 1): take (batch, latent_dim) and reshape inside forward)"
    except Exception:
        pass
    if batch != 16:
        return " (it works on a batch of 16: don't fix the batch size, use -1 or z.shape[0] in .view / .reshape)"
    if latent_dim != 32:
        return " (it works for latent_dim=32: use latent_dim for the first layer's input size, not a fixed number)"
    return ""


@_exercise("6.3", "a convolutional discriminator")
def make_conv_discriminator(fn: Callable[..., nn.Module]) -> str:
    """fn() -> nn.Module mapping images (B, 1, 8, 8) to logits (B,)."""
    torch.manual_seed(0)
    D = _call("make_conv_discriminator()", fn)
    if not isinstance(D, nn.Module):
        raise CheckFailed(f"make_conv_discriminator should return a torch.nn.Module, got {type(D).__name__}")
    g = torch.Generator().manual_seed(0)
    x = torch.cat([data.load_digits().x_test[:32], 20 * torch.randn(32, 1, 8, 8, generator=g)])  # digits and loud noise
    out = _call("your discriminator on images of shape (64, 1, 8, 8)", D, x)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (64, 1):
        raise CheckFailed("the output has shape (64, 1): return one logit per image, shape (64,) (use .squeeze(1))")
    out = _tensor("the output for 64 images", out, (64,))
    if out.min() >= 0 and out.max() <= 1:
        raise CheckFailed("the outputs all lie in [0, 1]: they look like probabilities, but the losses expect logits (remove the final sigmoid)")
    # D must judge each image on its own: batch norm would make one image's score depend on the others
    swapped = x.clone()
    swapped[1:] = swapped[1:].flip(0) * 0.5
    again = _call("your discriminator on images of shape (64, 1, 8, 8)", D, swapped)
    if isinstance(again, torch.Tensor) and again.shape == out.shape and not same(again[0], out[0], 1e-4):
        raise CheckFailed(
            "the score of the first image changed when only the other images of the batch changed: "
            "D must judge each image on its own (no batch norm in the discriminator)"
        )
    out.sum().backward()
    stuck = _stuck_parameters(D)
    if stuck:
        raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
    return "one logit per image, each judged on its own"
