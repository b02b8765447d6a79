"""The inputs of lesson 16's checks (``flow``), rebuilt by probe and judge alike, their references and slips.

16.1: a recording velocity field that is linear in x with coefficients that change with t (so a slope
taken at the wrong time gives a different answer), step counts 3, 1, 2 and 7 (3 first: a step of
1/(steps - 1) then still runs, and its times say what it is), and Heun's method written here in float64
with the usual slips switched on one at a time. 16.2: the exact velocity field of a few data points,
computed stably in float64 (a log-sum-exp), and the same field written the usual wrong ways. 16.3: noise
and data batches, and the pairings learners make instead of the sorted one.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple

import torch

# --------------------------------------------------------------------------- 16.1 Heun's method

_STEPS_CASES = ((3, 4, 2), (1, 3, 2), (2, 5, 1), (7, 2, 3))  # (steps, B, D)
_MAX_CALLS = 10_000


def _a(t: float) -> float:
    return 1.0 - 3.0 * t * t  # the field's rate: it changes sign on the way, so every time matters


def _b(t: float) -> float:
    return 0.5 + t  # the field's drift, along _DIRECTION


def _direction(d: int) -> torch.Tensor:
    return torch.tensor([1.0, -0.5, 0.25][:d], dtype=torch.float64)


class _Field:
    """The check's velocity field v(x, t) = a(t) x + b(t) c for x (B, D); it records the time of every call."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape, self.times = shape, []  # times: plain floats, the probe's observation

    def __call__(self, x: Any, t: Any) -> torch.Tensor:
        if isinstance(t, torch.Tensor) and t.numel() == 1:
            t = t.item()
        if isinstance(t, bool) or not isinstance(t, numbers.Real):
            raise TypeError(f"velocity(x, t) takes the time t as one number (a Python float), but was given a {type(t).__name__}")
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"velocity(x, t) takes x as a torch.Tensor of shape {self.shape}, but was given a {type(x).__name__}")
        if tuple(x.shape) != self.shape:
            raise ValueError(f"velocity(x, t) takes x of shape {self.shape}, like x0, but was given shape {tuple(x.shape)}")
        if len(self.times) >= _MAX_CALLS:
            raise RuntimeError(f"velocity was called more than {_MAX_CALLS} times")
        self.times.append(float(t))
        c = _direction(self.shape[1]).to(x.dtype) if x.is_floating_point() else _direction(self.shape[1])
        return _a(float(t)) * x + _b(float(t)) * c


def _x0(case: int) -> torch.Tensor:
    steps, B, D = _STEPS_CASES[case]
    return torch.randn((B, D), generator=torch.Generator().manual_seed(160 + case))


def _v(x: torch.Tensor, t: float) -> torch.Tensor:
    return _a(t) * x + _b(t) * _direction(x.shape[1])


def _integrate(x0: torch.Tensor, steps: int, slip: str | None = None) -> torch.Tensor:
    """``steps`` steps of Heun's method from t = 0 to 1 in float64, or of a slip: "euler", "midpoint",
    "no_half" (the slopes added, not averaged), "before_last" (the state before the last step)."""
    x, dt = x0.double(), 1.0 / steps
    for i in range(steps if slip != "before_last" else steps - 1):
        t = i * dt
        k1 = _v(x, t)
        if slip == "euler":
            x = x + dt * k1
            continue
        if slip == "midpoint":
            x = x + dt * _v(x + dt / 2 * k1, t + dt / 2)
            continue
        k2 = _v(x + dt * k1, t + dt)
        x = x + dt * (k1 + k2) / (1 if slip == "no_half" else 2)
    return x


def _heun_times(steps: int) -> list[float]:
    dt = 1.0 / steps
    return [t for i in range(steps) for t in (i * dt, (i + 1) * dt)]


# --------------------------------------------------------------------------- 16.2 the exact velocity of a few points


class _PointsCase(NamedTuple):
    what: str  # how the message names it
    x: torch.Tensor  # (B, D) float32
    t: float
    points: torch.Tensor  # (M, D) float32
    hard: bool  # far from every point or t near 1: exponentials underflow there


def _on_paths(points: torch.Tensor, t: float, B: int, g: torch.Generator) -> torch.Tensor:
    """B points x_t = t a_i + (1 - t) z on the straight paths to random data points a_i."""
    pick = torch.randint(len(points), (B,), generator=g)
    return t * points[pick] + (1 - t) * torch.randn((B, points.shape[1]), generator=g)


def _points_cases() -> list[_PointsCase]:
    g = torch.Generator().manual_seed(16)
    three = torch.tensor([[-1.5, 0.5], [1.0, 1.5], [0.5, -1.5]])
    four = torch.tensor([[-2.0], [-0.5], [1.0], [2.5]])
    far = torch.tensor([[40.0, -35.0], [-50.0, 45.0], [60.0, 60.0]])
    return [
        _PointsCase("t = 0", torch.randn((5, 2), generator=g), 0.0, three, False),
        _PointsCase("t = 0.5", _on_paths(three, 0.5, 6, g), 0.5, three, False),
        _PointsCase("one data point (M = 1), t = 0.3", torch.randn((4, 2), generator=g), 0.3, three[1:2].clone(), False),
        _PointsCase("points on a line (D = 1), t = 0.7", _on_paths(four, 0.7, 5, g), 0.7, four, False),
        _PointsCase("x far from every data point, t = 0.5", far, 0.5, three, True),
        _PointsCase("t = 0.999", _on_paths(three, 0.999, 4, g), 0.999, three, True),
    ]


def _field(case: _PointsCase, slip: str | None = None) -> torch.Tensor:
    """The exact velocity (B, D) in float64, or a slip's: "var_1mt" (variance 1 - t), "no_2" (the 2 missing),
    "centre_a" (centred on a_i, not t a_i), "unnormalised", "sign", "no_divide" (no 1/(1 - t)), "argmax",
    "batch_softmax" (normalised over the batch)."""
    x, a, t = case.x.double(), case.points.double(), case.t
    centre = a if slip == "centre_a" else t * a  # (M, D)
    d2 = ((x[:, None, :] - centre[None]) ** 2).sum(-1)  # (B, M)
    var = (1 - t) if slip == "var_1mt" else (1 - t) ** 2
    logits = -d2 / (var if slip == "no_2" else 2 * var)
    if slip == "unnormalised":
        w = logits.exp()
    elif slip == "argmax":
        w = torch.nn.functional.one_hot(logits.argmax(1), len(a)).double()
    else:
        w = logits.softmax(0 if slip == "batch_softmax" else 1)
    toward = (x[:, None, :] - a[None]) if slip == "sign" else (a[None] - x[:, None, :])  # (B, M, D)
    v = (w[:, :, None] * toward).sum(1)
    return v if slip == "no_divide" else v / (1 - t)


FIELD_SLIPS = {
    "var_1mt": "the weights use a variance of 1 - t: x_t's spread around t a_i is (1 - t) times the noise's, so its variance "
               "is (1 - t) squared",
    "no_2": "the exponent lacks the 2 of a Gaussian's density, exp(-distance^2 / (2 variance)): your weights are too sharp",
    "centre_a": "the weights measure how far x is from each data point a_i itself: at time t the paths to a_i are centred "
                "on t a_i, where a straight path from the noise's centre, 0, to a_i stands at time t",
    "unnormalised": "the weights are not normalised: they are a posterior over the data points, so for each x they sum to 1",
    "sign": "your velocity points away from the data: at time t a path heads from x towards the data point it will reach",
    "no_divide": "the velocity lacks the division by 1 - t: the time left to reach a_i from x is 1 - t, so the speed is the "
                 "distance over that time",
    "argmax": "your velocity heads for the most likely data point only: each point pulls with its weight, so x between "
              "points feels all of them",
    "batch_softmax": "the weights were normalised over the batch (across the x's): normalise over the M data points, for each "
                     "x separately",
}


# --------------------------------------------------------------------------- 16.3 paths that do not cross


class _PairCase(NamedTuple):
    what: str
    x0: torch.Tensor  # (N,) noise
    x1: torch.Tensor  # (N,) data


def _pair_cases() -> list[_PairCase]:
    g = torch.Generator().manual_seed(163)
    up = torch.tensor([-1.2, -0.3, 0.4, 1.1, 2.0])
    return [
        _PairCase("a random batch of 8", torch.randn(8, generator=g), 2 * torch.randn(8, generator=g) + 1),
        _PairCase("noise and data already sorted", up.clone(), torch.tensor([-3.0, -1.0, 0.5, 2.5, 4.0])),
        _PairCase("noise in decreasing order", up.flip(0), torch.tensor([0.7, -2.0, 3.5, 1.5, -0.5])),
        _PairCase("one noise point (N = 1)", torch.tensor([0.3]), torch.tensor([-1.7])),
        _PairCase("a random batch of 12", torch.randn(12, generator=g), torch.randn(12, generator=g) - 2),
    ]


def _ranks(x: torch.Tensor) -> torch.Tensor:
    return x.argsort().argsort()


def _pairing(case: _PairCase, slip: str | None = None) -> torch.Tensor:
    """The sorted pairing's y (N,) float64, or a slip's: "sorted_x1" (x1 sorted, x0 ignored), "reverse", "unchanged"
    (x1 as it came), "positions" (sorted x1 taken at the positions that sort x0, not at their ranks)."""
    x0, x1 = case.x0.double(), case.x1.double()
    up = x1.sort().values
    if slip == "sorted_x1":
        return up
    if slip == "unchanged":
        return x1
    if slip == "reverse":
        return up.flip(0)[_ranks(x0)]
    if slip == "positions":
        return up[x0.argsort()]
    return up[_ranks(x0)]


PAIR_SLIPS = {
    "sorted_x1": "your y is x1 sorted whatever the order of x0: y[i] goes with x0[i], so it must be the data point of the "
                 "same rank as x0[i] among the noise",
    "reverse": "you paired the smallest noise with the largest data point, so every two paths cross: pair them in the "
               "same order",
    "unchanged": "you returned x1 in the order it came: that is the random pairing, whose paths cross",
    "positions": "your y puts the sorted data in the order of the positions that sort x0, which is not x0's order: y[i] "
                 "must be the data point whose rank among x1 is x0[i]'s rank among the noise",
}


def _crossing(x0: torch.Tensor, y: torch.Tensor) -> tuple[int, int] | None:
    """The first pair (i, j) whose straight paths x0 -> y cross (their order swaps), or None."""
    n = len(x0)
    for i in range(n):
        for j in range(i + 1, n):
            if float((x0[i] - x0[j]) * (y[i] - y[j])) < 0:
                return i, j
    return None


def _explains(outs: list[Any], want: Callable[[Any], torch.Tensor], slip: Callable[[Any], torch.Tensor], cases: list[Any],
              agree: Callable[[torch.Tensor, torch.Tensor], bool]) -> bool:
    """Does the slip give the learner's answer on every case where the learner's answer is wrong (and on at least one)?"""
    wrong = [k for k, case in enumerate(cases) if not agree(outs[k], want(case))]
    return bool(wrong) and all(agree(outs[k], slip(cases[k])) for k in wrong)
