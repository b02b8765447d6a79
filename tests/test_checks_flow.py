"""genai_course.checks.flow (lesson 16): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch

from genai_course import checks, flow
from genai_course.checks import flow as flow_checks
from genai_course.checks._flow_cases import _STEPS_CASES, _Field, _field, _integrate, _pair_cases, _pairing, _points_cases, _x0
from check_protocol import assert_named_mistake, assert_not_attempted, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- 16.1 Heun's method


def heun(*, steps_used=None, start_late=False, k2_at_t=False, k2_at_half=False, euler=False, unused_k2=False, no_half=False,
         dt_minus=False, in_place=False, before_last=False, tensor_t=False, per_example=False, stack=False, keep_x0=False):
    """heun_sample, right by default; each keyword makes it one of the usual wrong ways."""

    def heun_sample(velocity, x0, steps):
        n = steps_used or steps
        dt = 1.0 / (n - 1) if dt_minus else 1.0 / n
        x, states = x0, [x0]
        for i in range(n):
            t = (i + 1) * dt if start_late else i * dt
            tt = torch.full((x.shape[0],), t) if tensor_t else t
            if per_example:
                k1 = torch.cat([velocity(x[j:j + 1], t) for j in range(len(x))])
            else:
                k1 = velocity(x, tt)
            if euler:
                x = x + dt * k1
                continue
            if k2_at_half:
                x = x + dt * velocity(x + dt / 2 * k1, t + dt / 2)
                continue
            k2 = velocity(x + dt * k1, t if k2_at_t else t + dt)
            step = dt * k1 if unused_k2 else dt * (k1 + k2) / (1 if no_half else 2)
            if in_place:
                x += step
            else:
                x = x + step
            states.append(x)
        if before_last:
            return states[-2]
        if stack:
            return torch.stack(states)
        return x0 if keep_x0 else x

    return heun_sample


def heun_predictor_corrector(velocity, x0, steps):
    """Right, written another way: predict with Euler, correct with the slope at the prediction, time kept as a running sum."""
    x, t, dt = x0.clone(), 0.0, 1.0 / steps
    for _ in range(steps):
        k1 = velocity(x, t)
        predicted = x + dt * k1
        x = 0.5 * (x + predicted + dt * velocity(predicted, t + dt))
        t += dt
    return x


# --------------------------------------------------------------------------- 16.2 the exact velocity


def exact(*, slip=None, naive=False, edit=False, weights_out=False, uniform=False, no_broadcast=False):
    """exact_velocity, right by default (a log-sum-exp); ``slip`` is one of _flow_cases._field's, the keywords other mistakes."""

    def exact_velocity(x, t, points):
        if edit:
            points.mul_(t)
        centre = points if slip == "centre_a" else t * points
        if no_broadcast:
            d2 = ((x - centre) ** 2).sum(-1)[:, None]
        else:
            d2 = ((x[:, None, :] - centre[None]) ** 2).sum(-1)
        var = (1 - t) if slip == "var_1mt" else (1 - t) ** 2
        logits = -d2 / (var if slip == "no_2" else 2 * var)
        if naive:
            w = logits.exp() / logits.exp().sum(1, keepdim=True)
        elif uniform:
            w = torch.full_like(logits, 1 / logits.shape[1])
        elif slip == "unnormalised":
            w = logits.exp()
        elif slip == "argmax":
            w = torch.nn.functional.one_hot(logits.argmax(1), points.shape[0]).float()
        elif slip == "batch_softmax":
            w = (logits - logits.logsumexp(0, keepdim=True)).exp()
        else:
            w = (logits - logits.logsumexp(1, keepdim=True)).exp()
        if weights_out:
            return w
        toward = (x[:, None, :] - points[None]) if slip == "sign" else (points[None] - x[:, None, :])
        v = (w[:, :, None] * toward).sum(1)
        return v if slip == "no_divide" else v / (1 - t)

    return exact_velocity


def denoised_mean(x, t, points):
    """Right, written another way: the posterior mean of the data point, E[a | x], then the straight way there in the time left."""
    logits = -torch.cdist(x, t * points) ** 2 / (2 * (1 - t) ** 2)  # (B, M)
    mean = torch.softmax(logits, dim=1) @ points  # (B, D)
    return (mean - x) / (1 - t)


# --------------------------------------------------------------------------- 16.3 paths that do not cross


def uncross(*, slip=None, indices=False, x0_sorted=False, drop=False, edit=False, as_sort=False, as_list=False,
            column=False, duplicate=False):
    """uncross_1d, right by default (ranks); ``slip`` is one of _flow_cases._pairing's, the keywords other mistakes."""

    def uncross_1d(x0, x1):
        if indices:
            return x1.argsort()
        if x0_sorted:
            return x0.sort().values
        if as_sort:
            return x1.sort()
        if edit:
            x1[:] = x1.sort().values
            return x1[x0.argsort().argsort()]
        up = x1.sort().values
        if slip == "sorted_x1":
            y = up
        elif slip == "reverse":
            y = up.flip(0)[x0.argsort().argsort()]
        elif slip == "positions":
            y = up[x0.argsort()]
        elif slip == "unchanged":
            y = x1.clone()
        else:
            y = up[x0.argsort().argsort()]
        if duplicate and len(y) > 1:
            y = torch.cat([y[:1], y[:-1]])
        if drop:
            return y[:-1]
        if as_list:
            return y.tolist()
        return y[:, None] if column else y

    return uncross_1d


def uncross_by_hand(x0, x1):
    """Right, written another way: plain Python, each noise's rank counted."""
    values, data = x0.tolist(), sorted(x1.tolist())
    return torch.tensor([data[sum(v < u for v in values)] for u in values])


CORRECT = {
    "heun_sample": [heun(), heun_predictor_corrector],
    "exact_velocity": [exact(), denoised_mean],
    "uncross_1d": [uncross(), uncross_by_hand],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(flow_checks, {
        "heun_sample": "Exercise 16.1 (Heun's method for the flow's ODE)",
        "exact_velocity": "Exercise 16.2 (the exact velocity field of a few data points)",
        "uncross_1d": "Exercise 16.3 (straight paths that never cross, in 1D)",
    })
    assert list(CORRECT) == flow_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("name", list(CORRECT))
def test_unattempted_code_waits(name, capsys):
    assert_not_attempted(name, capsys)


def test_heuns_reference_converges_at_second_order_to_the_fields_closed_form():
    """The check's field dx/dt = a(t) x + b(t) c with a(t) = 1 - 3 t^2 has x(1) = x0 + c * integral of exp(t^3 - t) (0.5 + t)
    over [0, 1] (a's integral is t - t^3, 0 at t = 1); the check's float64 Heun approaches it, 4 times closer when steps double."""
    x0 = _x0(0).double()
    field = _Field(tuple(x0.shape))
    assert field(x0, 0.0).shape == x0.shape and field.times == [0.0]
    s = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    exact = x0 + torch.trapezoid(torch.exp(s**3 - s) * (0.5 + s), s) * torch.tensor([1.0, -0.5], dtype=torch.float64)
    errors = [(_integrate(x0, steps) - exact).abs().max().item() for steps in (16, 32, 64)]
    assert errors[2] < 1e-3
    assert 3.5 < errors[0] / errors[1] < 4.5 and 3.5 < errors[1] / errors[2] < 4.5
    assert {s for s, _, _ in _STEPS_CASES} == {1, 2, 3, 7}


def test_the_exact_field_is_the_single_points_straight_line_and_the_gaussian_field_in_the_limit():
    """M = 1: (a - x) / (1 - t) exactly; many points drawn from N(0, I): close to flow.gaussian_velocity with mean 0, std 1."""
    (one,) = [c for c in _points_cases() if c.points.shape[0] == 1]
    assert torch.allclose(_field(one), (one.points.double() - one.x.double()) / (1 - one.t))
    points = torch.randn((20000, 2), generator=torch.Generator().manual_seed(0))
    x = torch.tensor([[0.3, -0.2], [0.5, 0.4]])
    got = denoised_mean(x.double(), 0.5, points.double())
    assert torch.allclose(got, flow.gaussian_velocity(x.double(), 0.5), atol=0.05)


def test_the_pairing_cases_avoid_ties_and_the_reference_never_crosses():
    for case in _pair_cases():
        assert len(set(case.x0.tolist())) == len(case.x0) and len(set(case.x1.tolist())) == len(case.x1)
        y = _pairing(case)
        assert sorted(y.tolist()) == sorted(case.x1.double().tolist())
        assert ((case.x0.double()[:, None] - case.x0.double()[None]) * (y[:, None] - y[None]) >= 0).all()


# --------------------------------------------------------------------------- typical mistakes

MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    # 16.1: the step count, the times, Euler, midpoint, the average, dt, in place, the last state, shapes, t's type, the batch
    ("heun_sample", heun(steps_used=4), ["asked for 3 steps, velocity was called 8 times (Heun makes 2 calls a step)"]),
    ("heun_sample", heun(start_late=True), ["the first call to velocity was at t = 0.3333", "at t = 0"]),
    ("heun_sample", heun(k2_at_t=True), ["your second slope is taken at t, the start of the step", "t + dt"]),
    ("heun_sample", heun(k2_at_half=True), ["half way through each step", "that is the midpoint method"]),
    ("heun_sample", heun(euler=True), ["that is Euler's method", "asked for 3 steps, velocity was called 3 times"]),
    ("heun_sample", heun(unused_k2=True), ["that is Euler's method", "the second slope was computed but not used: your steps"]),
    ("heun_sample", heun(no_half=True), ["adds the two slopes instead of averaging them"]),
    ("heun_sample", heun(dt_minus=True), ["your steps are 0.5 long", "the last slope is taken at t = 1.5", "exactly to t = 1"]),
    ("heun_sample", heun(in_place=True), ["heun_sample changed the x0 you were given"]),
    ("heun_sample", heun(before_last=True), ["you returned the state before the last step"]),
    ("heun_sample", heun(stack=True), ["should have shape (4, 2), but has shape (4, 4, 2)", "return only the state at t = 1"]),
    ("heun_sample", heun(keep_x0=True), ["you returned x0 unchanged"]),
    ("heun_sample", heun(tensor_t=True), ["raised TypeError", "takes the time t as one number (a Python float)"]),
    ("heun_sample", heun(per_example=True), ["raised ValueError", "was given shape (1, 2)", "takes the whole batch at once"]),
    ("heun_sample", lambda velocity, x0, steps: [heun()(velocity, x0, steps)], ["should return a torch.Tensor, but returned list"]),
    # 16.2: the variance, the 2, the centre, normalising, underflow, the sign, 1 / (1 - t), argmax, the softmax's dim, edits, shapes
    ("exact_velocity", exact(slip="var_1mt"), ["the weights use a variance of 1 - t", "squared"]),
    ("exact_velocity", exact(slip="no_2"), ["lacks the 2", "too sharp"]),
    ("exact_velocity", exact(slip="centre_a"), ["from each data point a_i itself", "centred on t a_i"]),
    ("exact_velocity", exact(slip="unnormalised"), ["the weights are not normalised", "sum to 1"]),
    ("exact_velocity", exact(naive=True), ["NaN or infinite for x far from every data point", "subtract the largest one first"]),
    ("exact_velocity", exact(slip="sign"), ["points away from the data"]),
    ("exact_velocity", exact(slip="no_divide"), ["lacks the division by 1 - t", "wrong for t = 0.5 and 4 more cases"]),
    ("exact_velocity", exact(slip="argmax"), ["heads for the most likely data point only"]),
    ("exact_velocity", exact(slip="batch_softmax"), ["normalised over the batch", "for each x separately"]),
    ("exact_velocity", exact(edit=True), ["exact_velocity changed the points you were given"]),
    ("exact_velocity", exact(weights_out=True), ["should have shape (5, 2), but has shape (5, 3)"]),
    ("exact_velocity", exact(uniform=True), ["for t = 0.5, at x = ", "your velocity is", "expected"]),
    ("exact_velocity", exact(no_broadcast=True), ["raised RuntimeError", "a (B, M) table"]),
    # 16.3: sorted x1, positions, reversed, x0, the length, the order as it came, edits, the types and shapes, duplicates
    ("uncross_1d", uncross(slip="sorted_x1"), ["your y is x1 sorted whatever the order of x0", "cross"]),
    ("uncross_1d", uncross(indices=True), ["returned positions (whole numbers 0 to 7), not values"]),
    ("uncross_1d", uncross(slip="reverse"), ["you paired the smallest noise with the largest data point", "every two paths cross"]),
    ("uncross_1d", uncross(x0_sorted=True), ["returned the noise's values", "x1's values"]),
    ("uncross_1d", uncross(drop=True), ["returned 7 values for 8 noise points"]),
    ("uncross_1d", uncross(slip="unchanged"), ["you returned x1 in the order it came", "the random pairing"]),
    ("uncross_1d", uncross(slip="positions"), ["the positions that sort x0", "x0[i]'s rank among the noise"]),
    ("uncross_1d", uncross(edit=True), ["uncross_1d changed the x1 you were given"]),
    ("uncross_1d", uncross(as_sort=True), ["should return a torch.Tensor, but returned sort"]),
    ("uncross_1d", uncross(as_list=True), ["returned a list of 8", "one torch.Tensor of shape (8,)"]),
    ("uncross_1d", uncross(column=True), ["should have shape (8,), but has shape (8, 1)"]),
    ("uncross_1d", uncross(duplicate=True), ["is not a re-ordering of x1", "appears 2 times in it and 1 times in x1"]),
]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)

_CODE = ("softmax(", "logsumexp", "argsort", ".sort(", "(k1 + k2) / 2", "x + dt *", "1.0 / steps", "[:, None", "** 2).sum",
         "empty_like", "cdist")


@pytest.mark.parametrize("name, fn", [(m[0], m[1]) for m in MISTAKES], ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_the_messages_give_no_code(name, fn):
    """The messages say what is wrong in the learner's terms, never the line, the call or the formula that would fix it."""
    verdict = checks.REGISTRY[name].verdict(checks.REGISTRY[name].probe(fn), strict=True)
    assert verdict.status == "failed"
    assert not any(code in verdict.message for code in _CODE), verdict.message
