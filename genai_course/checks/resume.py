"""Exercise checks for lesson 12 (scaling up): a checkpoint that resumes training exactly.

12.4 saving the training state ``save_state``, 12.5 resuming from it ``restore_state``. Lessons
call them through ``genai_course.checks``: ``checks.save_state(fn)``. Each is a probe (runs the
learner's function, records what it saw: records of the state dicts, the generator's state as a
uint8 tensor) and a judge (from those observations to the verdict), see ``_protocol``.

The checks need only torch: the models are two-layer networks of a few units whose weights come
from a seeded generator (the global RNG is left alone), trained with Adam and with SGD with
momentum for a few steps before and after the checkpoint; when the learner's state or resumed
run differs, the message says which entry is wrong and why. The judge rebuilds the same runs
itself, and compares what the probe saw with them to float rounding (1e-5 relative).
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._nets import _tiny_net
from ._protocol import CheckFailed, Observed, _call, _exercise, _stop
from .observations import observe

__all__ = ["save_state", "restore_state"]


@dataclass
class _ResumeCase:
    optimizer: str  # "Adam" or "SGD with momentum"
    before: int  # steps before the checkpoint
    after: int  # steps after it
    seed: int


_RESUME_CASES = [_ResumeCase("Adam", 3, 3, 0), _ResumeCase("SGD with momentum", 2, 4, 1)]
_STATE_KEYS = ("model", "optimizer", "generator", "step")
_INTS = ("int", "int64", "int32", "int16", "int8", "uint8")


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


def _tree(x: Any) -> Any:
    """A state dict (OrderedDicts, dicts, lists, tuples of tensors and numbers) as plain dicts, lists and tuples,
    which ``observe`` records in full."""
    if isinstance(x, dict):
        return {k: _tree(v) for k, v in x.items()}
    if type(x) in (list, tuple):
        return type(x)(_tree(v) for v in x)
    return x


def _record(x: Any) -> dict[str, Any]:
    return observe(_tree(x))


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.is_floating_point() and b.is_floating_point():
        return torch.equal(a, b) or bool(((a - b).abs() <= 1e-5 * b.abs() + 1e-9).all())
    return torch.equal(a, b)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records hold the same tree (a list and a tuple alike; tensors of the same dtype and shape, to float rounding)."""
    kinds = {a["type"], b["type"]}
    if len(kinds) > 1 and kinds != {"list", "tuple"}:
        return False
    if a["type"] == "Tensor":
        return a["dtype"] == b["dtype"] and a["shape"] == b["shape"] and _close(a["value"], b["value"])
    if a["type"] in ("list", "tuple"):
        return a["length"] == b["length"] and len(a["items"]) == len(b["items"]) and all(map(_same, a["items"], b["items"]))
    if a["type"] == "dict":
        return a["length"] == b["length"] and a["items"].keys() == b["items"].keys() and all(_same(a["items"][k], b["items"][k]) for k in a["items"])
    return a.get("value") == b.get("value")


def _shown(rec: dict[str, Any]) -> str:
    """A record as the learner would see the value printed."""
    if rec["type"] == "Tensor":
        return repr(rec["value"].reshape(rec["shape"]))
    if "value" in rec:
        return repr(rec["value"])
    return "None" if rec["type"] == "NoneType" else f"a {rec['type']}"


def _snapshot(net: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, step: int) -> dict[str, Any]:
    return {"model": copy.deepcopy(net.state_dict()), "optimizer": copy.deepcopy(opt.state_dict()), "generator": gen.get_state(), "step": step}


def _records(net: nn.Module, opt: torch.optim.Optimizer) -> dict[str, dict[str, Any]]:
    return {"model": _record(net.state_dict()), "optimizer": _record(opt.state_dict())}


def _moments(c: _ResumeCase) -> str:
    return "Adam's running averages of the gradients" if c.optimizer == "Adam" else "the momentum buffers"


# --------------------------------------------------------------------------- 12.4 saving


def _round_trip(state: dict[str, Any]) -> tuple[list[str] | None, dict[str, Any] | None]:
    """The state as torch.save then torch.load(weights_only=True) give it back: (None, the state), or
    ([the first entry that cannot go, its class], None)."""
    for key, value in state.items():
        buffer = io.BytesIO()
        try:
            torch.save({key: value}, buffer)
            buffer.seek(0)
            torch.load(buffer, weights_only=True)
        except Exception:
            return [str(key), type(value).__name__], None
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return None, torch.load(buffer, weights_only=True)


def _save_what(c: _ResumeCase) -> str:
    return f"save_state(model, optimizer, generator, {c.before}) after {c.before} steps of {c.optimizer}"


@_exercise("12.4", "saving the training state")
def save_state(fn: Callable[..., dict[str, Any]], seen: dict) -> None:
    """fn(model, optimizer, generator, step) -> {"model", "optimizer", "generator", "step"}: a snapshot that torch.load(weights_only=True) reads."""
    for i, c in enumerate(_RESUME_CASES):
        net, opt, gen = _resume_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        what = _save_what(c)
        state = _call(what, fn, net, opt, gen, c.before)
        seen[f"{i}.generator_after"] = gen.get_state()  # what saving left of the generator, the model and the optimizer
        seen[f"{i}.after"] = _records(net, opt)
        seen[f"{i}.type"] = type(state).__name__ if not isinstance(state, dict) else None
        seen[f"{i}.keys"] = [k for k in dict.keys(state) if type(k) is str] if isinstance(state, dict) else []
        if seen[f"{i}.type"] is not None or any(key not in seen[f"{i}.keys"] for key in _STATE_KEYS):
            _stop()
        _train(net, opt, gen, c.after)  # training goes on after the checkpoint ...
        refused, saved = _call(f"torch.save of what {what} returned", _round_trip, state)  # ... and then the file is read back
        seen[f"{i}.refused"] = refused
        if saved is None:
            _stop()
        for key in _STATE_KEYS:
            seen[f"{i}.saved.{key}"] = _record(saved[key])


def _save_truth(c: _ResumeCase) -> tuple[dict[str, dict[str, Any]], torch.Tensor, dict[str, dict[str, Any]]]:
    """(records of the model's and the optimizer's state at the save, the generator's state then, the same records
    once training went on)."""
    net, opt, gen = _resume_setup(c, c.seed)
    _train(net, opt, gen, c.before)
    truth, generator = _records(net, opt), gen.get_state()
    _train(net, opt, gen, c.after)
    return truth, generator, _records(net, opt)


@save_state.judge
def _judge_save_state(seen: Observed) -> str:
    for i, c in enumerate(_RESUME_CASES):
        truth, generator, live = _save_truth(c)
        what = _save_what(c)
        if not torch.equal(seen[f"{i}.generator_after"], generator):
            raise CheckFailed(f"{what} moved the generator on (it drew numbers, or was re-seeded): only read it, generator.get_state()")
        after = seen[f"{i}.after"]
        if not _same(after["model"], truth["model"]) or not _same(after["optimizer"], truth["optimizer"]):
            raise CheckFailed(f"{what} changed the model or the optimizer: saving only reads them")
        if seen[f"{i}.type"] is not None:
            raise CheckFailed(f"{what} should return a dict with the entries {', '.join(map(repr, _STATE_KEYS))}, but returned a {seen[f'{i}.type']}")
        missing = [key for key in _STATE_KEYS if key not in seen[f"{i}.keys"]]
        if missing:
            why = {"optimizer": f"without {_moments(c)} the resumed run takes other steps",
                   "generator": "without the generator's position the resumed run draws other batches"}
            reasons = [why[key] for key in missing if key in why]
            raise CheckFailed(f"{what} returned a dict without {', '.join(map(repr, missing))}: it needs all of {', '.join(map(repr, _STATE_KEYS))}"
                              + (f" ({'; '.join(reasons)})" if reasons else ""))
        refused = seen[f"{i}.refused"]
        if refused is not None:
            key, kind = refused
            raise CheckFailed(
                f"{what}: state[{key!r}] is an object of class {kind}, which torch.load(weights_only=True) refuses to load (it accepts "
                "tensors, numbers, strings and dicts and lists of them, never objects whose loading could run code): store "
                + {"model": "model.state_dict()", "optimizer": "optimizer.state_dict()", "generator": "generator.get_state()"}.get(key, "tensors and numbers")
            )
        for key, how in (("model", "model.state_dict()"), ("optimizer", "optimizer.state_dict()")):
            rec = seen[f"{i}.saved.{key}"]
            if _same(rec, truth[key]):
                continue
            if _same(rec, live[key]):
                raise CheckFailed(
                    f"{what}: state[{key!r}] changed when training went on after the save: {how} holds references to the "
                    "live tensors, which every step updates in place; save a copy of it that goes all the way down to the tensors"
                )
            if rec["type"] == "NoneType":
                needs = "the weights" if key == "model" else _moments(c)
                raise CheckFailed(f"{what}: state[{key!r}] is None: store a copy of {how}; without {needs} the resumed run's steps differ from the uninterrupted run")
            inner = rec["items"].get("state") if rec["type"] == "dict" else None
            if key == "optimizer" and inner is not None and inner["type"] == "dict" and inner["length"] == 0:
                raise CheckFailed(f"{what}: state['optimizer'] holds no per-weight state: take optimizer.state_dict() after the steps, it holds {_moments(c)}")
            raise CheckFailed(f"{what}: state[{key!r}] should be a copy of {how} at the moment of saving")
        rec = seen[f"{i}.saved.generator"]
        if rec["type"] in _INTS:
            raise CheckFailed(
                f"{what}: state['generator'] is the number {rec['value']}: a seed says where the random stream started, not "
                "how far it has got; store generator.get_state()"
            )
        if rec["type"] == "NoneType":
            raise CheckFailed(f"{what}: state['generator'] is None: store generator.get_state(), the stream's position; without it the resumed run draws other batches")
        if not (rec["type"] == "Tensor" and rec["dtype"] == "torch.uint8" and rec["shape"] == list(generator.shape) and torch.equal(rec["value"], generator)):
            raise CheckFailed(f"{what}: state['generator'] should be generator.get_state() at the moment of saving, the stream's position")
        rec = seen[f"{i}.saved.step"]
        if rec["type"] not in _INTS or rec["value"] != c.before:
            raise CheckFailed(f"{what}: state['step'] should be the int {c.before}, the step you were given, but is {_shown(rec)}")
    return "a snapshot of weights, optimizer, generator and step that later steps leave alone and weights_only loading accepts"


# --------------------------------------------------------------------------- 12.5 restoring


def _restore_what(c: _ResumeCase) -> str:
    return f"restore_state(state, model, optimizer, generator) with a checkpoint after {c.before} steps of {c.optimizer}"


@_exercise("12.5", "resuming exactly")
def restore_state(fn: Callable[..., int], seen: dict) -> None:
    """fn(state, model, optimizer, generator) -> int: loads the state into the objects given, returns state["step"]."""
    for i, c in enumerate(_RESUME_CASES):
        net, opt, gen = _resume_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        _, state = _round_trip(_snapshot(net, opt, gen, c.before))  # as a checkpoint file gives it back
        fresh_net, fresh_opt, fresh_gen = _resume_setup(c, c.seed + 50)  # a new process: other weights, new optimizer, other seed
        what = _restore_what(c)
        seen[f"{i}.step"] = observe(_call(what, fn, state, fresh_net, fresh_opt, fresh_gen))
        seen[f"{i}.restored"] = _records(fresh_net, fresh_opt)  # what the objects given hold afterwards
        seen[f"{i}.generator"] = fresh_gen.get_state()
        _call(f"training on after {what}", _train, fresh_net, fresh_opt, fresh_gen, c.after)
        seen[f"{i}.resumed"] = {name: t.detach().clone() for name, t in fresh_net.state_dict().items()}


@restore_state.judge
def _judge_restore_state(seen: Observed) -> str:
    for i, c in enumerate(_RESUME_CASES):
        net, opt, gen = _resume_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        truth, generator = _records(net, opt), gen.get_state()
        _train(net, opt, gen, c.after)  # the uninterrupted run
        what = _restore_what(c)
        step = seen[f"{i}.step"]
        restored = seen[f"{i}.restored"]
        into = "(load into the objects you were given: a new one made inside your function is lost when it returns)"
        if not _same(restored["model"], truth["model"]):
            raise CheckFailed(f"{what}: the model does not hold the saved weights: load state['model'] into it {into}")
        if not _same(restored["optimizer"], truth["optimizer"]):
            empty = restored["optimizer"]["items"]["state"]["length"] == 0
            raise CheckFailed(
                f"{what}: the optimizer " + ("still has no state" if empty else "does not hold the saved state")
                + f": load state['optimizer'] into it {into}; without {_moments(c)} the next steps differ from the uninterrupted run"
            )
        if not torch.equal(seen[f"{i}.generator"], generator):
            raise CheckFailed(
                f"{what}: the generator is not where the saved one was: set it to state['generator'] {into}; "
                "otherwise the resumed run draws other batches"
            )
        if step["type"] == "NoneType":
            raise CheckFailed(f"{what} returned None: return the saved step, so that the loop knows where to go on from")
        if step["type"] not in _INTS or step["value"] != c.before:
            raise CheckFailed(f"{what} returned {_shown(step)}: return state['step'], the int {c.before}")
        resumed = seen[f"{i}.resumed"]
        for name, a in net.state_dict().items():
            b = resumed[name]
            if a.shape != b.shape or not _close(b, a):
                gap = (a - b).abs().max().item() if a.shape == b.shape else float("inf")
                raise CheckFailed(f"{what}: after {c.after} more steps {name} differs from the uninterrupted run by up to {gap:.2g}")
    return "training resumed from the checkpoint lands on the weights of uninterrupted training, with Adam and with SGD with momentum"
