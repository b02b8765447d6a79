"""Exercise checks for lesson 06 (a convolutional GAN on 8x8 digits), through ``genai_course.checks``.

6.1 ``transposed_conv_size``: the transposed convolution's output size, dilation and output padding
included; 6.2 ``make_conv_generator``: a generator that grows images without transposed convolutions;
6.3 ``make_conv_discriminator``: a discriminator made of convolutions only. Each is a probe and a judge
(see ``_protocol``). The networks' probes record the layer kinds that ran (``_Layers``) and the sizes
every convolution took and gave (``_Convs``), so the judges check the shapes the exercises ask for.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .. import data
from ..utils import same
from ._layers import _layer_advice, _Layers, _stuck_parameters
from ._protocol import CheckFailed, Observed, _call, _exercise, _module_or_stop, _Raised, _stop, _tensor, _text
from .observations import observe

__all__ = ["transposed_conv_size", "make_conv_generator", "make_conv_discriminator"]


# --------------------------------------------------------------------------- 6.1 the output size

_PARAMS = ("size", "kernel", "stride", "padding", "dilation", "output_padding")


def _conv_transpose_cases() -> list[tuple[int, ...]]:
    """(size, kernel, stride, padding, dilation, output_padding) combinations PyTorch accepts (output
    padding smaller than the stride or the dilation) whose output is at least 1 pixel."""
    return [
        (n, k, s, p, d, op)
        for n, k, s, p, d, op in itertools.product((1, 2, 3, 5), (1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (1, 2), (0, 1))
        if op < max(s, d) and (n - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1
    ]


def _case(case: tuple[int, ...], leave_out: int = -1) -> str:
    return ", ".join(f"{name}={value}" for i, (name, value) in enumerate(zip(_PARAMS, case)) if i != leave_out)


def _truth(case: tuple[int, ...]) -> int:
    """nn.ConvTranspose2d's output height for ``case``, from PyTorch itself (zeros: only the shape matters)."""
    n, k, s, p, d, op = case
    out = nn.functional.conv_transpose2d(torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1), stride=(s, 1), padding=(p, 0),
                                         dilation=(d, 1), output_padding=(op, 0))
    return int(out.shape[2])


# What one more step of each setting does to the output, as an idea to look at (never the formula).
_IDEA = {
    "dilation": "dilation spreads the kernel's taps apart: how many pixels does one stamp span?",
    "output_padding": "output_padding adds rows on one side only, after the cropping",
    "padding": "padding rows are cropped from every border",
    "stride": "the stamps sit stride pixels apart",
    "kernel": "a bigger kernel makes every stamp reach further",
    "size": "one more input pixel adds one more stamp",
}
_INTS = ("int", "int64", "int32", "int16", "int8", "uint8")
_ORDER = ("dilation", "output_padding", "padding", "stride", "kernel", "size")  # the exercise's new parts first


def _change(delta: int | float) -> str:
    return "stays the same" if delta == 0 else f"grows by {delta:g}" if delta > 0 else f"shrinks by {-delta:g}"


def _steps(truth: dict[tuple[int, ...], int], i: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pairs of cases that differ only by setting ``i`` one larger."""
    pairs = [(case, case[:i] + (case[i] + 1,) + case[i + 1:]) for case in truth]
    return [(a, b) for a, b in pairs if b in truth]


def _wrong_step(got: dict[tuple[int, ...], int | float], truth: dict[tuple[int, ...], int]) -> str | None:
    """The first setting (in ``_ORDER``) whose one-step change moves the learner's size differently from
    PyTorch's, said in words; None if every step moves alike."""
    k = _PARAMS.index("kernel")
    for case, bigger in _steps(truth, k):  # a size that shrinks as the kernel grows: the ordinary convolution's way
        if got[bigger] < got[case]:
            return (f"when kernel grows from {case[k]} to {case[k] + 1} ({_case(case, k)}), yours shrinks: an ordinary "
                    "convolution's output shrinks as its kernel grows, but a transposed convolution's stamps grow with the kernel")
    for name in _ORDER:
        i = _PARAMS.index(name)
        for case, bigger in _steps(truth, i):
            theirs, ours = got[bigger] - got[case], truth[bigger] - truth[case]
            if theirs != ours:
                return (f"when {name} grows from {case[i]} to {case[i] + 1} ({_case(case, i)}), nn.ConvTranspose2d's output "
                        f"{_change(ours)}, yours {_change(theirs)} ({_IDEA[name]})")
    return None


@_exercise("6.1", "the transposed convolution's output size")
def transposed_conv_size(fn: Callable[..., Any], seen: dict) -> None:
    """fn(size, kernel, stride, padding, dilation, output_padding) -> int: height (= width) of nn.ConvTranspose2d's output."""
    for case in _conv_transpose_cases():
        seen[_case(case)] = observe(_call(f"transposed_conv_size({_case(case)})", fn, *case))


@transposed_conv_size.judge
def _judge_transposed_conv_size(seen: Observed) -> str:
    cases = _conv_transpose_cases()
    got: dict[tuple[int, ...], int | float] = {}
    for case in cases:
        try:
            rec = seen[_case(case)]
        except CheckFailed as failure:
            takes = " (it takes six arguments: size, kernel, stride, padding, dilation, output_padding)" if "positional argument" in str(failure) else ""
            raise CheckFailed(f"{failure}{takes}") from None
        if rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1:
            value = rec["value"].reshape(()).item()
            kind = type(value).__name__
        else:
            value, kind = rec.get("value"), rec["type"]
        if kind in _INTS:
            got[case] = int(value)
        elif kind in ("float", "float64", "float32") and math.isfinite(value):
            got[case] = float(value)
        else:
            raise CheckFailed(f"transposed_conv_size({_case(case)}) should return an int, got {kind}")
    truth = {case: _truth(case) for case in cases}
    wrong = [case for case in cases if got[case] != truth[case]]
    if not wrong:
        floats = [case for case in cases if not isinstance(got[case], int)]
        if floats:
            raise CheckFailed(f"for {_case(floats[0])} you returned {got[floats[0]]!r}, a float: a size is a whole number, return an int")
        return f"matches nn.ConvTranspose2d on {len(cases)} combinations"
    first = wrong[0]
    said = f"for {_case(first)}, nn.ConvTranspose2d gives {truth[first]}, your function returned {got[first]!r} ({len(wrong)} of {len(cases)} cases wrong)"
    step = _wrong_step(got, truth)
    if step is not None:
        raise CheckFailed(f"{said}: {step}")
    offset = got[first] - truth[first]  # every step moves alike: the same offset everywhere
    raise CheckFailed(f"{said}: yours is {abs(offset):g} {'more' if offset > 0 else 'less'} than PyTorch's in every case "
                      "(count the pixels of one stamp again: where does the last stamp end?)")


# --------------------------------------------------------------------------- what the networks' convolutions did


class _Convs(TorchFunctionMode):
    """``with _Convs() as convs:`` records, in order, every 2D convolution computed inside it (an nn.Conv2d,
    nn.ConvTranspose2d or their torch functions) as plain data: [kind, input height, output height]; and
    ``smallest``, the height of the smallest feature maps (4D tensor) made inside it (None if none)."""

    _KINDS = {"conv2d": "Conv2d", "conv_transpose2d": "ConvTranspose2d"}

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[Any]] = []
        self.smallest: int | None = None

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        kind, x = self._KINDS.get(getattr(func, "__name__", "")), (args[0] if args else None)
        if type(out) is torch.Tensor and out.dim() == 4:
            self.smallest = min(int(out.shape[2]), self.smallest or int(out.shape[2]))
            if kind is not None and len(self.calls) < 64 and type(x) is torch.Tensor and x.dim() == 4:
                self.calls.append([kind, int(x.shape[2]), int(out.shape[2])])
        return out


def _path(calls: list[list[Any]]) -> list[int]:
    """The feature-map heights the convolutions went through, in order, each once: [8, 4, 2, 1]."""
    sizes = [n for _, n_in, n_out in calls for n in (n_in, n_out)]
    return [n for i, n in enumerate(sizes) if i == 0 or sizes[i - 1] != n]


def _arrows(sizes: list[int]) -> str:
    return " -> ".join(f"{n}x{n}" for n in sizes)


class _TorchNotImplemented(Exception):
    """Torch's NotImplementedError in a forward pass (nn.Upsample on a flat input): an error to explain, named as torch's."""


_TorchNotImplemented.__name__ = "NotImplementedError"


def _forward(net: Any) -> Callable[..., Any]:
    """net's forward pass, with torch's "Input Error" NotImplementedError turned into an ordinary error."""

    def run(*args: Any) -> Any:
        try:
            return net(*args)
        except NotImplementedError as e:
            if "Input Error" in _text(e):
                raise _TorchNotImplemented(_text(e)) from None
            raise

    return run


def _advice(failing: Any) -> str:
    """_layer_advice, and the same for an upsampling layer given a flat input."""
    if isinstance(failing, dict) and failing.get("kind") == "Upsample" and failing.get("input") is not None and len(failing["input"]) == 2:
        return (f" (an nn.Upsample got a flat input of shape {tuple(failing['input'])}: reshape it to feature maps "
                "(B, channels, height, width) first, for example with nn.Unflatten)")
    return _layer_advice(failing)


def _run_network(seen: dict, key: str, what: str, net: Any, x: torch.Tensor) -> Any:
    """Run the learner's ``net`` on ``x``, recording under ``key`` the output, the layer kinds that ran, the
    convolutions' sizes and, if it raised, the layer it raised in."""
    seen[f"{key}.failing"] = None
    with _Layers() as layers, _Convs() as convs:
        try:
            out = _call(what, _forward(net), x)
        finally:
            seen[f"{key}.failing"] = layers.failing
    seen[f"{key}.out"], seen[f"{key}.layers"], seen[f"{key}.convs"], seen[f"{key}.smallest"] = observe(out), layers.ran, convs.calls, convs.smallest
    return out


# --------------------------------------------------------------------------- 6.2 a generator without transposed convolutions

_G_CASES = ((32, (16, 3)), (8, (16, 3)))  # latent_dim, batch sizes


def _works(net: Any, *args: Any) -> bool:
    try:
        _call("", net, *args)
        return True
    except Exception:
        return False


def _shrinking(calls: list[list[Any]]) -> list[Any] | None:
    """The first ordinary convolution that made its feature maps smaller, if any."""
    return next((c for c in calls if c[0] == "Conv2d" and c[2] < c[1]), None)


def _shrink_advice(conv: list[Any]) -> str:
    return (f"an nn.Conv2d turned {conv[1]}x{conv[1]} feature maps into {conv[2]}x{conv[2]}: here each convolution must keep "
            "the height and width it gets (what padding does its kernel need?)")


def _image_shape_advice(shape: tuple[int, ...], batch: int, calls: list[list[Any]]) -> str:
    """Why a generator's output is not (batch, 1, 8, 8), in the learner's terms."""
    if len(shape) != 4:
        return "reshape the output into images of shape (batch, 1, 8, 8)"
    if shape[0] != batch:
        return f"one image per noise vector: the reshape after the linear layer must keep the batch dimension ({batch})"
    if shape[1] != 1:
        return "the last layer should make 1 channel (grey levels), not " + str(shape[1])
    shrink = _shrinking(calls)
    if shrink is not None:
        return _shrink_advice(shrink)
    return "start from a 2x2 grid of feature maps and double its height and width twice: 2x2 -> 4x4 -> 8x8"


@_exercise("6.2", "a generator without transposed convolutions")
def make_conv_generator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim) -> nn.Module mapping noise (B, latent_dim) to images (B, 1, 8, 8) in [0, 1], growing its
    feature maps by upsampling and ordinary convolutions (no nn.ConvTranspose2d)."""
    torch.manual_seed(0)
    for latent_dim, batches in _G_CASES:
        G = _call(f"make_conv_generator({latent_dim})", fn, latent_dim)
        _module_or_stop(seen, f"G{latent_dim}.module", G)
        for batch in batches:
            key, z = f"G{latent_dim}.{batch}", torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(batch))
            seen[f"{key}.dcgan"] = None
            try:
                out = _run_network(seen, key, f"make_conv_generator({latent_dim}) on noise of shape ({batch}, {latent_dim})", G, z)
            except _Raised:
                seen[f"{key}.dcgan"] = _works(G, z[:, :, None, None])  # the classic DCGAN input (B, latent_dim, 1, 1)?
                raise
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
    return _advice(seen[f"{key}.failing"])


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
            if rec["type"] != "Tensor":
                raise CheckFailed(f"{what} should return a torch.Tensor, but returned {rec['type']}")
            calls = seen[f"{key}.convs"]
            if tuple(rec["shape"]) != (batch, 1, 8, 8):
                raise CheckFailed(f"{what} should give images of shape {(batch, 1, 8, 8)}, but gave shape {tuple(rec['shape'])}: "
                                  + _image_shape_advice(tuple(rec["shape"]), batch, calls))
            out = _tensor(f"the images from {what}", rec)
            lo, hi = out.min().item(), out.max().item()
            if lo < 0 or hi > 1:
                raise CheckFailed(f"pixel values range from {lo:.2f} to {hi:.2f}, but images must lie in [0, 1] like the data: end with a sigmoid (nn.Sigmoid())")
            kinds = {c[0] for c in calls} | set(seen[f"{key}.layers"])
            if "ConvTranspose2d" in kinds:
                raise CheckFailed("your generator uses a transposed convolution (nn.ConvTranspose2d): this exercise asks you to grow the "
                                  "feature maps without one: upsample them (nn.Upsample), then convolve (nn.Conv2d)")
            if "Conv2d" not in kinds:
                mlp = "an MLP (only nn.Linear layers) whose output is reshaped to an image" if "Linear" in kinds else "a network without convolutions"
                raise CheckFailed(f"your generator has no convolution (nn.Conv2d): a convolutional generator is not {mlp}; "
                                  "after each doubling of the feature maps, let an nn.Conv2d work on them")
            shrink = _shrinking(calls)
            if shrink is not None:
                raise CheckFailed(f"{what} gives images of the right shape, but {_shrink_advice(shrink)}")
            sizes = _path(calls)
            if 4 not in sizes or 8 not in sizes:
                raise CheckFailed(f"your convolutions run only on {' and '.join(f'{n}x{n}' for n in sorted(set(sizes)))} feature maps: "
                                  "grow the grid one doubling at a time (2x2 -> 4x4 -> 8x8), with a convolution after each doubling")
            if (least := seen[f"{key}.smallest"]) > 2:
                raise CheckFailed(f"your smallest feature maps are {least}x{least}: this exercise asks for the linear layer's output reshaped "
                                  "into a 2x2 grid (B, C1, 2, 2), then doubled twice, with a convolution after each doubling")
        if out.std(0).max() < 1e-6:
            raise CheckFailed("every noise vector gives the same image: the output must depend on z")
        stuck = seen[f"G{latent_dim}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
    return "images of shape (B, 1, 8, 8) in [0, 1], grown without transposed convolutions, for latent_dim 32 and 8"


# --------------------------------------------------------------------------- 6.3 a discriminator made of convolutions only

_D_PATH = [8, 4, 2, 1]


def _d_images() -> tuple[torch.Tensor, torch.Tensor]:
    """64 images (32 digits, 32 loud noise), and the same batch with every image but the first changed."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([data.load_digits().x_test[:32], 20 * torch.randn(32, 1, 8, 8, generator=g)])  # (64, 1, 8, 8)
    swapped = x.clone()
    swapped[1:] = swapped[1:].flip(0) * 0.5
    return x, swapped


@_exercise("6.3", "a discriminator made of convolutions only")
def make_conv_discriminator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn() -> nn.Module mapping images (B, 1, 8, 8) to logits (B,) with convolutions only: 8x8 -> 4x4 -> 2x2 -> 1x1."""
    torch.manual_seed(0)
    D = _call("make_conv_discriminator()", fn)
    _module_or_stop(seen, "module", D)
    x, swapped = _d_images()
    out = _run_network(seen, "D", "your discriminator on images of shape (64, 1, 8, 8)", D, x)
    if type(out) is not torch.Tensor:
        _stop()
    seen["again"] = observe(_call("your discriminator on images of shape (64, 1, 8, 8)", _forward(D), swapped))
    seen["stuck"] = _stuck_parameters(D, out, lambda y: y.sum(), "the backward pass through your discriminator")


@make_conv_discriminator.judge
def _judge_make_conv_discriminator(seen: Observed) -> str:
    if seen["module"] is not None:
        raise CheckFailed(f"make_conv_discriminator should return a torch.nn.Module, got {seen['module']}")
    try:
        rec = seen["D.out"]
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}{_advice(seen['D.failing'])}") from None
    if rec["type"] == "Tensor" and tuple(rec["shape"]) in ((64, 1), (64, 1, 1, 1)):
        raise CheckFailed(f"the output has shape {tuple(rec['shape'])}: return one logit per image, shape (64,) (flatten or squeeze it)")
    calls, kinds = seen["D.convs"], set(seen["D.layers"])
    sizes = _path(calls)
    if rec["type"] == "Tensor" and tuple(rec["shape"]) != (64,) and sizes and sizes[-1] != 1:
        raise CheckFailed(f"the output for 64 images should have shape (64,), but has shape {tuple(rec['shape'])}: your convolutions "
                          f"take the image {_arrows(sizes)} and leave {sizes[-1]}x{sizes[-1]} maps; the last one should make them 1x1, "
                          "one number per image")
    out = _tensor("the output for 64 images", rec, (64,))
    kinds |= {c[0] for c in calls}
    if "Conv2d" not in kinds:
        raise CheckFailed("your discriminator uses no convolution (nn.Conv2d): this exercise asks for a discriminator made of "
                          "convolutions, not an MLP on the flattened pixels")
    if "Linear" in kinds:
        raise CheckFailed("your discriminator uses a linear layer (nn.Linear): this exercise asks for convolutions only, so the "
                          "last convolution must itself turn each image's 2x2 feature maps into one number")
    if sizes != _D_PATH:
        raise CheckFailed(f"your convolutions take the image {_arrows(sizes)}, but this exercise asks for {_arrows(_D_PATH)}: "
                          "halve it twice, then let one last convolution turn the 2x2 maps into 1x1")
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
    return "one logit per image from convolutions only (8x8 -> 4x4 -> 2x2 -> 1x1), each image judged on its own"
