"""Exercise checks for lesson 07 (a class-conditional GAN: "draw me a 7").

7.1 appending the label to z ``append_label``, 7.2 a conditional generator
``make_conditional_generator``, 7.3 the projection discriminator's logit ``projection_logits``.
Lessons call them through ``genai_course.checks``: ``checks.append_label(fn)``.
Each is a probe (``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge
(``@name.judge``: from those observations to the verdict), see ``_protocol``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _module_or_stop, _tensor
from ._layers import _layer_advice, _Layers
from .observations import observe

__all__ = ["append_label", "make_conditional_generator", "projection_logits"]


# --------------------------------------------------------------------------- 7.1


def _label_cases() -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """(latent_dim, num_classes, z (B, latent_dim), y (B,)) for append_label."""
    g = torch.Generator().manual_seed(7)
    cases = []
    for latent_dim, num_classes, y in ((5, 10, [7, 0, 3, 9, 1, 7]), (3, 4, [2, 0, 3, 1])):
        cases.append((latent_dim, num_classes, torch.randn(len(y), latent_dim, generator=g), torch.tensor(y)))
    return cases


def _label_what(z: torch.Tensor, num_classes: int) -> str:
    return f"append_label(z of shape {tuple(z.shape)}, y, num_classes={num_classes})"


@_exercise("7.1", "appending the label to z")
def append_label(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(z (B, latent_dim), y (B,) int64, num_classes) -> (B, latent_dim + num_classes): [z, one_hot(y)]."""
    for latent_dim, num_classes, z, y in _label_cases():
        seen[f"{latent_dim},{num_classes}"] = observe(_call(_label_what(z, num_classes), fn, z, y, num_classes))


@append_label.judge
def _judge_append_label(seen: Observed) -> str:
    for latent_dim, num_classes, z, y in _label_cases():
        what, rec = _label_what(z, num_classes), seen[f"{latent_dim},{num_classes}"]
        if rec["type"] != "Tensor":
            raise CheckFailed(f"{what} should return a torch.Tensor, but returned {rec['type']}")
        shape, expected = tuple(rec["shape"]), (len(y), latent_dim + num_classes)
        if shape == (len(y), latent_dim + 1):
            raise CheckFailed(f"{what} has shape {shape}: you appended the label as one number; append its one-hot vector of num_classes={num_classes} entries (F.one_hot(y, num_classes))")
        if len(shape) == 2 and shape[0] == len(y) and shape[1] == latent_dim + 10 and num_classes != 10:
            raise CheckFailed(f"{what} has shape {shape}, expected {expected}: use num_classes, not a fixed 10")
        out = _tensor(what, rec, expected, dtype=None)
        if rec["dtype"] != "torch.float32":
            raise CheckFailed(f"{what} should have dtype torch.float32 like z, but has dtype {rec['dtype']}: convert the one-hot labels with .float() (or .to(z.dtype))")
        one_hot = nn.functional.one_hot(y, num_classes).float()  # (B, K)
        if torch.equal(out, torch.cat([one_hot, z], dim=1)):
            raise CheckFailed("the one-hot label comes first: put it after z, torch.cat([z, one_hot], dim=1), the order the library's generator uses")
        if not torch.equal(out[:, :latent_dim], z):
            raise CheckFailed(f"the first {latent_dim} columns should be z itself, unchanged (then the one-hot label)")
        block = out[:, latent_dim:]  # (B, K)
        if not torch.equal(block, one_hot):
            is_one_hot = bool(((block == 0) | (block == 1)).all() and (block.sum(1) == 1).all())
            if not is_one_hot:
                raise CheckFailed(f"the last {num_classes} columns should be one-hot: all 0 except a single 1 (got the row {[round(v, 3) for v in block[0].tolist()]} for label {int(y[0])})")
            raise CheckFailed(f"the 1 is in the wrong column: for label {int(y[0])} it should be column {int(y[0])} of the one-hot part (got column {int(block[0].argmax())})")
    return "z, then one_hot(y), for 10 and for 4 classes"


# --------------------------------------------------------------------------- 7.2


def _images(what: str, rec: Any, batch: int) -> torch.Tensor:
    """A generator's output record: (batch, 1, 8, 8) float32 in [0, 1], or a learner-terms failure."""
    if rec["type"] == "Tensor" and tuple(rec["shape"]) == (batch, 64):
        raise CheckFailed(f"{what} has shape {tuple(rec['shape'])}: reshape it to images, (B, 1, 8, 8): batch, channel, height, width")
    out = _tensor(what, rec, (batch, 1, 8, 8))
    lo, hi = float(out.min()), float(out.max())
    if lo < 0 or hi > 1:
        raise CheckFailed(f"pixels must lie in [0, 1] like the data, but range from {lo:.2f} to {hi:.2f}: end with a sigmoid")
    return out


_COND_CASES = ((16, 10), (8, 3))  # latent_dim, num_classes
_WEIGHTED = ("Linear", "ConvTranspose2d", "Conv2d")  # the layers whose input says how the label goes in


def _cond_inputs(latent_dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of 2K: every label twice, each time with different noise: z (2K, latent_dim), y (2K,)."""
    z = torch.randn(2 * num_classes, latent_dim, generator=torch.Generator().manual_seed(1))
    return z, torch.arange(num_classes).repeat(2)


def _cond_what(latent_dim: int, num_classes: int) -> str:
    return f"your generator on z of shape {(2 * num_classes, latent_dim)} and labels of shape {(2 * num_classes,)}"


@_exercise("7.2", "a conditional generator")
def make_conditional_generator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim, num_classes) -> nn.Module with forward(z (B, latent_dim), y (B,)) -> (B, 1, 8, 8) in [0, 1]."""
    torch.manual_seed(0)
    for latent_dim, num_classes in _COND_CASES:
        key = f"G{latent_dim},{num_classes}"
        G = _call(f"make_conditional_generator({latent_dim}, {num_classes})", fn, latent_dim, num_classes)
        _module_or_stop(seen, f"{key}.module", G)
        z, y = _cond_inputs(latent_dim, num_classes)
        what = _cond_what(latent_dim, num_classes)
        seen[f"{key}.failing"] = None
        with _Layers() as layers:
            try:
                x = _call(what, G, z, y)
            finally:
                seen[f"{key}.failing"] = layers.failing
        seen[f"{key}.x"], seen[f"{key}.calls"], seen[f"{key}.layers"] = observe(x), layers.calls, layers.ran
        # the same noise for every label: the images may differ only through y
        seen[f"{key}.labels"] = observe(_call(what, G, z[:1].repeat(num_classes, 1), torch.arange(num_classes)))
        # the same label for every noise vector: the images must still differ through z
        seen[f"{key}.noise"] = observe(_call(what, G, z[:num_classes], torch.zeros(num_classes, dtype=torch.long)))
        if type(x) is torch.Tensor and x.is_floating_point() and x.requires_grad:
            _call("the backward pass through your generator", lambda: x.pow(2).sum().backward())
        seen[f"{key}.stuck"] = [name for name, p in G.named_parameters() if name.endswith("weight") and (p.grad is None or not p.grad.abs().sum() > 0)]


def _label_input_advice(failing: Any, latent_dim: int, num_classes: int) -> str:
    """A hint for a generator whose layer raised: a label of a fixed 10 classes, or what the layer got."""
    if isinstance(failing, dict) and failing.get("kind") in _WEIGHTED and failing.get("input") is not None:
        shape = failing["input"]
        if num_classes != 10 and len(shape) >= 2 and shape[1] == latent_dim + 10:
            return f" (your first layer got latent_dim + 10 = {latent_dim + 10} inputs for num_classes={num_classes}: use num_classes for the one-hot label, not a fixed 10)"
    return _layer_advice(failing, f"the first layer gets z and the one-hot label, latent_dim + num_classes = {latent_dim + num_classes} numbers")


def _label_as_number(calls: list[dict[str, Any]], layers: list[str], latent_dim: int, batch: int) -> str | None:
    """Where a generator takes its label as one number (from the layers that ran): its first Linear or
    convolution takes latent_dim + 1 inputs, or a Linear takes one number per example; None if not."""
    if "Embedding" in layers:  # a learned vector per label: not one number
        return None
    weighted = [c for c in calls if c["kind"] in _WEIGHTED and c["input"] is not None and len(c["input"]) >= 2]
    if weighted and weighted[0]["input"][1] == latent_dim + 1:
        return f"its first layer takes latent_dim + 1 = {latent_dim + 1} inputs"
    if any(c["kind"] == "Linear" and c["input"] == [batch, 1] for c in weighted):
        return "an nn.Linear takes it as 1 input"
    return None


@make_conditional_generator.judge
def _judge_make_conditional_generator(seen: Observed) -> str:
    for latent_dim, num_classes in _COND_CASES:
        key = f"G{latent_dim},{num_classes}"
        if seen[f"{key}.module"] is not None:
            raise CheckFailed(f"make_conditional_generator should return a torch.nn.Module, got {seen[f'{key}.module']}")
        try:
            rec = seen[f"{key}.x"]
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}{_label_input_advice(seen[f'{key}.failing'], latent_dim, num_classes)}") from None
        _images(f"the output of {_cond_what(latent_dim, num_classes)}", rec, 2 * num_classes)
        if _images("the output", seen[f"{key}.labels"], num_classes).std(0).max() < 1e-6:
            raise CheckFailed("the same z with labels 0, 1, 2, ... gives identical images: the generator ignores its label y; append one_hot(y) to z before the first layer")
        if _images("the output", seen[f"{key}.noise"], num_classes).std(0).max() < 1e-6:
            raise CheckFailed("different z with the same label give identical images: the output must depend on z too")
        where = _label_as_number(seen[f"{key}.calls"], seen[f"{key}.layers"], latent_dim, 2 * num_classes)
        if where is not None:
            raise CheckFailed(f"your generator gets the label as one number ({where}), as if label 7 were 'more' than label 3: "
                              f"append its one-hot vector of num_classes={num_classes} entries to z instead (your append_label)")
        stuck = seen[f"{key}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
    return "(B, 1, 8, 8) in [0, 1], depends on both z and y"


# --------------------------------------------------------------------------- 7.3

_B, _F, _K = 12, 6, 10


def _projection_case() -> tuple[torch.Tensor, torch.Tensor, nn.Embedding, nn.Linear]:
    """h (B, F), y (B,), embed nn.Embedding(K, F), head nn.Linear(F, 1), the same every time."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        embed, head = nn.Embedding(_K, _F), nn.Linear(_F, 1)
    h = torch.randn(_B, _F, generator=torch.Generator().manual_seed(3))
    return h, torch.tensor([7, 0, 3, 9, 1, 7, 2, 2, 5, 4, 8, 6]), embed, head


@_exercise("7.3", "the projection discriminator's logit")
def projection_logits(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(h (B, F), y (B,), embed nn.Embedding(K, F), head nn.Linear(F, 1)) -> logits (B,):
    head(h) + <embed(y), h>."""
    h, y, embed, head = _projection_case()
    out = _call("projection_logits(h, y, embed, head)", fn, h, y, embed, head)
    seen["out"] = observe(out)
    if type(out) is torch.Tensor and out.is_floating_point() and out.requires_grad:
        _call("the backward pass through your logits", lambda: out.sum().backward())
    seen["grads"] = head.weight.grad is not None and embed.weight.grad is not None and bool(embed.weight.grad.abs().sum() > 0)


@projection_logits.judge
def _judge_projection_logits(seen: Observed) -> str:
    h, y, embed, head = _projection_case()
    B, F = _B, _F
    with torch.no_grad():
        unconditional = head(h).squeeze(1)  # (B,)
        projection = (embed(y) * h).sum(dim=1)  # (B,) <embed(y), h>
    ref = unconditional + projection
    rec = seen["out"]
    shape = tuple(rec["shape"]) if rec["type"] == "Tensor" else None
    if shape == (B, 1):
        raise CheckFailed(f"the output has shape ({B}, 1): return one logit per example, shape ({B},) (use .squeeze(1))")
    if shape == (B, F):
        raise CheckFailed(f"the output has shape ({B}, {F}), one number per feature: sum embed(y) * h over the features (dim=1) to get the inner product")
    if shape == (B, B) and same(rec["value"], unconditional[:, None] + projection[None, :]):
        raise CheckFailed(f"the output should have shape ({B},), but has shape ({B}, {B}): head(h) has shape ({B}, 1), and adding the ({B},) "
                          f"projection to it broadcasts to ({B}, {B}); squeeze head(h) to ({B},) first (.squeeze(1))")
    out = _tensor(f"the output of projection_logits(h, y, embed, head) for a batch of {B}", rec, (B,))
    if not same(out, ref):
        if same(out, unconditional):
            raise CheckFailed("the logit ignores the label: add the projection term <embed(y), h>, that is (embed(y) * h).sum(dim=1)")
        if same(out, projection):
            raise CheckFailed("the unconditional term is missing: the logit is head(h) (squeezed to (B,)) plus <embed(y), h>")
        if same(out, torch.sigmoid(ref)):
            raise CheckFailed("the outputs look like probabilities: return logits (remove the sigmoid)")
        if same(out, unconditional + projection / F):
            raise CheckFailed("that is the mean of embed(y) * h over the features: the inner product <embed(y), h> is their sum, .sum(dim=1)")
        if same(out, unconditional + projection.sum()):
            raise CheckFailed("you summed embed(y) * h over the whole batch: the inner product sums over each example's features only, .sum(dim=1)")
        wrong_rows = int((~torch.isclose(out, ref, atol=1e-5, rtol=1e-5)).sum())
        raise CheckFailed(f"{wrong_rows} of {B} logits differ from head(h) + <embed(y), h> (first example: got {out[0].item():.4f}, expected {ref[0].item():.4f})")
    if not seen["grads"]:
        raise CheckFailed("the gradient does not reach both head and embed: compute the logit from head(h) and embed(y) without .detach() or torch.no_grad()")
    return "head(h) + <embed(y), h>, with gradients to both"
