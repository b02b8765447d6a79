"""Exercise checks for lesson 12 (scaling up): a checkpoint that resumes training exactly.

12.4 saving the training state ``save_state``, 12.5 resuming from it ``restore_state``. Lessons
call them through ``genai_course.checks``: ``checks.save_state(fn)``.

The checks need only torch: the models are two-layer networks of a few units whose weights come
from a seeded generator (the global RNG is left alone), trained with Adam and with SGD with
momentum for a few steps before and after the checkpoint; when the learner's state or resumed
run differs, the message says which entry is wrong and why.
"""

from __future__ import annotations

import copy
import io
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._nets import _tiny_net
from ._protocol import CheckFailed, _call, _exercise

__all__ = ["save_state", "restore_state"]


@dataclass
class _ResumeCase:
    optimizer: str  # "Adam" or "SGD with momentum"
    before: int  # steps before the checkpoint
    after: int  # steps after it
    seed: int


_RESUME_CASES = [_ResumeCase("Adam", 3, 3, 0), _ResumeCase("SGD with momentum", 2, 4, 1)]
_STATE_KEYS = ("model", "optimizer", "generator", "step")


def _resume_setup(c: _ResumeCase, seed: int) -> tuple[nn.Module, torch.optim.Optimizer, torch.Generator]:
    net = _tiny_net(seed, (3, 8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.02) if c.optimizer == "Adam" else torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return net, opt, torch.Generator().manual_seed(1000 + seed)


def _train(net: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, steps: int) -> None:
    """Steps of regression on fresh random batches drawn from ``gen`` (so the generator matters too)."""
    for _ in range(steps):
        x = torch.randn(16, 3, generator=gen)
        y = torch.sin(x.sum(dim=1, keepdim=True)) + 0.1 * torch.randn(16, 1, generator=gen)
        opt.zero_grad()
        F.mse_loss(net(x), y).backward()
        opt.step()


def _same_tree(a: Any, b: Any) -> bool:
    """Equal nested dicts / lists of tensors and numbers (tensors bit for bit, dtype included)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same_tree, a, b))
    return a == b


def _round_trip(what: str, state: dict[str, Any]) -> dict[str, Any]:
    """The state as torch.save then torch.load(weights_only=True) give it back, naming the entry that cannot go."""
    for key, value in state.items():
        buffer = io.BytesIO()
        try:
            torch.save({key: value}, buffer)
            buffer.seek(0)
            torch.load(buffer, weights_only=True)
        except Exception:
            raise CheckFailed(
                f"{what}: state[{key!r}] is an object of class {type(value).__name__}, which torch.load(weights_only=True) refuses to load (it accepts "
                "tensors, numbers, strings and dicts and lists of them, never objects whose loading could run code): store "
                + {"model": "model.state_dict()", "optimizer": "optimizer.state_dict()", "generator": "generator.get_state()"}.get(key, "tensors and numbers")
            ) from None
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _snapshot(net: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, step: int) -> dict[str, Any]:
    return {"model": copy.deepcopy(net.state_dict()), "optimizer": copy.deepcopy(opt.state_dict()), "generator": gen.get_state(), "step": step}


def _moments(c: _ResumeCase) -> str:
    return "Adam's running averages of the gradients" if c.optimizer == "Adam" else "the momentum buffers"


@_exercise("12.4", "saving the training state")
def save_state(fn: Callable[..., dict[str, Any]]) -> str:
    """fn(model, optimizer, generator, step) -> {"model", "optimizer", "generator", "step"}: a snapshot that torch.load(weights_only=True) reads."""
    for c in _RESUME_CASES:
        net, opt, gen = _resume_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        truth = _snapshot(net, opt, gen, c.before)
        what = f"save_state(model, optimizer, generator, {c.before}) after {c.before} steps of {c.optimizer}"
        state = _call(what, fn, net, opt, gen, c.before)
        if not torch.equal(gen.get_state(), truth["generator"]):
            raise CheckFailed(f"{what} moved the generator on (it drew numbers, or was re-seeded): only read it, generator.get_state()")
        if not _same_tree(net.state_dict(), truth["model"]) or not _same_tree(opt.state_dict(), truth["optimizer"]):
            raise CheckFailed(f"{what} changed the model or the optimizer: saving only reads them")
        if not isinstance(state, dict):
            raise CheckFailed(f"{what} should return a dict with the entries {', '.join(map(repr, _STATE_KEYS))}, but returned a {type(state).__name__}")
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise CheckFailed(f"{what} returned a dict without {', '.join(map(repr, missing))}: it needs all of {', '.join(map(repr, _STATE_KEYS))}")
        _train(net, opt, gen, c.after)  # training goes on after the checkpoint ...
        live = _snapshot(net, opt, gen, c.before)
        saved = _round_trip(what, state)  # ... and then the file is read back
        for key, how in (("model", "model.state_dict()"), ("optimizer", "optimizer.state_dict()")):
            if _same_tree(saved[key], truth[key]):
                continue
            if _same_tree(saved[key], live[key]):
                raise CheckFailed(
                    f"{what}: state[{key!r}] changed when training went on after the save: {how} holds references to the "
                    "live tensors, which every step updates in place; save a copy, copy.deepcopy(" + how + ")"
                )
            if key == "optimizer" and isinstance(saved[key], dict) and saved[key].get("state") == {}:
                raise CheckFailed(f"{what}: state['optimizer'] holds no per-weight state: take optimizer.state_dict() after the steps, it holds {_moments(c)}")
            raise CheckFailed(f"{what}: state[{key!r}] should be a copy of {how} at the moment of saving")
        if isinstance(saved["generator"], numbers.Integral):
            raise CheckFailed(
                f"{what}: state['generator'] is the number {saved['generator']}: a seed says where the random stream started, not "
                "how far it has got; store generator.get_state()"
            )
        if not _same_tree(saved["generator"], truth["generator"]):
            raise CheckFailed(f"{what}: state['generator'] should be generator.get_state() at the moment of saving, the stream's position")
        step = saved["step"]
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step != c.before:
            raise CheckFailed(f"{what}: state['step'] should be the int {c.before}, the step you were given, but is {step!r}")
    return "a snapshot of weights, optimizer, generator and step that later steps leave alone and weights_only loading accepts"


@_exercise("12.5", "resuming exactly")
def restore_state(fn: Callable[..., int]) -> str:
    """fn(state, model, optimizer, generator) -> int: loads the state into the objects given, returns state["step"]."""
    for c in _RESUME_CASES:
        net, opt, gen = _resume_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        state = _round_trip("the checks' own save", _snapshot(net, opt, gen, c.before))  # as a checkpoint file gives it back
        truth = copy.deepcopy(state)
        _train(net, opt, gen, c.after)  # the uninterrupted run
        fresh_net, fresh_opt, fresh_gen = _resume_setup(c, c.seed + 50)  # a new process: other weights, new optimizer, other seed
        what = f"restore_state(state, model, optimizer, generator) with a checkpoint after {c.before} steps of {c.optimizer}"
        step = _call(what, fn, state, fresh_net, fresh_opt, fresh_gen)
        into = "(load into the objects you were given: a new one made inside your function is lost when it returns)"
        if not _same_tree(fresh_net.state_dict(), truth["model"]):
            raise CheckFailed(f"{what}: the model does not hold the saved weights: model.load_state_dict(state['model']) {into}")
        if not _same_tree(fresh_opt.state_dict(), truth["optimizer"]):
            empty = not fresh_opt.state_dict()["state"]
            raise CheckFailed(
                f"{what}: the optimizer " + ("still has no state" if empty else "does not hold the saved state")
                + f": optimizer.load_state_dict(state['optimizer']) {into}; without {_moments(c)} the next steps differ from the uninterrupted run"
            )
        if not torch.equal(fresh_gen.get_state(), truth["generator"]):
            raise CheckFailed(
                f"{what}: the generator is not where the saved one was: generator.set_state(state['generator']) {into}; "
                "otherwise the resumed run draws other batches"
            )
        if step is None:
            raise CheckFailed(f"{what} returned None: return state['step'], so that the loop knows where to go on from")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step != c.before:
            raise CheckFailed(f"{what} returned {step!r}: return state['step'], the int {c.before}")
        _train(fresh_net, fresh_opt, fresh_gen, c.after)
        for (name, a), b in zip(net.state_dict().items(), fresh_net.state_dict().values()):
            if not torch.equal(a, b):
                raise CheckFailed(f"{what}: after {c.after} more steps {name} differs from the uninterrupted run by up to {(a - b).abs().max().item():.2g}")
    return "training resumed from the checkpoint equals uninterrupted training bit for bit, with Adam and with SGD with momentum"
