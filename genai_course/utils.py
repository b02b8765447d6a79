"""Small things every floor needs, each written once: seeds, whole-number arguments, the device
and its precision, one tensor comparison, one label check and one fingerprint of a network's weights.

Nothing here imports the rest of the course.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any, ContextManager

import numpy as np
import torch

__all__ = [
    "set_seed", "whole_number", "get_device", "PRECISIONS", "autocast", "same", "check_labels", "weights_sha256",
]


def set_seed(seed: int) -> torch.Generator:
    """Seed PyTorch's global RNG and return a fresh ``torch.Generator`` with the same seed."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def whole_number(value: Any, name: str) -> int:
    """``value`` as an ``int`` when it is a whole number (a Python or NumPy integer, not a bool),
    else a ``TypeError`` that names the argument: what widgets and checks take as a seed."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number (got {value!r})")
    return int(value)


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on. None or "cpu": the CPU (what the course is timed on); "auto": a
    CUDA GPU if there is one, else Apple's MPS, else the CPU; "cuda", "cuda:1", "mps": that one,
    with a clear error if this machine has none. Everything else follows the data: networks are
    moved there once, and the library takes each new tensor's device from the tensors it meets."""
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    if prefer is None or prefer == "cpu":
        return torch.device("cpu")
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if prefer == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if not isinstance(prefer, str) or prefer.split(":")[0] not in ("cuda", "mps"):
        raise ValueError(f"device must be None, 'cpu', 'auto', 'cuda' (or 'cuda:N') or 'mps' (got {prefer!r})")
    if prefer.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {prefer!r} asked for, but this machine has no CUDA GPU that PyTorch can use; use 'cpu' or 'auto'")
    if prefer == "mps" and not has_mps:
        raise ValueError("device 'mps' asked for, but Apple's MPS is not available here; use 'cpu' or 'auto'")
    return torch.device(prefer)


PRECISIONS = ("fp32", "bf16")


def autocast(device: torch.device | str, precision: str = "fp32") -> ContextManager[Any]:
    """Mixed precision meanwhile: "bf16" runs matrix products and convolutions in bfloat16
    (autocast; the weights, their gradients and Adam stay float32), "fp32" changes nothing.
    bfloat16 keeps float32's range, so unlike float16 it needs no loss scaling."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    device = torch.device(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bfloat16 support; use precision 'fp32'")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def same(a: torch.Tensor, b: torch.Tensor | None, tol: float = 1e-5, *, equal_nan: bool = False) -> bool:
    """The course's one tensor comparison: ``b`` exists, has ``a``'s shape, and every entry is
    within ``tol`` of ``a``'s (absolute and relative, in float64, so float32 rounding never
    decides). Infinities match infinities of the same sign; NaN matches NaN when ``equal_nan``."""
    if b is None or a.shape != b.shape:
        return False
    return bool(torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=equal_nan))


def check_labels(y: torch.Tensor | None, batch: int, num_classes: int, who: str) -> None:
    """Conditional networks need one label in 0..K-1 per example (``y`` of shape (batch,));
    unconditional ones (``num_classes`` 0) none. ``who`` names the network in the error."""
    if num_classes == 0:
        if y is not None:
            raise ValueError(f"this {who} is unconditional (num_classes=0): call it without labels")
        return
    if y is None:
        raise ValueError(f"this {who} is conditional (num_classes={num_classes}): pass labels y of shape ({batch},)")
    if y.dtype not in (torch.int64, torch.int32) or y.shape != (batch,):
        raise ValueError(
            f"labels must be whole numbers of shape ({batch},), one per example (got {y.dtype} of shape {tuple(y.shape)})"
        )
    if batch and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (got values from {int(y.min())} to {int(y.max())})")


def weights_sha256(module: torch.nn.Module) -> str:
    """sha256 of a network's weights (every entry of its state dict: name, shape, dtype and bytes, in
    order): the same hex string for the same weights, whatever file holds them (lesson 16's reflow
    pairs record the model they came from by it)."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()
