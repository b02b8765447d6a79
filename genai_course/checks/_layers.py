"""What ran inside a learner's network: the kinds of layers its forward pass used, and where it failed.

``_Layers`` records, while a probe runs the learner's network, which layer kinds ran (modules by
forward hooks, functional convolutions by a ``TorchFunctionMode``) and, when the network raises,
which layer was running with what input; ``_layer_advice`` turns that into a hint in the
learner's terms. Lessons 06 (``conv``) and 07 (``conditional``) share it.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode

from ._protocol import _call


def _kind(m: nn.Module) -> str:
    """The torch.nn class ``m`` is or derives from ("ConvTranspose2d", "Linear", ...; "Module" for a
    network class of its own)."""
    for c in type(m).__mro__:
        if c.__module__.startswith("torch.nn"):
            return c.__name__
    return "Module"


def _expects(m: nn.Module) -> int | None:
    """The input size a layer was made for: in_features of a Linear, in_channels of a convolution."""
    try:
        if isinstance(m, nn.Linear):
            return int(m.in_features)
        if isinstance(m, nn.modules.conv._ConvNd):
            return int(m.in_channels)
    except Exception:
        pass
    return None


_FUNCTIONAL = {"conv_transpose2d": "ConvTranspose2d", "conv2d": "Conv2d", "linear": "Linear"}  # torch function -> layer kind


class _Functional(TorchFunctionMode):
    """Adds the kind of each layer computation done with a torch function (F.conv_transpose2d, ...) to ``ran``."""

    def __init__(self, ran: list[str]) -> None:
        super().__init__()
        self.ran = ran

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kind = _FUNCTIONAL.get(getattr(func, "__name__", ""))
        if kind is not None and kind not in self.ran:
            self.ran.append(kind)
        return func(*args, **(kwargs or {}))


class _Layers:
    """``with _Layers() as layers:`` records the torch.nn modules called inside it, as plain data:
    ``ran``, their kinds (``_kind``) in the order first finished, and the kinds of the convolutions and
    linear maps done with torch functions instead (``_FUNCTIONAL``); ``calls``, one dict per module
    call (its first 32) with the kind, the shape of its first input and the input size it ``expects``;
    ``failing``, that dict for the innermost module entered but not finished (where an error rose)."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self._functional = _Functional(self.ran)

    def _pre(self, m: nn.Module, args: Any) -> None:
        x = args[0] if isinstance(args, tuple) and args else None
        info = {"kind": _kind(m), "input": list(x.shape) if type(x) is torch.Tensor else None, "expects": _expects(m)}
        self._open.append(info)
        if len(self.calls) < 32:
            self.calls.append(info)

    def _post(self, m: nn.Module, args: Any, out: Any) -> None:
        if self._open:
            self._open.pop()
        if _kind(m) not in self.ran:
            self.ran.append(_kind(m))

    @property
    def failing(self) -> dict[str, Any] | None:
        return self._open[-1] if self._open else None

    def __enter__(self) -> _Layers:
        self._hooks = [register_module_forward_pre_hook(self._pre), register_module_forward_hook(self._post)]
        self._functional.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._functional.__exit__(*exc)
        for hook in self._hooks:
            hook.remove()


_COUNT = "after the convolutions that is channels x height x width"


def _layer_advice(failing: Any, count: str = _COUNT) -> str:
    """A hint for an error raised inside a layer (``_Layers.failing``): what the layer got instead;
    ``count`` says how to count a linear layer's input features."""
    if not isinstance(failing, dict) or failing.get("input") is None:
        return ""
    kind, shape, expects = failing["kind"], tuple(failing["input"]), failing.get("expects")
    if kind in ("ConvTranspose2d", "Conv2d") and len(shape) == 2:
        return f" (an nn.{kind} got a flat input of shape {shape}: reshape it to feature maps (B, channels, height, width) first, for example with nn.Unflatten)"
    if kind in ("ConvTranspose2d", "Conv2d") and len(shape) == 4 and expects is not None and shape[1] != expects:
        return f" (an nn.{kind} made for {expects} input channels got {shape[1]}: each layer's in_channels must be the previous layer's out_channels)"
    if kind == "Linear" and len(shape) >= 1 and expects is not None and shape[-1] != expects:
        return f" (an nn.Linear made for {expects} input features got input of shape {shape}: count what it receives; {count})"
    return ""


def _stuck_parameters(net: nn.Module, out: Any, loss: Callable[[torch.Tensor], torch.Tensor], what: str) -> list[str]:
    """The parameters a backward pass of ``loss(out)`` never reaches (a bias right before batch norm gets
    ~0, but not None): all of them when ``out`` carries no gradient."""
    if type(out) is not torch.Tensor or not out.is_floating_point() or not out.requires_grad:
        return [name for name, _ in net.named_parameters()]
    _call(what, lambda: loss(out).backward())
    return [name for name, p in net.named_parameters() if p.grad is None]


# --------------------------------------------------------------------------- 6.1
