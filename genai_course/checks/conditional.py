"""Exercise checks for lesson 07 (a class-conditional GAN: "draw me a 7").

Each exercise is a variation on the lesson's code, not a copy of it: 7.1 ``append_label``, a
concatenation discriminator's input (the label as image channels after the image's own), 7.2
``make_conditional_generator``, a generator that takes its label through a learned embedding
(``nn.Embedding``) instead of the lesson's one-hot vector, 7.3 ``projection_logits``, a projection
discriminator's logits for every label at once, (B, K).
Lessons call them through ``genai_course.checks``: ``checks.append_label(fn)``.
Each is a probe (``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge
(``@name.judge``: from those observations to the verdict), see ``_protocol``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _module_or_stop, _tensor, _with_advice
from ._layers import _layer_advice, _Layers
from .observations import observe

__all__ = ["append_label", "make_conditional_generator", "projection_logits"]


# --------------------------------------------------------------------------- 7.1


def _channel_cases() -> list[tuple[int, torch.Tensor, torch.Tensor]]:
    """(num_classes, x (B, C, H, W), y (B,)) for append_label: one digit-sized case, one with two image
    channels, four classes and a height unlike the width (so no size can be hard-wired)."""
    g = torch.Generator().manual_seed(7)
    cases = []
    for shape, num_classes, y in (((6, 1, 8, 8), 10, [7, 0, 3, 9, 1, 7]), ((4, 2, 4, 6), 4, [2, 0, 3, 1])):
        cases.append((num_classes, torch.rand(*shape, generator=g), torch.tensor(y)))
    return cases


def _channel_what(x: torch.Tensor, num_classes: int) -> str:
    return f"append_label(x of shape {tuple(x.shape)}, y, num_classes={num_classes})"


def _label_maps(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The label channels the check expects: (B, K, H, W), channel y all ones, the others all zeros."""
    one_hot = nn.functional.one_hot(y, num_classes).to(x.dtype)  # (B, K)
    return one_hot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])


@_exercise("7.1", "the label as image channels")
def append_label(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(x (B, C, H, W), y (B,) int64, num_classes) -> (B, C + num_classes, H, W): x's channels, then one
    channel per class, all ones for the label's class and all zeros for the others."""
    for num_classes, x, y in _channel_cases():
        given = x.clone()
        seen[f"{num_classes}.out"] = observe(_call(_channel_what(x, num_classes), fn, x, y, num_classes))
        seen[f"{num_classes}.x_changed"] = not torch.equal(x, given)


@append_label.judge
def _judge_append_label(seen: Observed) -> str:
    for num_classes, x, y in _channel_cases():
        what, (B, C, H, W) = _channel_what(x, num_classes), x.shape
        try:
            rec = seen[f"{num_classes}.out"]
        except CheckFailed as failure:
            raise _with_advice(failure, [(("Sizes of tensors must match except in dimension 1",),
                                          f"the label channels must have the image's size, height {H} and width {W}, in that order, "
                                          "to be joined to it")]) from None
        if rec["type"] != "Tensor":
            raise CheckFailed(f"{what} should return a torch.Tensor, but returned {rec['type']}")
        shape, expected = tuple(rec["shape"]), (B, C + num_classes, H, W)
        if shape == (B, C + 1, H, W):
            raise CheckFailed(f"{what} has shape {shape}: you added the label as one channel holding the number y; a label is a "
                              f"category, so it takes num_classes={num_classes} channels, one per class")
        if len(shape) == 4 and shape[1] == C + 10 and num_classes != 10:
            raise CheckFailed(f"{what} has shape {shape}, expected {expected}: the number of label channels is num_classes, not a fixed 10")
        if len(shape) == 2 and shape[0] == B:
            raise CheckFailed(f"{what} has shape {shape}, flat vectors: the result must stay images, {expected}: (batch, channels, height, width)")
        out = _tensor(what, rec, expected, dtype=None)
        if rec["dtype"] != str(x.dtype):
            raise CheckFailed(f"{what} should have dtype {x.dtype} like x, but has dtype {rec['dtype']}: the label channels must be "
                              "floats like the image before the two can be joined")
        if seen[f"{num_classes}.x_changed"]:
            raise CheckFailed(f"{what} changed the x you were given (an in-place edit): build a new tensor")
        maps = _label_maps(x, y, num_classes)  # (B, K, H, W)
        if torch.equal(out[:, :num_classes], maps) and torch.equal(out[:, num_classes:], x):
            raise CheckFailed("the label channels come first: the image's own channels come first, then the label's")
        if not torch.equal(out[:, :C], x):
            raise CheckFailed(f"the first {C} channel(s) should be the image x itself, unchanged (then the label channels)")
        block = out[:, C:]  # (B, K, H, W)
        if torch.equal(block, maps):
            continue
        flat = block.flatten(2)  # (B, K, H * W)
        if not torch.equal(flat, flat[:, :, :1].expand_as(flat)):
            corner = torch.zeros_like(block)
            corner[:, :, 0, 0] = maps[:, :, 0, 0]
            if torch.equal(block, corner):
                raise CheckFailed("only the top-left pixel of each label channel carries the label: fill the whole "
                                  f"{H} x {W} channel with its value, so that every position of the image sees the label")
            raise CheckFailed(f"each label channel should hold one value at every pixel (all ones or all zeros), but the channels of "
                              f"label {int(y[0])} vary across the image")
        values = flat[:, :, 0]  # (B, K): the value of each label channel
        is_one_hot = bool(((values == 0) | (values == 1)).all() and (values.sum(1) == 1).all())
        if not is_one_hot:
            raise CheckFailed(f"the label channels should be all ones for the label's class and all zeros for the others (got channels "
                              f"filled with {[round(v, 3) for v in values[0].tolist()]} for label {int(y[0])})")
        wrong = int((values.argmax(1) != y).nonzero()[0, 0])
        raise CheckFailed(f"the ones are in the wrong channel: for label {int(y[wrong])} label channel {int(y[wrong])} should be the "
                          f"ones (got channel {int(values[wrong].argmax())})")
    return "the image, then one channel per class, for 10 and for 4 classes"


# --------------------------------------------------------------------------- 7.2


def _images(what: str, rec: Any, batch: int) -> torch.Tensor:
    """A generator's output record: (batch, 1, 8, 8) float32 in [0, 1], or a learner-terms failure."""
    if rec["type"] == "Tensor" and tuple(rec["shape"]) == (batch, 64):
        raise CheckFailed(f"{what} has shape {tuple(rec['shape'])}: reshape it to images, (B, 1, 8, 8): batch, channel, height, width")
    out = _tensor(what, rec, (batch, 1, 8, 8))
    lo, hi = float(out.min()), float(out.max())
    if lo < 0 or hi > 1:
        raise CheckFailed(f"pixels must lie in [0, 1] like the data, but range from {lo:.2f} to {hi:.2f}: the last "
                          "activation decides the range")
    return out


_COND_CASES = ((16, 10), (8, 3))  # latent_dim, num_classes
_WEIGHTED = ("Linear", "ConvTranspose2d", "Conv2d")  # the layers whose input says how the label goes in


def _cond_inputs(latent_dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of 2K: every label twice, each time with different noise: z (2K, latent_dim), y (2K,)."""
    z = torch.randn(2 * num_classes, latent_dim, generator=torch.Generator().manual_seed(1))
    return z, torch.arange(num_classes).repeat(2)


def _cond_what(latent_dim: int, num_classes: int) -> str:
    return f"your generator on z of shape {(2 * num_classes, latent_dim)} and labels of shape {(2 * num_classes,)}"


@_exercise("7.2", "a generator with a label embedding")
def make_conditional_generator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim, num_classes) -> nn.Module with forward(z (B, latent_dim), y (B,)) -> (B, 1, 8, 8) in [0, 1],
    taking the label through an nn.Embedding with one row per class."""
    torch.manual_seed(0)
    for latent_dim, num_classes in _COND_CASES:
        key = f"G{latent_dim},{num_classes}"
        G = _call(f"make_conditional_generator({latent_dim}, {num_classes})", fn, latent_dim, num_classes)
        _module_or_stop(seen, f"{key}.module", G)
        seen[f"{key}.embeddings"] = [[int(m.num_embeddings), int(m.embedding_dim)] for m in G.modules() if isinstance(m, nn.Embedding)]
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


def _label_input_advice(failing: Any, embeddings: list[list[int]], latent_dim: int, num_classes: int) -> str:
    """A hint for a generator whose layer raised: an embedding with too few rows, or what a layer got."""
    if isinstance(failing, dict) and failing.get("kind") == "Embedding":
        rows = [n for n, _ in embeddings]
        return (f" (an nn.Embedding with {rows[0] if rows else 'too few'} rows got labels up to {num_classes - 1}: it needs one row "
                f"per class, num_classes={num_classes} rows)")
    if len(embeddings) == 1:
        count = f"the first layer gets z and the label's vector, latent_dim + embedding size = {latent_dim + embeddings[0][1]} numbers"
    else:
        count = "the first layer gets z and the label's vector: latent_dim plus the embedding's size"
    return _layer_advice(failing, count)


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
        embeddings = seen[f"{key}.embeddings"]
        try:
            rec = seen[f"{key}.x"]
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}{_label_input_advice(seen[f'{key}.failing'], embeddings, latent_dim, num_classes)}") from None
        _images(f"the output of {_cond_what(latent_dim, num_classes)}", rec, 2 * num_classes)
        if _images("the output", seen[f"{key}.labels"], num_classes).std(0).max() < 1e-6:
            raise CheckFailed("the same z with labels 0, 1, 2, ... gives identical images: the generator ignores its label y; "
                              "the label's vector has to reach the layers that draw the image")
        if _images("the output", seen[f"{key}.noise"], num_classes).std(0).max() < 1e-6:
            raise CheckFailed("different z with the same label give identical images: the output must depend on z too")
        where = _label_as_number(seen[f"{key}.calls"], seen[f"{key}.layers"], latent_dim, 2 * num_classes)
        if where is not None:
            raise CheckFailed(f"your generator gets the label as one number ({where}), as if label 7 were 'more' than label 3: "
                              "give each class a learned vector of its own instead")
        if "Embedding" in seen[f"{key}.layers"] and not embeddings:
            raise CheckFailed("the nn.Embedding that ran is not one of your generator's layers (made inside forward?): make it in "
                              "__init__, so that the generator keeps one table of class vectors and training can learn it")
        if "Embedding" not in seen[f"{key}.layers"]:
            raise CheckFailed("no nn.Embedding ran in your generator's forward: this exercise asks for the label as a learned "
                              "vector per class looked up in an nn.Embedding, not the lesson's one-hot vector")
        wrong = [n for n, _ in embeddings if n != num_classes]
        if wrong and len(wrong) == len(embeddings):
            raise CheckFailed(f"your nn.Embedding has {wrong[0]} rows for num_classes={num_classes}: it needs one row per class")
        stuck = seen[f"{key}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
    return "(B, 1, 8, 8) in [0, 1], depends on z and on y through a learned embedding"


# --------------------------------------------------------------------------- 7.3

_B, _F, _K = 12, 6, 10  # three different sizes, so a mixed-up dimension shows in the shape


def _projection_case() -> tuple[torch.Tensor, nn.Embedding, nn.Linear]:
    """h (B, M), embed nn.Embedding(K, M), head nn.Linear(M, 1), the same every time."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        embed, head = nn.Embedding(_K, _F), nn.Linear(_F, 1)
    h = torch.randn(_B, _F, generator=torch.Generator().manual_seed(3))
    return h, embed, head


@_exercise("7.3", "the projection logits for every label")
def projection_logits(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(h (B, M), embed nn.Embedding(K, M), head nn.Linear(M, 1)) -> logits (B, K): entry [i, k] is
    head(h_i) + <embed(k), h_i>, the logit of image i offered as class k."""
    h, embed, head = _projection_case()
    out = _call("projection_logits(h, embed, head)", fn, h, embed, head)
    seen["out"] = observe(out)
    if type(out) is torch.Tensor and out.is_floating_point() and out.requires_grad:
        _call("the backward pass through your logits", lambda: out.sum().backward())
    seen["head_grad"] = head.weight.grad is not None and bool(head.weight.grad.abs().sum() > 0)
    seen["embed_grad"] = embed.weight.grad is not None and bool((embed.weight.grad.abs().sum(1) > 0).all())


_BROADCAST = (f"size of tensor a ({_B}) must match the size of tensor b ({_K})", f"size of tensor a ({_K}) must match the size of tensor b ({_B})")


@projection_logits.judge
def _judge_projection_logits(seen: Observed) -> str:
    h, embed, head = _projection_case()
    B, F, K = _B, _F, _K
    with torch.no_grad():
        realism = head(h)  # (B, 1): the same for every label of an image
        matches = h @ embed.weight.T  # (B, K): <e_k, h_i>
    ref = realism + matches
    try:
        rec = seen["out"]
    except CheckFailed as failure:
        raise _with_advice(failure, [(("shapes cannot be multiplied",), f"h is ({B}, {F}) and the class vectors form a ({K}, {F}) matrix: "
                                      f"a product of the two must pair up their {F} features"),
                                     (_BROADCAST, f"a ({B},) tensor and a ({B}, {K}) one do not add up: the realism term, one number "
                                                   "per image, needs a dimension of size 1 to be added to each of the image's K logits")]) from None
    shape = tuple(rec["shape"]) if rec["type"] == "Tensor" else None
    if shape == (B,):
        raise CheckFailed(f"the output has shape ({B},), one logit per image: this exercise asks for one per image and per label, "
                          f"shape ({B}, {K}) (K = embed.num_embeddings)")
    if shape == (K, B):
        raise CheckFailed(f"the output has shape ({K}, {B}), one row per label: make it one row per image and one column per label, ({B}, {K})")
    if shape == (B, F):
        raise CheckFailed(f"the output has shape ({B}, {F}), one number per feature: an inner product <e_k, h> sums over the features")
    if shape == (B, K, F):
        raise CheckFailed(f"the output has shape ({B}, {K}, {F}), one number per feature for every label: an inner product <e_k, h> "
                          "sums over the features")
    out = _tensor(f"the output of projection_logits(h, embed, head) for {B} images and {K} labels", rec, (B, K))
    if not same(out, ref):
        if same(out, realism.expand(B, K)):
            raise CheckFailed("every label gets the same logit: the class term <e_k, h>, which differs from label to label, is missing")
        if same(out, matches):
            raise CheckFailed("the realism term is missing: every logit is head(h) plus the class term, not the class term alone")
        if same(out, ref - head.bias.detach()):
            raise CheckFailed("the bias b of the realism term w.h + b is missing: head has a bias as well as a weight")
        if same(out, torch.sigmoid(ref)):
            raise CheckFailed("the outputs look like probabilities: return logits (no sigmoid)")
        if same(out, ref.softmax(dim=1)):
            raise CheckFailed("each row sums to 1: that is a softmax over the labels, probabilities; return the logits themselves")
        if same(out, realism + matches / F):
            raise CheckFailed("the class term is the mean of e_k * h over the features: an inner product is their sum")
        wrong = ~torch.isclose(out, ref, atol=1e-5, rtol=1e-5)
        i, k = (int(v) for v in wrong.nonzero()[0])
        raise CheckFailed(f"{int(wrong.sum())} of {B * K} logits differ from head(h_i) + <e_k, h_i> (image {i}, label {k}: "
                          f"got {out[i, k].item():.4f}, expected {ref[i, k].item():.4f})")
    if not seen["head_grad"] or not seen["embed_grad"]:
        missing = [n for n, ok in (("head", seen["head_grad"]), ("every row of embed", seen["embed_grad"])) if not ok]
        raise CheckFailed(f"the gradient does not reach {' or '.join(missing)}: compute the logits from the layers' weights "
                          "without .detach(), .data or torch.no_grad(), so that training can change them")
    return f"({B}, {K}): head(h) + <e_k, h> for every label, with gradients to head and embed"
