"""Exercise checks for lesson 12 (scaling up): a checkpoint that resumes training exactly.

12.4 saving the training state ``save_state``, 12.5 resuming from it with a new learning rate ``restore_state``. Lessons
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
            raise CheckFailed(f"{what} moved the generator on (it drew numbers, or was re-seeded): saving only reads where its stream has got to")
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
                + {"model": "the model's state (its weights as tensors)", "optimizer": "the optimizer's state (its running averages and settings)",
                   "generator": "the generator's state (a tensor)"}.get(key, "tensors and numbers") + ", not the object"
            )
        for key, how in (("model", "the model's state dictionary"), ("optimizer", "the optimizer's state dictionary")):
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
                raise CheckFailed(f"{what}: state['optimizer'] holds no per-weight state: it should be the state of the optimizer you were given, which holds {_moments(c)}")
            raise CheckFailed(f"{what}: state[{key!r}] should be a copy of {how} at the moment of saving")
        rec = seen[f"{i}.saved.generator"]
        if rec["type"] in _INTS:
            raise CheckFailed(
                f"{what}: state['generator'] is the number {rec['value']}: a seed says where the random stream started, not "
                "how far it has got; store the stream's position, the generator's state (a tensor)"
            )
        if rec["type"] == "NoneType":
            raise CheckFailed(f"{what}: state['generator'] is None: store the generator's state, the stream's position; without it the resumed run draws other batches")
        if not (rec["type"] == "Tensor" and rec["dtype"] == "torch.uint8" and rec["shape"] == list(generator.shape) and torch.equal(rec["value"], generator)):
            raise CheckFailed(f"{what}: state['generator'] should be the generator's state at the moment of saving, the stream's position")
        rec = seen[f"{i}.saved.step"]
        if rec["type"] not in _INTS or rec["value"] != c.before:
            raise CheckFailed(f"{what}: state['step'] should be the int {c.before}, the step you were given, but is {_shown(rec)}")
    return "a snapshot of weights, optimizer, generator and step that later steps leave alone and weights_only loading accepts"


# --------------------------------------------------------------------------- 12.5 resuming with a new learning rate


@dataclass
class _RestartCase:
    optimizer: str  # "Adam" (one parameter group) or "SGD with momentum" (two: weights with weight decay, biases without)
    before: int  # steps before the checkpoint, at the old learning rate
    after: int  # steps after it, at the new one
    seed: int
    old_lr: float
    new_lr: float


_RESTART_CASES = [_RestartCase("Adam", 3, 3, 0, 0.02, 0.005), _RestartCase("SGD with momentum", 2, 4, 1, 0.05, 0.01)]


def _restart_setup(c: _RestartCase, seed: int) -> tuple[nn.Module, torch.optim.Optimizer, torch.Generator]:
    net = _tiny_net(seed, (3, 8, 1))
    if c.optimizer == "Adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(net.parameters(), lr=c.old_lr)
    else:
        weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
        opt = torch.optim.SGD([{"params": weights, "weight_decay": 1e-3}, {"params": biases}], lr=c.old_lr, momentum=0.9)
    return net, opt, torch.Generator().manual_seed(1000 + seed)


def _restart_what(c: _RestartCase) -> str:
    return (f"restore_state(state, model, optimizer, generator, {c.new_lr}) with a checkpoint after {c.before} steps of "
            f"{c.optimizer} at learning rate {c.old_lr}")


@_exercise("12.5", "resuming exactly")
def restore_state(fn: Callable[..., int], seen: dict) -> None:
    """fn(state, model, optimizer, generator, lr) -> int: loads the state into the objects given, with the learning rate
    lr from now on, returns state["step"]."""
    for i, c in enumerate(_RESTART_CASES):
        net, opt, gen = _restart_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        _, state = _round_trip(_snapshot(net, opt, gen, c.before))  # as a checkpoint file gives it back
        fresh_net, fresh_opt, fresh_gen = _restart_setup(c, c.seed + 50)  # a new process: other weights, new optimizer, other seed
        what = _restart_what(c)
        seen[f"{i}.step"] = observe(_call(what, fn, state, fresh_net, fresh_opt, fresh_gen, c.new_lr))
        seen[f"{i}.restored"] = _records(fresh_net, fresh_opt)  # what the objects given hold afterwards
        seen[f"{i}.generator"] = fresh_gen.get_state()
        _call(f"training on after {what}", _train, fresh_net, fresh_opt, fresh_gen, c.after)
        seen[f"{i}.resumed"] = {name: t.detach().clone() for name, t in fresh_net.state_dict().items()}


def _groups(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """An optimizer record's parameter groups, each as {setting: record}."""
    return [g["items"] for g in rec["items"]["param_groups"]["items"]]


def _same_setting(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two records of an optimizer setting: equal numbers (0 and 0.0 alike), or the same tree."""
    numbers = ("int", "float")
    if a["type"] in numbers and b["type"] in numbers:
        return a["value"] == b["value"]
    return _same(a, b)


def _judge_lr(what: str, c: _RestartCase, restored: dict[str, Any], truth: dict[str, Any]) -> None:
    """Every parameter group at the new learning rate, every other setting as the checkpoint left it."""
    lrs = [g["lr"].get("value") for g in _groups(restored)]
    if all(lr == c.old_lr for lr in lrs):
        raise CheckFailed(
            f"{what}: after resuming, the optimizer's learning rate is {c.old_lr}, not the {c.new_lr} the resumed run asked "
            f"for ({c.old_lr} is the rate the run trained at before its checkpoint)"
        )
    if any(lr != c.new_lr for lr in lrs):
        if any(lr == c.new_lr for lr in lrs):
            listed = ", ".join(f"group {k}: {lr}" for k, lr in enumerate(lrs))
            raise CheckFailed(
                f"{what}: the learning rate is {c.new_lr} in some parameter groups only ({listed}): this optimizer has "
                f"{len(lrs)} groups (weights with weight decay, biases without), and each holds its own learning rate"
            )
        raise CheckFailed(f"{what}: the optimizer's learning rate is {', '.join(map(str, sorted(set(lrs))))}, but the resumed run asked for {c.new_lr}")
    for k, (got, want) in enumerate(zip(_groups(restored), _groups(truth))):
        for name in ("momentum", "weight_decay", "betas", "eps"):
            if name in want and (name not in got or not _same_setting(got[name], want[name])):
                shown = _shown(got[name]) if name in got else "missing"
                raise CheckFailed(
                    f"{what}: parameter group {k}'s {name} is {shown}, the checkpoint's is {_shown(want[name])}: only the "
                    "learning rate changes on resuming, every other setting stays as the checkpoint saved it"
                )


@restore_state.judge
def _judge_restore_state(seen: Observed) -> str:
    for i, c in enumerate(_RESTART_CASES):
        net, opt, gen = _restart_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        truth, generator = _records(net, opt), gen.get_state()
        for group in opt.param_groups:  # the uninterrupted run changes its learning rate at the same step
            group["lr"] = c.new_lr
        _train(net, opt, gen, c.after)
        what = _restart_what(c)
        step = seen[f"{i}.step"]
        restored = seen[f"{i}.restored"]
        into = "(load into the objects you were given: a new one made inside your function is lost when it returns)"
        if not _same(restored["model"], truth["model"]):
            raise CheckFailed(f"{what}: the model does not hold the checkpoint's weights {into}")
        got_state, want_state = restored["optimizer"]["items"]["state"], truth["optimizer"]["items"]["state"]
        if not _same(got_state, want_state):
            empty = got_state["type"] == "dict" and got_state["length"] == 0
            raise CheckFailed(
                f"{what}: the optimizer " + (f"holds none of {_moments(c)}" if empty else f"does not hold the state the checkpoint saved ({_moments(c)})")
                + f" {into}; without them the next steps differ from the uninterrupted run, new learning rate or not"
            )
        _judge_lr(what, c, restored["optimizer"], truth["optimizer"])
        if not torch.equal(seen[f"{i}.generator"], generator):
            raise CheckFailed(
                f"{what}: the generator is not where the checkpoint's was: it must go on from the saved position of the "
                f"random stream {into}; otherwise the resumed run draws other batches"
            )
        if step["type"] == "NoneType":
            raise CheckFailed(f"{what} returned None: return the step the checkpoint was written at, so that the loop knows where to go on from")
        if step["type"] not in _INTS or step["value"] != c.before:
            raise CheckFailed(f"{what} returned {_shown(step)}, but the checkpoint was written after step {c.before}: return that step, as an int")
        resumed = seen[f"{i}.resumed"]
        for name, a in net.state_dict().items():
            b = resumed[name]
            if a.shape != b.shape or not _close(b, a):
                gap = (a - b).abs().max().item() if a.shape == b.shape else float("inf")
                raise CheckFailed(
                    f"{what}: after {c.after} more steps {name} differs by up to {gap:.2g} from the uninterrupted run that "
                    f"switched to learning rate {c.new_lr} at step {c.before}"
                )
    return ("training resumed at a new learning rate lands on the weights of an uninterrupted run that switched at the same step, "
            "with Adam and with SGD with momentum in two parameter groups")
