"""Drawings of the structures the lessons name: a network's layers, the alternating GAN step, a label's way in.

- ``trace_layers(net, *inputs)`` runs one forward pass and records every leaf layer in call order,
  with the shapes it took and gave; ``draw_network`` draws that record as a column of boxes, so
  the picture is the network's real structure, never a hand-drawn copy that could drift from it.
- ``draw_gan_step``: lesson 05's alternating update (a D step on real and detached fakes, then a
  G step through a D whose weights stay put), with the gradients' paths.
- ``draw_conditioning``: lesson 07's class-conditional GAN: where the label y enters G
  (concatenated to z as a one-hot vector) and D (the projection <embed(y), h> added to the logit).

Each draws on a matplotlib ``Axes`` (or on a new pyplot figure when ``ax`` is None) and returns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from . import _draw

__all__ = ["trace_layers", "draw_network", "draw_gan_step", "draw_conditioning"]

# Layers that neither mix features nor change the shape: drawn inside the box of the layer before them.
_PASSING = (
    torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Sigmoid, torch.nn.Tanh, torch.nn.GELU, torch.nn.SiLU,
    torch.nn.ELU, torch.nn.Softplus, torch.nn.Identity, torch.nn.Dropout,
    torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm, torch.nn.GroupNorm,
)
_LAYER_COLOR = "#dbe8f6"  # boxes of layers with weights that mix features
_PLAIN_COLOR = "#f2f2f2"  # inputs, outputs, reshapes
_G_COLOR = "#d9f0d3"  # the generator in the step diagrams
_D_COLOR = "#fde0c5"  # the discriminator
_GRAD = "#c0392b"  # gradient paths


@dataclass(frozen=True)
class Layer:
    """One leaf layer's call in a forward pass.

    ``name`` is its path in the module (``"up.0"``), ``text`` a short description
    (``"ConvTranspose2d 96→48, 4x4, stride 2"``), the shapes leave out the batch dimension,
    ``params`` counts its parameters (weights and biases), and ``fed_by`` says where its input came from: ``"previous"``
    (the layer before), ``"input k"`` (the network's k-th input), either of them ``"reshaped in
    forward()"`` (the same numbers viewed in another shape), or ``"forward"`` (a tensor that
    forward() computed itself: a concatenation, a sum, ...).
    """

    name: str
    text: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    fed_by: str
    passing: bool


def _describe(module: torch.nn.Module) -> str:
    kind = type(module).__name__
    if isinstance(module, torch.nn.Linear):
        return f"{kind} {module.in_features}→{module.out_features}"
    if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Conv1d)):
        k = "x".join(str(v) for v in module.kernel_size)
        s = module.stride[0]
        return f"{kind} {module.in_channels}→{module.out_channels}, {k}" + (f", stride {s}" if s != 1 else "")
    if isinstance(module, torch.nn.Embedding):
        return f"{kind} {module.num_embeddings}→{module.embedding_dim}"
    if isinstance(module, torch.nn.LeakyReLU):
        return f"LeakyReLU({module.negative_slope:g})"
    return kind


def trace_layers(net: torch.nn.Module, *inputs: Any) -> list[Layer]:
    """Run ``net(*inputs)`` once (no gradients, eval mode, then net's own mode again) and record its leaf layers.

    inputs are whatever ``net.forward`` takes, with a batch dimension first (e.g. z of shape (B, d)).
    Returns the layers in the order they were called.
    """
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"net must be a torch.nn.Module such as a generator or discriminator (got {type(net).__name__})")
    if not inputs:
        raise ValueError("draw_network needs an example input for the network, e.g. draw_network(G, z) with z of shape (B, latent_dim)")
    names = {module: name for name, module in net.named_modules()}
    layers: list[Layer] = []
    last_out: list[torch.Tensor] = []

    def source(x: torch.Tensor) -> str:
        """Where x came from: the layer before, an input (maybe viewed in another shape), or forward() itself."""
        candidates = [("previous", "reshaped in forward()", t) for t in last_out]
        candidates += [(f"input {k}", f"input {k}, reshaped in forward()", t)
                       for k, t in enumerate(inputs) if isinstance(t, torch.Tensor)]
        for same, reshaped, t in candidates:
            if t.numel() and x.data_ptr() == t.data_ptr() and x.numel() == t.numel():
                return same if x.shape == t.shape else reshaped
        return "forward"

    def hook(module: torch.nn.Module, args: tuple[Any, ...], out: Any) -> None:
        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or not isinstance(out, torch.Tensor):
            return
        fed_by = source(x)
        last_out[:] = [out]
        layers.append(Layer(
            name=names.get(module, type(module).__name__), text=_describe(module),
            in_shape=tuple(x.shape[1:]), out_shape=tuple(out.shape[1:]),
            params=sum(p.numel() for p in module.parameters(recurse=False)), fed_by=fed_by,
            passing=isinstance(module, _PASSING) and tuple(x.shape) == tuple(out.shape),
        ))

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            out = net(*inputs)
    except (RuntimeError, ValueError, TypeError) as err:
        shapes = ", ".join(str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__ for x in inputs)
        raise ValueError(f"draw_network could not run {type(net).__name__} on inputs of shape {shapes}: {err}") from None
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    if isinstance(out, torch.Tensor) and layers and tuple(out.shape[1:]) != layers[-1].out_shape:
        # forward() changed the last layer's output itself: a view of it (a squeeze), or a new tensor (a sum)
        viewed = bool(last_out) and source(out) == "reshaped in forward()"
        layers.append(Layer(name="forward", text="reshaped in forward()" if viewed else "combined in forward()",
                            in_shape=layers[-1].out_shape, out_shape=tuple(out.shape[1:]), params=0,
                            fed_by="previous" if viewed else "forward", passing=False))
    return layers


def _axes(ax: Any, size: tuple[float, float]) -> Axes:
    ax = _draw.digits_axes(ax, size)
    ax.set_axis_off()
    return ax


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, color: str, **kw: Any) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor=kw.pop("edge", "0.3"), linewidth=kw.pop("lw", 1.0)))
    ax.text(x, y, text, ha="center", va="center", fontsize=kw.pop("fontsize", 8.5), **kw)


def _arrow(ax: Axes, a: tuple[float, float], b: tuple[float, float], color: str = "0.25", style: str = "-",
           label: str | None = None, rad: float = 0.0) -> None:
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=11, color=color, linestyle=style,
                                 linewidth=1.2, connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0))
    if label:
        ax.text((a[0] + b[0]) / 2 + 0.08, (a[1] + b[1]) / 2, label, fontsize=7.5, color=color, va="center")


def _shape(shape: tuple[int, ...]) -> str:
    if not shape:
        return "(): one number each"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def draw_network(net: torch.nn.Module, *inputs: Any, ax: Any = None, title: str | None = None) -> Axes:
    """Draw ``net`` as the column of layers one forward pass on ``inputs`` goes through.

    One box per layer with parameters (its type, sizes and parameter count: weights and biases), with the shape-keeping
    layers that follow it (activations, normalisation) written in the same box, and the shape
    it outputs (batch dimension left out) beside the arrow below it. An arrow marked "in
    forward()" carries a tensor that forward() changed without a layer (a reshape, a
    concatenation), one marked "from input k" the network's k-th input; a layer that reads
    another input than the first (a label) gets that input's own box at its left, with no arrow
    from the box above. Returns the Axes.
    """
    layers = trace_layers(net, *inputs)
    boxes: list[dict[str, Any]] = []
    for layer in layers:
        if layer.passing and boxes and layer.fed_by == "previous":
            boxes[-1]["extra"].append(layer.text)
            continue
        boxes.append({"layer": layer, "extra": []})
    rows = len(boxes) + 2
    # a layer fed by another input of the network (a label, say) starts a branch: its input gets a box of its own
    branches = [i for i, box in enumerate(boxes, start=1) if i > 1 and box["layer"].fed_by.startswith("input ")]
    left = -1.4 if branches else 0.0
    ax = _axes(ax, (3.6 - left * 0.9, 0.62 * rows + 0.3))
    ax.set_xlim(left, 4)
    ax.set_ylim(-rows + 0.4, 0.6)
    shapes = [_shape(tuple(x.shape[1:])) for x in inputs if isinstance(x, torch.Tensor)]
    in_text = ("input " if len(shapes) == 1 else "inputs ") + " and ".join(shapes)
    _box(ax, 2.0, 0.0, 2.6, 0.42, in_text, _PLAIN_COLOR)
    for i, box in enumerate(boxes, start=1):
        layer: Layer = box["layer"]
        y = -float(i)
        label = "\n".join([layer.text + (f"  ({layer.params:,} parameters)" if layer.params else "")]
                          + (["+ " + " + ".join(box["extra"])] if box["extra"] else []))
        top = y + (0.32 if box["extra"] else 0.22)
        _box(ax, 2.0, y, 3.6, 0.62 if box["extra"] else 0.42, label, _LAYER_COLOR if layer.params else _PLAIN_COLOR,
             fontsize=7.5)
        if i in branches:  # no arrow from the box above: this layer reads another input
            k = layer.fed_by.split()[1].rstrip(",")
            _box(ax, -0.55, y + 0.5, 1.5, 0.42, f"input {k}: " + (_shape(layer.in_shape) if layer.in_shape else "one number each"),
                 _PLAIN_COLOR, fontsize=7)
            _arrow(ax, (-0.55, y + 0.29), (0.3, top), style="--")
            continue
        plain = layer.fed_by == "previous" or (i == 1 and layer.fed_by == "input 0")
        came = {"forward": "in forward()", "reshaped in forward()": "reshaped in forward()"}.get(
            layer.fed_by, "from " + layer.fed_by)
        _arrow(ax, (2.0, y + 0.69), (2.0, top), style="-" if plain else "--")
        if not plain:
            ax.text(1.88, y + 0.5, came, fontsize=7, color=_GRAD, ha="right", va="center")
    out = layers[-1].out_shape if layers else ()
    _arrow(ax, (2.0, -len(boxes) - 0.32), (2.0, -len(boxes) - 0.78))
    _box(ax, 2.0, -len(boxes) - 1.0, 2.6, 0.42, "output " + _shape(out), _PLAIN_COLOR)
    for i, box in enumerate(boxes, start=1):  # the shape each box hands on, right of the arrow below it
        ax.text(2.12, -i - 0.5 - (0.06 if box["extra"] else 0.0), _shape(box["layer"].out_shape), fontsize=7,
                color="0.35", va="center")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def draw_gan_step(ax: Any = None) -> Axes:
    """Draw one training step of a GAN: the D step, then the G step, with where each loss's gradient goes.

    Black arrows are the forward pass, red dashed arrows the gradient; a bold box is the network
    whose optimizer steps. In the D step the fakes are detached, so the gradient stops before G;
    in the G step it flows back through D into G, but only G's weights change.
    """
    ax = _axes(ax, (7.6, 4.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(-4.3, 0.5)
    for y0, head in ((0.0, "1. D step: teach D to tell real from fake"), (-2.3, "2. G step: teach G to fool D")):
        ax.text(0.05, y0 + 0.25, head, fontsize=10, fontweight="bold", va="center")
    # D step
    y = -0.75
    _box(ax, 0.6, y, 0.8, 0.45, "z", _PLAIN_COLOR)
    _box(ax, 2.0, y, 0.9, 0.5, "G", _G_COLOR)
    _box(ax, 3.75, y, 1.4, 0.5, "fake\n.detach()", _PLAIN_COLOR, fontsize=8)
    _box(ax, 3.75, y - 0.95, 1.4, 0.45, "real x", _PLAIN_COLOR)
    _box(ax, 5.6, y - 0.45, 0.9, 0.55, "D", _D_COLOR, lw=2.6, fontweight="bold")
    _box(ax, 7.75, y - 0.45, 2.3, 0.55, "D's loss:\nreal → 1, fake → 0", "white", fontsize=8)
    _arrow(ax, (1.0, y), (1.55, y))
    _arrow(ax, (2.45, y), (3.05, y))
    _arrow(ax, (4.45, y), (5.15, y - 0.35))
    _arrow(ax, (4.45, y - 0.95), (5.15, y - 0.55))
    _arrow(ax, (6.05, y - 0.45), (6.6, y - 0.45))
    _arrow(ax, (6.6, y - 0.2), (6.05, y - 0.2), color=_GRAD, style="--")
    _arrow(ax, (5.15, y - 0.1), (4.5, y + 0.4), color=_GRAD, style="--")  # on through D, back along the fakes ...
    _arrow(ax, (4.5, y + 0.4), (3.1, y + 0.4), color=_GRAD, style="--")  # ... to .detach(), and no further
    ax.plot([3.05, 3.05], [y - 0.32, y + 0.32], color=_GRAD, linewidth=2.5)
    ax.text(2.95, y + 0.42, "gradient stops here", fontsize=7.5, color=_GRAD, ha="right")
    ax.text(7.75, y - 0.95, "then step D's optimizer", fontsize=8, ha="center", va="center", color="0.2")
    # G step
    y = -3.05
    _box(ax, 0.6, y, 0.8, 0.45, "z", _PLAIN_COLOR)
    _box(ax, 2.0, y, 0.9, 0.55, "G", _G_COLOR, lw=2.6, fontweight="bold")
    _box(ax, 3.75, y, 1.4, 0.45, "fake", _PLAIN_COLOR)
    _box(ax, 5.6, y, 0.9, 0.5, "D", _D_COLOR)
    _box(ax, 7.75, y, 2.3, 0.55, "G's loss:\nfake → 1 (fool D)", "white", fontsize=8)
    for a, b in ((1.0, 1.55), (2.45, 3.05), (4.45, 5.15), (6.05, 6.6)):
        _arrow(ax, (a, y), (b, y))
    for a, b in ((6.6, 6.05), (5.15, 4.45), (3.05, 2.45)):
        _arrow(ax, (a, y + 0.35), (b, y + 0.35), color=_GRAD, style="--")
    ax.text(5.6, y - 0.45, "weights not stepped", fontsize=7.5, ha="center", color="0.35")
    ax.text(7.75, y - 0.5, "then step G's optimizer", fontsize=8, ha="center", va="center", color="0.2")
    ax.text(0.05, -4.2, "black: forward pass   red dashed: gradient of the loss   bold box: the network updated",
            fontsize=7.5, color="0.3")
    return ax


def draw_conditioning(ax: Any = None) -> Axes:
    """Draw where a class label y enters a conditional GAN's G and D (lesson 07's networks).

    G: the one-hot vector of y is concatenated to z, so every layer after the first sees the class.
    D: the features h of an image give an unconditional score linear(h), and the projection
    <embed(y), h> adds how well h matches class y's learned vector; their sum is the logit.
    """
    ax = _axes(ax, (7.6, 4.0))
    ax.set_xlim(0, 10)
    ax.set_ylim(-4.2, 0.5)
    ax.text(0.05, 0.25, "generator: the label joins the noise", fontsize=10, fontweight="bold", va="center")
    y = -0.7
    _box(ax, 0.7, y, 1.2, 0.45, "noise z", _PLAIN_COLOR)
    _box(ax, 0.7, y - 0.8, 1.2, 0.45, "label y", "#fff2a8")
    _box(ax, 2.5, y - 0.8, 1.5, 0.45, "one_hot(y)", "#fff2a8")
    _box(ax, 4.3, y - 0.4, 1.1, 0.55, "concat", _PLAIN_COLOR)
    _box(ax, 6.1, y - 0.4, 1.1, 0.55, "G", _G_COLOR)
    _box(ax, 8.1, y - 0.4, 1.8, 0.5, "image of class y", _PLAIN_COLOR, fontsize=8)
    _arrow(ax, (1.3, y), (3.75, y - 0.3))
    _arrow(ax, (1.3, y - 0.8), (1.75, y - 0.8))
    _arrow(ax, (3.25, y - 0.8), (3.75, y - 0.5))
    _arrow(ax, (4.85, y - 0.4), (5.55, y - 0.4))
    _arrow(ax, (6.65, y - 0.4), (7.2, y - 0.4))
    ax.text(0.05, -2.05, "discriminator: the label meets the features (projection)", fontsize=10, fontweight="bold",
            va="center")
    y = -2.6
    _box(ax, 0.7, y, 1.2, 0.45, "image x", _PLAIN_COLOR)
    _box(ax, 2.4, y, 1.5, 0.5, "conv layers", _D_COLOR)
    _box(ax, 4.0, y, 0.9, 0.45, "h", _PLAIN_COLOR)
    _box(ax, 5.7, y, 1.5, 0.45, "linear(h)", _D_COLOR)
    _box(ax, 0.7, y - 1.0, 1.2, 0.45, "label y", "#fff2a8")
    _box(ax, 2.4, y - 1.0, 1.5, 0.45, "embed(y)", "#fff2a8")
    _box(ax, 5.7, y - 1.0, 1.5, 0.45, "⟨embed(y), h⟩", _PLAIN_COLOR)
    _box(ax, 7.3, y - 0.5, 0.55, 0.45, "+", _PLAIN_COLOR, fontsize=11)
    _box(ax, 8.85, y - 0.5, 1.5, 0.45, "logit", _PLAIN_COLOR)
    _arrow(ax, (1.3, y), (1.65, y))
    _arrow(ax, (3.15, y), (3.55, y))
    _arrow(ax, (4.45, y), (4.95, y))
    _arrow(ax, (4.0, y - 0.23), (4.95, y - 0.9))
    _arrow(ax, (1.3, y - 1.0), (1.65, y - 1.0))
    _arrow(ax, (3.15, y - 1.0), (4.95, y - 1.0))
    _arrow(ax, (6.45, y), (7.02, y - 0.4))
    _arrow(ax, (6.45, y - 1.0), (7.02, y - 0.6))
    _arrow(ax, (7.58, y - 0.5), (8.1, y - 0.5))
    ax.text(8.85, y - 0.95, "high: real, and of class y", fontsize=7.5, ha="center", color="0.3")
    return ax
