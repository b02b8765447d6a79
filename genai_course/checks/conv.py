"""Exercise checks for lesson 06 (a convolutional GAN on 8x8 digits).

6.1 the transposed convolution's output size ``transposed_conv_size``, 6.2 a convolutional
generator ``make_conv_generator``, 6.3 a convolutional discriminator ``make_conv_discriminator``.
Lessons call them through ``genai_course.checks``: ``checks.make_conv_generator(fn)``.
Each is a probe (``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge
(``@name.judge``: from those observations to the verdict), see ``_protocol``. The probes of the
networks also record which kinds of layers ran (``_Layers``), so that an MLP reshaped to an image
is not taken for a convolutional network; lesson 07's checks use the same recorder.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from .. import data
from ..utils import same
from ._layers import _layer_advice, _Layers, _stuck_parameters
from ._protocol import CheckFailed, Observed, _call, _exercise, _module_or_stop, _Raised, _stop, _tensor
from .observations import observe

__all__ = ["transposed_conv_size", "make_conv_generator", "make_conv_discriminator"]


# --------------------------------------------------------------------------- 6.1 the output size


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


def _case(n: int, k: int, s: int, p: int) -> str:
    return f"size={n}, kernel={k}, stride={s}, padding={p}"


# Sizes a learner's formula typically gives instead, and what to say about each.
_TRANSPOSED_SIZE_SLIPS: list[tuple[Callable[[int, int, int, int], int], str]] = [
    (lambda n, k, s, p: (n - 1) * s + k, "the padding is not cropped: subtract 2 * padding"),
    (lambda n, k, s, p: (n - 1) * s - p + k, "padding is cropped from both sides: subtract 2 * padding, not padding"),
    (lambda n, k, s, p: n * s - 2 * p + k, "the stamps are stride apart, so the last one starts at (size - 1) * stride, not size * stride"),
    (lambda n, k, s, p: (n + 2 * p - k) // s + 1, "that is an ordinary convolution's size (it shrinks the image); the transposed one runs it backwards"),
]
_INTS = ("int", "int64", "int32", "int16", "int8", "uint8")


@_exercise("6.1", "the transposed convolution's output size")
def transposed_conv_size(fn: Callable[..., Any], seen: dict) -> None:
    """fn(size, kernel, stride, padding) -> int: height (= width) of nn.ConvTranspose2d's output."""
    for case in _conv_transpose_cases():
        seen[_case(*case)] = observe(_call(f"transposed_conv_size({_case(*case)})", fn, *case))


@transposed_conv_size.judge
def _judge_transposed_conv_size(seen: Observed) -> str:
    cases = _conv_transpose_cases()
    got: list[int | float] = []
    for case in cases:
        rec = seen[_case(*case)]
        if rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1:
            value = rec["value"].reshape(()).item()
            kind = type(value).__name__
        else:
            value, kind = rec.get("value"), rec["type"]
        if kind in _INTS:
            got.append(int(value))
        elif kind in ("float", "float64", "float32"):
            got.append(float(value))
        else:
            raise CheckFailed(f"transposed_conv_size({_case(*case)}) should return an int, got {kind}")
    # the truth from PyTorch itself: a zero image through a zero kernel (only the shape matters)
    expected = [
        nn.functional.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
        for n, k, s, p in cases
    ]
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    if not wrong:
        floats = [i for i, a in enumerate(got) if not isinstance(a, int)]
        if floats:
            raise CheckFailed(f"for {_case(*cases[floats[0]])} you returned {got[floats[0]]!r}, a float: a size is a whole number, return an int")
        return f"matches nn.ConvTranspose2d on {len(cases)} combinations"
    hint = "out = (size - 1) * stride - 2 * padding + kernel"
    for formula, advice in _TRANSPOSED_SIZE_SLIPS:
        if all(g == formula(*case) for g, case in zip(got, cases)):
            hint = advice
            break
    raise CheckFailed(
        f"for {_case(*cases[wrong[0]])}, nn.ConvTranspose2d gives {expected[wrong[0]]}, "
        f"your function returned {got[wrong[0]]!r} ({len(wrong)} of {len(cases)} cases wrong): {hint}"
    )


# --------------------------------------------------------------------------- 6.2


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


_G_CASES = ((32, (16, 3)), (8, (16, 3)))  # latent_dim, batch sizes


def _noise(batch: int, latent_dim: int) -> torch.Tensor:
    return torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(batch))


def _works(net: Any, *args: Any) -> bool:
    """Whether the learner's ``net`` runs on ``args`` without raising."""
    try:
        _call("", net, *args)
        return True
    except Exception:
        return False


@_exercise("6.2", "a convolutional generator")
def make_conv_generator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim) -> nn.Module mapping noise (B, latent_dim) to images (B, 1, 8, 8) in [0, 1]."""
    torch.manual_seed(0)
    for latent_dim, batches in _G_CASES:
        G = _call(f"make_conv_generator({latent_dim})", fn, latent_dim)
        _module_or_stop(seen, f"G{latent_dim}.module", G)
        for batch in batches:
            key, z = f"G{latent_dim}.{batch}", _noise(batch, latent_dim)
            seen[f"{key}.failing"] = seen[f"{key}.dcgan"] = None
            try:
                with _Layers() as layers:
                    try:
                        out = _call(f"make_conv_generator({latent_dim}) on noise of shape ({batch}, {latent_dim})", G, z)
                    finally:
                        seen[f"{key}.failing"] = layers.failing
            except _Raised:
                seen[f"{key}.dcgan"] = _works(G, z[:, :, None, None])  # the classic DCGAN input (B, latent_dim, 1, 1)?
                raise
            seen[f"{key}.out"], seen[f"{key}.layers"] = observe(out), layers.ran
            if type(out) is not torch.Tensor:
                _stop()
        seen[f"G{latent_dim}.stuck"] = _stuck_parameters(G, out, lambda x: x.pow(2).sum(), "the backward pass through your generator")


def _input_advice(seen: Observed, key: str, latent_dim: int, batch: int) -> str:
    """A hint for a generator that fails on noise (batch, latent_dim): what it seems to expect instead."""
    if seen[f"{key}.dcgan"]:
        return f" (it works on noise of shape ({batch}, {latent_dim}, 1, 1): take (batch, latent_dim) and reshape inside forward)"
    if batch != 16:
        return " (it works on a batch of 16: don't fix the batch size, use -1 or z.shape[0] in .view / .reshape)"
    if latent_dim != 32:
        return " (it works for latent_dim=32: use latent_dim for the first layer's input size, not a fixed number)"
    return _layer_advice(seen[f"{key}.failing"])


@make_conv_generator.judge
def _judge_make_conv_generator(seen: Observed) -> str:
    for latent_dim, batches in _G_CASES:
        if seen[f"G{latent_dim}.module"] is not None:
            raise CheckFailed(f"make_conv_generator should return a torch.nn.Module, got {seen[f'G{latent_dim}.module']}")
        for batch in batches:
            key, what = f"G{latent_dim}.{batch}", f"make_conv_generator({latent_dim}) on noise of shape ({batch}, {latent_dim})"
            try:
                rec = seen[f"{key}.out"]
            except CheckFailed as failure:
                raise CheckFailed(f"{failure}{_input_advice(seen, key, latent_dim, batch)}") from None
            if rec["type"] == "Tensor" and tuple(rec["shape"]) != (batch, 1, 8, 8):
                raise CheckFailed(f"{what} should give images of shape {(batch, 1, 8, 8)}, but gave shape {tuple(rec['shape'])}: "
                                  + _image_shape_advice(tuple(rec["shape"]), batch))
            if rec["type"] != "Tensor":
                raise CheckFailed(f"{what} should return a torch.Tensor, but returned {rec['type']}")
            out = _tensor(f"the images from {what}", rec)
            lo, hi = out.min().item(), out.max().item()
            if lo < 0 or hi > 1:
                raise CheckFailed(f"pixel values range from {lo:.2f} to {hi:.2f}, but images must lie in [0, 1] like the data: end with a sigmoid (nn.Sigmoid())")
            layers = seen[f"{key}.layers"]
            if "ConvTranspose2d" not in layers and "Conv2d" not in layers:
                mlp = "an MLP (only nn.Linear layers) whose output is reshaped to an image" if "Linear" in layers else "a network without convolutions"
                raise CheckFailed(f"your generator uses no transposed convolution (nn.ConvTranspose2d): lesson 06 asks for a convolutional generator, not {mlp}; "
                                  "make a 2x2 grid of feature maps and let nn.ConvTranspose2d(kernel_size=4, stride=2, padding=1) layers double it to 4x4, then 8x8")
        if out.std(0).max() < 1e-6:
            raise CheckFailed("every noise vector gives the same image: the output must depend on z")
        stuck = seen[f"G{latent_dim}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
    return "images of shape (B, 1, 8, 8) in [0, 1] for latent_dim 32 and 8, gradients reach every layer"


# --------------------------------------------------------------------------- 6.3


def _d_images() -> tuple[torch.Tensor, torch.Tensor]:
    """64 images (32 digits, 32 loud noise), and the same batch with every image but the first changed."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([data.load_digits().x_test[:32], 20 * torch.randn(32, 1, 8, 8, generator=g)])  # (64, 1, 8, 8)
    swapped = x.clone()
    swapped[1:] = swapped[1:].flip(0) * 0.5
    return x, swapped


@_exercise("6.3", "a convolutional discriminator")
def make_conv_discriminator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn() -> nn.Module mapping images (B, 1, 8, 8) to logits (B,)."""
    torch.manual_seed(0)
    D = _call("make_conv_discriminator()", fn)
    _module_or_stop(seen, "module", D)
    x, swapped = _d_images()
    seen["failing"] = None
    with _Layers() as layers:
        try:
            out = _call("your discriminator on images of shape (64, 1, 8, 8)", D, x)
        finally:
            seen["failing"] = layers.failing
    seen["out"], seen["layers"] = observe(out), layers.ran
    if type(out) is not torch.Tensor:
        _stop()
    seen["again"] = observe(_call("your discriminator on images of shape (64, 1, 8, 8)", D, swapped))
    seen["stuck"] = _stuck_parameters(D, out, lambda y: y.sum(), "the backward pass through your discriminator")


@make_conv_discriminator.judge
def _judge_make_conv_discriminator(seen: Observed) -> str:
    if seen["module"] is not None:
        raise CheckFailed(f"make_conv_discriminator should return a torch.nn.Module, got {seen['module']}")
    try:
        rec = seen["out"]
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}{_layer_advice(seen['failing'])}") from None
    if rec["type"] == "Tensor" and tuple(rec["shape"]) == (64, 1):
        raise CheckFailed("the output has shape (64, 1): return one logit per image, shape (64,) (use .squeeze(1))")
    out = _tensor("the output for 64 images", rec, (64,))
    if "Conv2d" not in seen["layers"]:
        raise CheckFailed("your discriminator uses no convolution (nn.Conv2d): lesson 06 asks for a convolutional discriminator, not an MLP on the "
                          "flattened pixels; let nn.Conv2d(kernel_size=4, stride=2, padding=1) layers shrink the image (8x8 -> 4x4 -> 2x2) "
                          "and flatten only before the last nn.Linear")
    if out.min() >= 0 and out.max() <= 1:
        raise CheckFailed("the outputs all lie in [0, 1]: they look like probabilities, but the losses expect logits (remove the final sigmoid)")
    # D must judge each image on its own: batch norm would make one image's score depend on the others
    again = seen["again"]
    if again["type"] == "Tensor" and tuple(again["shape"]) == (64,) and not same(again["value"][0], out[0], 1e-4):
        raise CheckFailed("the score of the first image changed when only the other images of the batch changed: "
                          "D must judge each image on its own (no batch norm in the discriminator)")
    stuck = seen["stuck"]
    if stuck:
        raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
    return "one logit per image, each judged on its own"
